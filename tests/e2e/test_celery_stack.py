"""CHISO_EXECUTOR=celery: the same DAGs on Airflow's CeleryExecutor, a real Redis broker and two Celery workers, each
with a loopback address of its own as if on its own machine (scale.md, issue 15).

A stack of its own (own ports and data folder, a 7-day window across the 1/7/2025 reform): the pipeline runs on the
workers; then the drill of scale.md — a worker's machine dies (SIGKILL of its process group and of the groups its
tasks made) while it runs the transform's dbt build: the run still succeeds, the producer's retry ran on the other
worker, and the marts equal the undisturbed run's (the pipeline's transform: a full rebuild of the same raw data
gives the same marts, which is what the killed run is). Last, `chiso down` leaves no process of the stack behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import Counter
from datetime import date
from pathlib import Path

import psutil
import pytest
from drill_support import audit_accounts_for_raw, report

from chiso.airflow_client import AirflowClient
from chiso.settings import REPO_ROOT
from chiso.stack import process

from .conftest import chiso
from .test_transform_recovery import DAG, marts_fingerprint

CELERY_HOME = Path(os.environ.get("CHISO_E2E_CELERY_HOME", REPO_ROOT / "var" / "e2e-celery-stack"))
CELERY_ENV = {
    "CHISO_HOME": str(CELERY_HOME),
    "CHISO_EXECUTOR": "celery",
    "CHISO_PG_PORT": "5541",
    "CHISO_OSS_PORT": "8811",
    "CHISO_EDOC_PORT": "8812",
    "CHISO_NATIONAL_PORT": "8813",
    "CHISO_PORTAL_PORT": "8814",
    "CHISO_AIRFLOW_PORT": "8190",
    "CHISO_AIRFLOW_WORKER_LOG_PORT": "8191",
    "CHISO_AIRFLOW_TRIGGER_LOG_PORT": "8192",
    "CHISO_AIRFLOW_HEALTH_PORT": "8193",
    "CHISO_SUPERSET_PORT": "8198",
    "CHISO_DOCS_PORT": "8199",
    "CHISO_REDIS_PORT": "6391",
    "CHISO_DEMO_START": "2025-06-28",
    "CHISO_DEMO_END": "2025-07-04",
    "CHISO_PROVINCE": "25",
}
WORKERS = ("celery_worker_1", "celery_worker_2")
PRODUCER = "dbt.dbt_producer_watcher"
PIPELINE_DAGS = ("extract_one_stop_shop", "extract_edoc", "extract_esign", "extract_national_portal", DAG)


def status() -> dict:
    return json.loads(chiso("status", "--json", check=False, env=CELERY_ENV).stdout)


@pytest.fixture(scope="module")
def celery_stack():
    # The pipeline must run on this start: forget a window an earlier (kept) stack loaded, keep its data.
    (CELERY_HOME / "run" / "demo_window_loaded").unlink(missing_ok=True)
    try:
        chiso("up", "--pipeline", env=CELERY_ENV)
        yield status()
    finally:
        if not os.environ.get("CHISO_E2E_KEEP"):
            chiso("down", check=False, env=CELERY_ENV)


@pytest.fixture(scope="module")
def celery_airflow(celery_stack) -> AirflowClient:
    a = celery_stack["airflow"]
    return AirflowClient(a["url"], a["user"], a["password"])


def test_pipeline_runs_on_the_celery_workers(celery_stack, celery_airflow):
    comps = celery_stack["components"]
    assert celery_stack["healthy"], {k: v["healthy"] for k, v in comps.items()}
    assert comps["redis"]["pid"] and comps["redis"]["port"] == 6391
    hosts = {comps[w]["task_host"] for w in WORKERS}
    assert len(hosts) == 2 and all(comps[w]["pid"] for w in WORKERS)
    assert (CELERY_HOME / "redis" / "appendonlydir").is_dir()  # the broker's data under CHISO_HOME
    # The broker's password is in no command line (`ps` shows those to every user).
    password = json.loads((CELERY_HOME / "secrets.json").read_text())["redis_password"]
    assert not [p.pid for p in psutil.process_iter(["cmdline"]) if password in " ".join(p.info["cmdline"] or [])]

    ran_on = {}
    for dag_id in PIPELINE_DAGS:
        run = celery_airflow.runs(dag_id, limit=1)[0]
        assert run["state"] == "success", (dag_id, celery_airflow.failed_tasks(dag_id, run["dag_run_id"]))
        for ti in celery_airflow.task_instances(dag_id, run["dag_run_id"]):
            # dbt's model sensors start and end in the triggerer (chiso.dbt_watch): no worker, no host to check
            if ti["state"] == "success" and (not ti["task_id"].startswith("dbt.") or ti["task_id"] == PRODUCER):
                ran_on[f"{dag_id}.{ti['task_id']}"] = ti["hostname"]
                assert ti["queue"] == "default", ti
    assert ran_on and set(ran_on.values()) == hosts, ran_on  # every task on a worker, and both workers used


def _this_stacks_dbt_build() -> psutil.Process | None:
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "build" in cmd and any(c.endswith("/dbt") for c in cmd):
            try:
                if p.environ().get("CHISO_PG_PORT") == CELERY_ENV["CHISO_PG_PORT"]:
                    return p
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return None


KILL_AT_SHARE = 0.8


def _built_share(airflow: AirflowClient, run_id: str) -> float:
    """Share of the run's dbt model and test tasks already ended (each ends when its result is in the build's log)."""
    states = [t["state"] for t in airflow.task_instances(DAG, run_id)
              if t["task_id"].startswith("dbt.") and not t["task_id"].startswith(PRODUCER)]
    return sum(s == "success" for s in states) / max(len(states), 1)


def _kill_machine(pgid: int) -> set[int]:
    """SIGKILL a worker's process group and, at the same instant, the groups its descendants made (Airflow's task
    supervisor puts each task, and so its dbt, in a group of its own): everything its machine ran dies at once."""
    groups = process.tree_groups({pgid})
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    return groups


def test_a_worker_killed_mid_transform_the_retry_runs_on_the_other_with_the_same_marts(celery_stack, celery_airflow):
    airflow, uri = celery_airflow, celery_stack["warehouse"]["marts_reader_uri"]
    assert airflow.runs(DAG, limit=1)[0]["state"] == "success"  # the pipeline's, undisturbed
    expected = marts_fingerprint(uri)

    run_id = airflow.trigger(DAG, {"full_refresh": True}, run_id=f"celery_killed__{time.strftime('%Y%m%dT%H%M%S')}")
    deadline = time.monotonic() + 600
    build = None
    while build is None:
        assert time.monotonic() < deadline, "the transform's dbt build never started"
        time.sleep(0.5)
        build = _this_stacks_dbt_build()
    producer = airflow.get(f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/{PRODUCER}")
    workers = {c["task_host"]: (name, c["pid"]) for name, c in status()["components"].items() if name in WORKERS}
    victim, pgid = workers[producer["hostname"]]
    # Late in the build, so few models are left to run one by one on the surviving worker (the lean part).
    while _built_share(airflow, run_id) < KILL_AT_SHARE:
        assert build.is_running(), "dbt build ended before the worker could be killed: lower KILL_AT_SHARE"
        time.sleep(1)
    assert build.is_running(), "dbt build ended before the worker could be killed: lower KILL_AT_SHARE"
    groups = _kill_machine(pgid)
    assert os.getpgid(build.pid) in groups  # the build ran under the killed worker
    build.wait(timeout=10)
    assert not status()["components"][victim]["healthy"]

    assert airflow.wait(DAG, run_id, timeout=1800) == "success", f"{run_id}: {airflow.failed_tasks(DAG, run_id)}"
    tries = airflow.get(f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/{PRODUCER}/tries")["task_instances"]
    by_try = {t["try_number"]: t["hostname"] for t in tries}
    survivor = next(host for host in workers if host != producer["hostname"])
    assert by_try == {1: producer["hostname"], 2: survivor}, tries  # retried, on the other worker
    assert marts_fingerprint(uri) == expected
    report("celery_worker_killed_during_transform",
           killed=f"{victim} (process group {pgid} and its tasks' groups, SIGKILL) at {KILL_AT_SHARE:.0%} of the dbt "
                  "build's models and tests",
           recovery=f"the producer retried on the other worker ({survivor}); the run ended success",
           outcome=f"marts equal to the undisturbed run's ({len(expected)} tables, row-for-row hash)")


# Before the stack's own window, so the backfill brings new rows; weekly chunks, so it is a run of many batches.
BACKFILL = {"start": "2025-01-01", "end": "2025-06-27", "chunk_days": 7}
EXTRACT = "extract_one_stop_shop"


def _backfill_audits(conn, run_id: str) -> list[tuple]:
    return conn.execute(
        "SELECT entity, status, rows_new_versions, rows_deleted, window_start FROM raw.load_audit WHERE run_id = %s",
        (run_id,)).fetchall()


def test_scheduler_killed_during_a_backfill_it_completes_and_nothing_is_loaded_twice(celery_stack, celery_airflow):
    """scale.md's drill: the scheduler SIGKILLed while a backfill's extract runs on a worker, then restarted by
    `chiso up`. The backfill ends success, each of its batches is audited once, every stored raw version is counted
    by exactly one succeeded batch, and the same backfill run again (undisturbed; the simulated clock stands still)
    finds nothing new: the killed run loaded everything, and nothing twice."""
    import psycopg

    airflow, uri = celery_airflow, celery_stack["warehouse"]["uri"]
    run_id = airflow.trigger(EXTRACT, BACKFILL, run_id=f"drill_scheduler__{time.strftime('%Y%m%dT%H%M%S')}")
    scheduler = status()["components"]["airflow"]["pids"]["scheduler"]
    assert scheduler and psutil.pid_exists(scheduler)
    # Mid-backfill: some batches of this run are in, the run is not over.
    deadline = time.monotonic() + 600
    with psycopg.connect(uri, autocommit=True) as conn:
        while sum(a[1] == "succeeded" for a in _backfill_audits(conn, run_id)) < 3:
            assert time.monotonic() < deadline, "the backfill's batches never started"
            assert airflow.run_state(EXTRACT, run_id) not in ("success", "failed"), "over before the kill"
            time.sleep(0.2)
        in_before_kill = len(_backfill_audits(conn, run_id))
    os.kill(scheduler, signal.SIGKILL)
    killed_at = time.monotonic()
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(scheduler).wait(timeout=10)
    assert status()["components"]["airflow"]["pids"]["scheduler"] is None  # the supervisor sees it gone
    time.sleep(20)  # a while without a scheduler: the worker's task goes on (its state goes to the API server)
    chiso("up", env=CELERY_ENV)  # respawns what is missing, the scheduler
    restarted = status()["components"]["airflow"]["pids"]["scheduler"]
    assert restarted and restarted != scheduler
    assert airflow.wait(EXTRACT, run_id, timeout=900) == "success", airflow.failed_tasks(EXTRACT, run_id)
    recovered_s = time.monotonic() - killed_at

    days = (date.fromisoformat(BACKFILL["end"]) - date.fromisoformat(BACKFILL["start"])).days + 1
    with psycopg.connect(uri, autocommit=True) as conn:
        audits = _backfill_audits(conn, run_id)
        assert audits and {a[1] for a in audits} == {"succeeded"}, audits
        # Every batch audited: the register and catalogue once, each week of the daily entities (a task retried
        # after the kill would audit its batches again, unchanged: counted below, nothing stored twice).
        chunks = -(-days // BACKFILL["chunk_days"])
        per_entity = Counter(a[0] for a in audits)
        weeks = {(a[0], a[4]) for a in audits if a[0] in ("dossier_daily", "petition_daily")}
        assert per_entity["units"] >= 1 and per_entity["procedures"] >= 1 and len(weeks) == 2 * chunks, per_entity
        assert in_before_kill < len(audits)  # the kill landed mid-backfill
        loaded_days = conn.execute(
            "SELECT count(DISTINCT ngay) FROM raw.oss_dossier_daily WHERE ngay BETWEEN %s AND %s",
            (BACKFILL["start"], BACKFILL["end"])).fetchone()[0]
        assert loaded_days == days
        audit_accounts_for_raw(conn)

    again = airflow.trigger(EXTRACT, BACKFILL, run_id=f"drill_scheduler_again__{time.strftime('%Y%m%dT%H%M%S')}")
    assert airflow.wait(EXTRACT, again, timeout=900) == "success", airflow.failed_tasks(EXTRACT, again)
    with psycopg.connect(uri, autocommit=True) as conn:
        rerun = _backfill_audits(conn, again)
    assert len(rerun) >= 2 * chunks + 2 and sum(a[2] + a[3] for a in rerun) == 0, rerun
    report("scheduler_killed_during_backfill",
           killed=f"the scheduler (pid {scheduler}, SIGKILL) after {in_before_kill} of the backfill's "
                  f"{len(audits)} batch audits ({days} days of the one-stop shop, weekly batches)",
           recovery=f"`chiso up` respawned it (pid {restarted}) 20 s later; the backfill ended success "
                    f"{recovered_s:.0f} s after the kill",
           outcome="every stored raw version counted once by a succeeded batch; the same backfill run again "
                   f"found nothing new ({len(rerun)} batches, 0 new versions)")


def test_zz_down_leaves_nothing_behind(celery_stack):
    """Last in this module: `chiso down`, then no process of this stack (its environment or command line names its
    data folder: Airflow, workers, their tasks, Redis, PostgreSQL) is left."""
    if os.environ.get("CHISO_E2E_KEEP"):
        pytest.skip("CHISO_E2E_KEEP: the stack stays up")
    chiso("down", env=CELERY_ENV)
    home = str(CELERY_HOME)
    left = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if home in " ".join(p.info["cmdline"] or []) or p.environ().get("CHISO_HOME") == home:
                left.append((p.pid, (p.info["cmdline"] or [])[:3]))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    assert not left, left
