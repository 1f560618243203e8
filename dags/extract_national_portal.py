"""Daily read of the national public-service portal's published Decision 766 index (sources.md §5) into the
append-only raw layer, to reconcile with the warehouse's own computation (marts.rpt_portal_reconciliation).

Scheduled at 01:00 Asia/Ho_Chi_Minh, with the other extracts: reads the periods the portal may still recompute —
the month, quarter and year of the day before the run and the one before each. A manual run with params
`start`/`end` (ISO dates) reads every month, quarter and year overlapping that window. A period is stored whole
(its six groups) or not at all; identical figures add nothing, a recomputed period adds a new version.

When new figures were stored, `refresh_warehouse` starts transform_warehouse, so a change on the portal alone
refreshes the reconciliation — unless a transform that will read them is coming anyway (one queued, or the daily
extracts under way) or the run says `refresh_warehouse: false`. transform_warehouse is not scheduled on this
asset: an asset-triggered run would consume the daily sources' queued events with it.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, task

from chiso.assets import raw_assets_of

TZ = "Asia/Ho_Chi_Minh"


@dag(
    dag_id="extract_national_portal",
    # No start_date, run_immediately=0: the first run is the next 01:00, not a catch-up of the latest day at deploy
    # time (Airflow would otherwise run it at once when deployed within 2.4 h after 01:00).
    schedule=CronTriggerTimetable("0 1 * * *", timezone=TZ, run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    params={
        "start": Param(None, type=["null", "string"], format="date", description="backfill from (ISO date)"),
        "end": Param(None, type=["null", "string"], format="date", description="backfill to (ISO date)"),
        "refresh_warehouse": Param(True, type="boolean", description="start transform_warehouse on new figures"),
    },
    tags=["chiso", "extract"],
    doc_md=__doc__,
)
def extract_national_portal():
    @task(outlets=[Asset(uri) for uri in raw_assets_of("national_portal")])
    def extract(**context) -> dict:
        from chiso.extract.dag_support import run_extract

        return run_extract("national_portal", context)

    @task.short_circuit
    def new_figures(summary: dict, **context) -> bool:
        from chiso.extract.dag_support import portal_needs_refresh

        return portal_needs_refresh(summary, dict(context.get("params") or {}), context["ti"])

    refresh = TriggerDagRunOperator(task_id="refresh_warehouse", trigger_dag_id="transform_warehouse")
    new_figures(extract()) >> refresh


extract_national_portal()
