"""Periodic reports to the national reporting system (Biểu 06 TTHC, Chỉ số CDS), exactly once.

Runs when the marts are rebuilt and every morning at 06:00 (Asia/Ho_Chi_Minh), so a report falls due
after its cut-off even without new data, and submissions left pending by a receiver outage resume.
Reports are the province's as it is now (across the 1/7/2025 reform): its committee valid on the last loaded day,
for the periods ending on or after that committee began, in the marts' current basis with today's identifiers.
Only complete periods are sent: every day loaded by every source (`marts.dim_periods.is_complete`).
Documents, keys, attempts and receipts live in `exports.*`; see `chiso exports list|show|resend`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from chiso.assets import CONN_NATIONAL, CONN_WAREHOUSE, MARTS_ASSET_URI

TZ = "Asia/Ho_Chi_Minh"


@dag(
    dag_id="export_national_reports",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone=TZ, run_immediately=timedelta(0)),
        assets=[Asset(MARTS_ASSET_URI)],
    ),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
    tags=["chiso", "export"],
    doc_md=__doc__,
)
def export_national_reports():
    @task
    def export(**context) -> dict:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowFailException

        from chiso.export.connections import ConnFields, receiver, warehouse_uri
        from chiso.export.runner import run_exports
        from chiso.settings import get_settings

        url, token = receiver(ConnFields.of(Connection.get(CONN_NATIONAL)))
        uri = warehouse_uri(ConnFields.of(Connection.get(CONN_WAREHOUSE)))
        summary = run_exports(
            uri,
            url,
            token,
            get_settings().home / "exports",
            today=pendulum.now(TZ).date(),
            run_id=context["run_id"],
        )
        print(summary.describe())
        if summary.failed or summary.blocked:
            # Refused documents (409/422) need a person, not a retry: fail without retrying.
            raise AirflowFailException(summary.describe())
        if not summary.ok:
            raise RuntimeError(summary.describe())  # pending after transient faults: the retry resumes them
        return summary.to_dict()

    export()


export_national_reports()
