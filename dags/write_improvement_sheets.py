""""Phiếu cải thiện chỉ số": each unit's XLSX for the latest months, written after the marts are published.

Runs when transform_warehouse publishes the marts. For the latest month with data and the one before, every unit
of today (its own figures) gets `$CHISO_HOME/phieu/<YYYY-MM>/<unit_code>.xlsx`; a sheet whose figures did not
change is left as it is. Reads the marts only, on a read-only connection. Older months: `chiso phieu write`;
the files: `chiso phieu list`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from chiso.assets import CONN_WAREHOUSE, MARTS_ASSET_URI


@dag(
    dag_id="write_improvement_sheets",
    schedule=[Asset(MARTS_ASSET_URI)],
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    tags=["chiso", "export"],
    doc_md=__doc__,
)
def write_improvement_sheets():
    @task
    def write_sheets() -> dict:
        from airflow.sdk import Connection

        from chiso.export.connections import ConnFields, warehouse_uri
        from chiso.improvement.runner import default_dir, write_months

        summary = write_months(warehouse_uri(ConnFields.of(Connection.get(CONN_WAREHOUSE))), default_dir())
        print(summary.describe())
        return summary.to_dict()

    write_sheets()


write_improvement_sheets()
