"""Daily extract of the e-document system (daily document and work-file counts per unit) into the
append-only raw layer.

Scheduled at 01:00 Asia/Ho_Chi_Minh: reads the previous day plus a lookback (param `lookback_days`,
default 7, env CHISO_EXTRACT_LOOKBACK_DAYS) so late corrections land. A manual run with params
`start`/`end` (ISO dates) backfills that window, in chunks of `chunk_days`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, task

from chiso.assets import raw_assets_of

TZ = "Asia/Ho_Chi_Minh"


@dag(
    dag_id="extract_edoc",
    # No start_date, run_immediately=0: the first run is the next 01:00, not a catch-up of the latest day at deploy
    # time (Airflow would otherwise run it at once when deployed within 2.4 h after 01:00).
    schedule=CronTriggerTimetable("0 1 * * *", timezone=TZ, run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "start": Param(None, type=["null", "string"], format="date", description="backfill from (ISO date)"),
        "end": Param(None, type=["null", "string"], format="date", description="backfill to (ISO date)"),
        "lookback_days": Param(None, type=["null", "integer"], minimum=0, description="scheduled re-read window"),
        "chunk_days": Param(31, type="integer", minimum=1, description="days per batch in a backfill"),
    },
    tags=["chiso", "extract"],
    doc_md=__doc__,
)
def extract_edoc():
    @task(outlets=[Asset(uri) for uri in raw_assets_of("edoc")])
    def extract(**context) -> dict:
        from chiso.extract.dag_support import run_extract

        return run_extract("edoc", context)

    extract()


extract_edoc()
