"""`chiso pipeline --start --end`: run extract → quality → transform → export for a window through the
running Airflow, wait, and fail naming any run that failed.

Only the extracts are triggered: transform_warehouse is scheduled on the raw assets and
export_national_reports on the marts asset, so the pipeline follows the runs those assets start — the
same path as the daily schedule — and triggers one itself only if none appears."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from chiso.airflow_client import TERMINAL, AirflowClient

# The national portal's published index (issue 13) is read beside the daily sources: the transform their assets
# start waits for a portal extract under way (its `await_portal` task), so the window's one transform reads it.
PORTAL_DAG = "extract_national_portal"
EXTRACT_DAGS = ("extract_one_stop_shop", "extract_edoc", "extract_esign", PORTAL_DAG)
TRANSFORM_DAG = "transform_warehouse"
EXPORT_DAG = "export_national_reports"
# How long to wait for an asset-triggered run to appear before triggering one.
APPEAR_TIMEOUT = 120


def _say(msg: str) -> None:
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None


def _assets_of(expression: dict | None) -> tuple[str, set[int]]:
    """("all" | "any", asset ids) of a DAG's asset schedule as the API gives it (`asset_expression`)."""
    if not expression:
        return "any", set()
    kind = "all" if "all" in expression else "any"
    ids: set[int] = set()
    todo = list(expression.get(kind, []))
    while todo:
        node = todo.pop()
        if "asset" in node:
            ids.add(node["asset"]["id"])
        else:
            todo += node.get("all", []) + node.get("any", [])
    return kind, ids


def _run_coming(client: AirflowClient, dag_id: str) -> bool:
    """Whether the asset events queued for the DAG will create a run. Events of some of an AssetAll schedule's
    assets only (one source extracted on its own, say) wait for the others: no run is coming from them, and waiting
    for them to drain would wait forever."""
    queued = {e["asset_id"] for e in client.get(f"/api/v2/dags/{dag_id}/assets/queuedEvents")["queued_events"]}
    if not queued:
        return False
    kind, ids = _assets_of(client.get(f"/api/v2/dags/{dag_id}/details").get("asset_expression"))
    return kind == "any" or not ids or ids <= queued


def events_landed(client: AirflowClient, runs: dict[str, str], since: datetime) -> datetime:
    """When the last asset event of these runs landed: a run of a DAG scheduled on those assets that was queued from
    then on reads everything they loaded. (A run queued earlier may have been started by stale events of another
    run, e.g. a backfill of one source, before ours were in.)"""
    landed = since
    for dag_id, run_id in runs.items():
        events = client.get("/api/v2/assets/events",
                            params={"source_dag_id": dag_id, "source_run_id": run_id, "limit": 100})["asset_events"]
        landed = max([landed, *(ts for e in events if (ts := _parse(e["timestamp"])))])
    return landed


def follow_downstream(client: AirflowClient, dag_id: str, since: datetime, conf: dict, *, timeout: float) -> list[dict]:
    """Wait for the runs of an asset-scheduled DAG that our extracts caused, and return those queued since `since`.

    Done when no run of the DAG is active, no queued asset events will create one (Airflow creates the next
    asset-triggered run only after the active one ends) and at least one run was queued since `since`. If none
    comes, trigger one."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    last_report = 0.0
    while time.monotonic() < deadline:
        runs = client.runs(dag_id, limit=20)
        ours = [r for r in runs if (_parse(r.get("queued_at")) or since) >= since]
        busy = any(r["state"] not in TERMINAL for r in runs) or _run_coming(client, dag_id)
        if not busy and ours:
            return ours
        if not busy:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > APPEAR_TIMEOUT:
                run_id = client.trigger(dag_id, conf, run_id=f"pipeline__{time.strftime('%Y%m%dT%H%M%S')}__{dag_id}")
                _say(f"{dag_id}: no asset-triggered run came; triggered {run_id}")
        else:
            quiet_since = None
        if time.monotonic() - last_report > 60:
            states = ", ".join(f"{r['dag_run_id']}={r['state']}" for r in runs if r["state"] not in TERMINAL)
            _say(f"{dag_id}: {states or 'waiting for its asset-triggered run'}")
            last_report = time.monotonic()
        time.sleep(5)
    raise TimeoutError(f"{dag_id} still running after {timeout:.0f}s")


def run_pipeline(client: AirflowClient, start: date, end: date, *, timeout: float = 3 * 3600) -> list[str]:
    """Returns the failures (empty = all succeeded)."""
    client.wait_for_dags([*EXTRACT_DAGS, TRANSFORM_DAG])
    available = set(client.dag_ids())
    conf = {"start": start.isoformat(), "end": end.isoformat()}
    stamp = time.strftime("%Y%m%dT%H%M%S")
    failures: list[str] = []
    since = datetime.now(UTC)  # downstream runs queued from now on follow from these extracts

    runs = {d: client.trigger(d, conf, run_id=f"pipeline__{stamp}__{d}") for d in EXTRACT_DAGS}
    _say(f"extract: triggered {', '.join(runs)} for {start} … {end}")
    t0 = time.monotonic()
    for i, (d, run_id) in enumerate(runs.items(), 1):
        state = client.wait(d, run_id, timeout=timeout)
        _say(f"extract {i}/{len(runs)}: {d} → {state} ({time.monotonic() - t0:.0f}s)")
        if state != "success":
            failures.append(f"{d} run {run_id} {state}; failed tasks: {client.failed_tasks(d, run_id)}")
    if failures:
        return failures

    # The transform that counts is one queued once our daily extracts' last asset event was in (the portal's
    # figures: that transform waited for the portal run, which was triggered with them).
    since = events_landed(client, {d: r for d, r in runs.items() if d != PORTAL_DAG}, since)
    downstream = [TRANSFORM_DAG] + ([EXPORT_DAG] if EXPORT_DAG in available else [])
    for dag_id in downstream:
        t0 = time.monotonic()
        done = follow_downstream(client, dag_id, since, conf, timeout=timeout)
        latest = max(done, key=lambda r: r.get("queued_at") or "")
        _say(f"{dag_id}: {len(done)} run(s), latest {latest['dag_run_id']} → {latest['state']} "
             f"({time.monotonic() - t0:.0f}s)")
        if latest["state"] != "success":
            failures.append(f"{dag_id} run {latest['dag_run_id']} {latest['state']}; "
                            f"failed tasks: {client.failed_tasks(dag_id, latest['dag_run_id'])}")
            return failures
    return failures
