"""Raw → staging → marts with dbt (via Cosmos, dbt in its own venv), guarded by GX before and after.

Runs once all raw tables of the daily sources have received new data (after the daily extracts), and when the
national portal's published index changed on its own (extract_national_portal starts it then: scheduling on that
asset too would let a portal-only run consume the daily sources' queued events). A portal extract still under
way when a run starts (they start together each day) is waited for, at most `portal_wait_minutes`, so one build
reads everything the day brought. A critical data-quality
failure on raw stops the build, so marts are never rebuilt from bad data, and fails the run (`fail_run`); the
next clean load recovers without manual steps. When raw received loads while the run was building, marts that
then disagree with raw are not published (check_marts is skipped, not failed): those loads have queued the next
run.

dbt runs as ONE `dbt build` (Cosmos' watcher mode: the `dbt_producer_watcher` task); every model and its tests
still appear as tasks, fed from that build's log; they start and, on success, end in the triggerer
(`chiso.dbt_watch`), so watching costs no worker. If the build dies, its retry does not start a second build:
each model whose result never came runs on its own when its task is retried. The build is a full refresh
(every incremental model rebuilt from raw) when the run asks (`{"full_refresh": true}`) or when an incremental
model's definition changed since its rows were built (`plan_refresh`, chiso.dbt_refresh: after an upgrade).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAll, Param, dag, task
from cosmos import DbtTaskGroup

from chiso.assets import CONN_WAREHOUSE, MARTS_ASSET_URI, RAW_TABLES, raw_asset_uri
from chiso.dbt_config import cosmos_configs
from chiso.dbt_watch import start_in_triggerer

project, profile, execution, render = cosmos_configs()
# One run once every raw table has new data (the three daily extracts), not one per source.
raw_assets = [Asset(raw_asset_uri(t)) for t in RAW_TABLES]


@dag(
    dag_id="transform_warehouse",
    schedule=AssetAll(*raw_assets),
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=1)},
    tags=["chiso", "transform"],
    params={
        "full_refresh": Param(False, type="boolean", description="Rebuild incremental models from raw"),
        "portal_wait_minutes": Param(20, type="integer", minimum=0,
                                     description="wait at most this long for a national portal extract under way"),
    },
    doc_md=__doc__,
)
def transform_warehouse():
    @task
    def await_portal(**context) -> None:
        from chiso.extract.dag_support import await_portal

        await_portal(context["ti"], 60 * int(context["params"]["portal_wait_minutes"]))

    @task
    def plan_refresh(**context) -> bool:
        from chiso.dbt_refresh import plan

        return plan(bool(context["params"]["full_refresh"]))

    @task
    def check_raw() -> None:
        from chiso.orchestration import check_layer

        check_layer("raw", CONN_WAREHOUSE)

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project,
        profile_config=profile,
        execution_config=execution,
        render_config=render,
        # a full refresh when asked, or when an incremental model's definition changed since its rows were built
        operator_args={"full_refresh": "{{ ti.xcom_pull(task_ids='plan_refresh') }}"},
        default_args={"retries": 1},
    )
    start_in_triggerer(dbt)

    @task
    def check_staging() -> None:
        from chiso.orchestration import check_layer

        check_layer("staging", CONN_WAREHOUSE)

    @task(outlets=[Asset(MARTS_ASSET_URI)])
    def check_marts() -> None:
        from chiso.orchestration import check_layer

        check_layer("marts", CONN_WAREHOUSE)

    @task
    def record_definitions() -> None:
        from chiso.dbt_refresh import record

        record()

    @task(trigger_rule="one_failed")
    def fail_run() -> None:
        # A failed raw check skips dbt (its model tasks are skipped, not failed), so the leaves alone would end
        # the run "successful"; this leaf makes the run fail as the operator expects (Airflow's watcher pattern).
        raise RuntimeError("Kiểm tra dữ liệu raw không đạt: kho không được dựng lại lượt này (xem task check_raw)")

    raw = check_raw()
    await_portal() >> raw
    raw >> plan_refresh() >> dbt
    staging = check_staging()
    dbt >> staging >> check_marts()
    staging >> record_definitions()
    raw >> fail_run()


transform_warehouse()
