"""Daily read of the e-signature report drop folder into the append-only raw layer.

Scheduled at 01:00 Asia/Ho_Chi_Minh over the previous day plus a lookback (late files), reading only
files with a `.done` marker and only contents not read before (raw.esign_files, by sha256). A manual
run with params `start`/`end` (ISO dates) reads that window. Unreadable files are recorded and
quarantined; the other files still load.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, task

from chiso.assets import raw_assets_of

TZ = "Asia/Ho_Chi_Minh"


@dag(
    dag_id="extract_esign",
    # No start_date, run_immediately=0: the first run is the next 01:00, not a catch-up of the latest day at deploy
    # time (Airflow would otherwise run it at once when deployed within 2.4 h after 01:00).
    schedule=CronTriggerTimetable("0 1 * * *", timezone=TZ, run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "start": Param(None, type=["null", "string"], format="date", description="read files from (ISO date)"),
        "end": Param(None, type=["null", "string"], format="date", description="read files to (ISO date)"),
        "lookback_days": Param(None, type=["null", "integer"], minimum=0, description="scheduled re-read window"),
    },
    tags=["chiso", "extract"],
    doc_md=__doc__,
)
def extract_esign():
    @task(outlets=[Asset(uri) for uri in raw_assets_of("esign")])
    def extract(**context) -> dict:
        from chiso.extract.dag_support import run_extract

        return run_extract("esign", context)

    extract()


extract_esign()
