"""The walking skeleton through the real stack: Airflow runs, marts, Superset, browser, stop/start."""

from __future__ import annotations

import json
import time

import psycopg

from chiso.pipeline import EXPORT_DAG, EXTRACT_DAGS, TRANSFORM_DAG
from chiso.stack import process

from .conftest import E2E_END, E2E_HOME, E2E_START, chiso


def test_status_reports_every_component_healthy(live_stack):
    assert live_stack["healthy"], live_stack["components"]
    assert set(live_stack["components"]) >= {"postgres", "simulator", "airflow", "superset"}
    for key in ("url", "user", "password"):
        assert live_stack["airflow"][key]
    for key in ("url", "user", "password", "viewer_user", "viewer_password"):
        assert live_stack["superset"][key]


# What `status` may show (the operator's logins: the UIs and the read-only marts URI); every other secret stays in
# the secrets file (scale.md, Security).
STATUS_SECRETS = {"airflow_admin", "superset_admin", "superset_viewer", "pg_loader", "pg_reader"}


def test_no_secret_in_status_or_logs(live_stack):
    """`status` shows no password of a writing role; no generated secret is in any log of the stack, Airflow's task
    logs (extracts, loads, checks, dbt, exports of the pipeline run) included."""
    secrets = json.loads((E2E_HOME / "secrets.json").read_text())
    status = json.dumps(live_stack)
    assert {name for name, value in secrets.items() if value in status} == STATUS_SECRETS
    assert live_stack["warehouse"]["uri"].startswith(f"postgresql://chiso_loader:{secrets['pg_loader']}@")
    logs = [p for p in (E2E_HOME / "logs").rglob("*") if p.is_file()]
    task_logs = [p for p in logs if "dag_id=" in str(p)]
    assert len(task_logs) > 20, "no Airflow task log to look into"
    leaks = {}
    for path in logs:
        text = path.read_text(errors="replace")
        if found := sorted(name for name, value in secrets.items() if value in text):
            leaks[str(path.relative_to(E2E_HOME))] = found
    assert not leaks, leaks


def test_airflow_lists_dags_without_import_errors(airflow):
    assert airflow.import_errors() == []
    assert {*EXTRACT_DAGS, TRANSFORM_DAG} <= set(airflow.dag_ids())


def test_pipeline_runs_succeeded(airflow):
    """The pipeline's extract runs, and the transform/export runs their assets triggered, all succeeded
    (runs other tests trigger on purpose, e.g. a quality failure, are not the pipeline's)."""
    for dag_id in EXTRACT_DAGS:
        runs = [r for r in airflow.runs(dag_id) if r["dag_run_id"].startswith("pipeline__")]
        assert runs, f"no pipeline run of {dag_id}"
        assert all(r["state"] == "success" for r in runs), [(r["dag_run_id"], r["state"]) for r in runs]
    for dag_id in (TRANSFORM_DAG, EXPORT_DAG):
        runs = [r for r in airflow.runs(dag_id) if r["dag_run_id"].startswith(("asset_triggered__", "pipeline__"))]
        assert runs, f"no run of {dag_id} followed the extracts"
        # Earlier tests' transform runs emit the marts asset too, so an export run may still be going: let it end.
        states = [(r["dag_run_id"], r["state"] if r["state"] in ("success", "failed")
                   else airflow.wait(dag_id, r["dag_run_id"], timeout=1800)) for r in runs]
        assert all(state == "success" for _, state in states), states


def test_marts_have_rows_for_the_window(live_stack):
    with psycopg.connect(live_stack["warehouse"]["marts_reader_uri"]) as conn:
        n, first, last = conn.execute(
            "SELECT count(*), min(period_start), max(period_end) FROM marts.fct_indicator_values "
            "WHERE indicator_code = 'QD766.TDGQ.ON_TIME' AND period_type = 'month'"
        ).fetchone()
    assert n > 0
    assert str(first) == E2E_START[:8] + "01"
    assert str(last) >= E2E_END[:8] + "01"


def test_zz_stop_leaves_no_process_and_restart_is_fast(live_stack):
    """Last in this module (pytest keeps file order): stop, look for leftovers, start again warm."""
    pids = [live_stack["components"]["postgres"]["pid"], live_stack["components"]["superset"]["pid"],
            live_stack["components"]["simulator"]["pid"], *live_stack["components"]["airflow"]["pids"].values()]
    chiso("down")
    time.sleep(1)
    alive = [p for p in pids if p and process.pid_alive(p)]
    assert not alive, f"still running after down: {alive}"
    leftovers = [p for p in pids if p and process.group_members(p)]
    assert not leftovers, f"process groups left behind: {leftovers}"
    t0 = time.monotonic()
    chiso("up", "--pipeline")
    warm = time.monotonic() - t0
    assert chiso("status", "--json", check=False).returncode == 0
    print(f"warm start: {warm:.1f}s")
    assert warm < 120, f"warm start took {warm:.0f}s"
