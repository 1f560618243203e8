"""A dbt build killed mid-run: the transform still succeeds and the marts equal an undisturbed run's.

The transform runs dbt as one `dbt build` (Cosmos' watcher producer). When that process dies, the producer's
retry does not start a second build; every model and test whose result never came runs on its own, after its
parents (chiso.dbt_watch). Both runs rebuild everything (`full_refresh`), so equal marts mean equal work."""

from __future__ import annotations

import os
import signal
import time

import psutil
import psycopg
import pytest

from .conftest import E2E_ENV

DAG = "transform_warehouse"


def marts_fingerprint(uri: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent hash of every marts table (the refresh timestamp left out)."""
    out = {}
    with psycopg.connect(uri) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "AND table_type = 'BASE TABLE' ORDER BY 1")]
        for t in tables:
            cols = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
                "AND table_name = %s AND column_name <> '_refreshed_at' ORDER BY ordinal_position", (t,))]
            out[t] = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f"FROM (SELECT {', '.join(cols)} FROM marts.{t}) x").fetchone()
    return out


def this_stacks_dbt_build() -> psutil.Process | None:
    """The `dbt build` process of the e2e stack (not of another stack on this machine)."""
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "build" in cmd and any(c.endswith("/dbt") for c in cmd):
            try:
                if p.environ().get("CHISO_PG_PORT") == E2E_ENV["CHISO_PG_PORT"]:
                    return p
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return None


def run_transform(airflow, tag: str, kill_after: float | None = None) -> tuple[str, str]:
    run_id = airflow.trigger(DAG, {"full_refresh": True}, run_id=f"e2e_{tag}__{time.strftime('%Y%m%dT%H%M%S')}")
    if kill_after is not None:
        deadline = time.monotonic() + 600
        proc = None
        while proc is None and time.monotonic() < deadline:
            proc = this_stacks_dbt_build()
            time.sleep(0.5)
        assert proc, "the transform's dbt build never started"
        time.sleep(kill_after)
        assert proc.is_running(), "dbt build ended before it could be killed: kill earlier"
        os.kill(proc.pid, signal.SIGKILL)
    return run_id, airflow.wait(DAG, run_id, timeout=1800)


@pytest.mark.e2e
def test_killed_dbt_build_is_recovered_with_the_same_marts(live_stack, airflow):
    uri = live_stack["warehouse"]["marts_reader_uri"]
    run_id, state = run_transform(airflow, "undisturbed")
    assert state == "success", airflow.failed_tasks(DAG, run_id)
    # The UI still shows every model and its tests as a task of its own, in the state dbt gave it.
    tis = airflow.task_instances(DAG, run_id)
    models = {t["task_id"]: t["state"] for t in tis
              if t["task_id"].startswith("dbt.") and "producer" not in t["task_id"]}
    assert sum(k.endswith(("run", ".seed")) for k in models) >= 30 and any(k.endswith(".test") for k in models)
    assert set(models.values()) == {"success"}, models
    expected = marts_fingerprint(uri)

    run_id, state = run_transform(airflow, "killed", kill_after=8)
    assert state == "success", f"{run_id}: {airflow.failed_tasks(DAG, run_id)}"
    producer = airflow.get(f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/dbt.dbt_producer_watcher")
    assert producer["try_number"] == 2 and producer["state"] == "skipped", producer  # retried, no second build
    assert marts_fingerprint(uri) == expected
