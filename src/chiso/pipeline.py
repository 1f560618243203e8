"""`chiso pipeline --start --end`: run extract → quality → transform (→ export) for a window through the
running Airflow, wait, and fail naming any run that failed."""

from __future__ import annotations

import time
from datetime import date

from chiso.airflow_client import AirflowClient

EXTRACT_DAGS = ("extract_one_stop_shop", "extract_edoc", "extract_esign")
TRANSFORM_DAG = "transform_warehouse"
EXPORT_DAG = "export_national_reports"


def _say(msg: str) -> None:
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_pipeline(client: AirflowClient, start: date, end: date, *, timeout: float = 3 * 3600) -> list[str]:
    """Returns the failures (empty = all succeeded)."""
    available = set(client.dag_ids())
    extract = [d for d in EXTRACT_DAGS if d in available]
    client.wait_for_dags([*extract, TRANSFORM_DAG] if extract else [EXTRACT_DAGS[0], TRANSFORM_DAG])
    available = set(client.dag_ids())
    extract = [d for d in EXTRACT_DAGS if d in available]
    stamp = time.strftime("%Y%m%dT%H%M%S")
    conf = {"start": start.isoformat(), "end": end.isoformat()}
    failures: list[str] = []

    def stage(dag_ids: list[str], label: str) -> None:
        runs = {d: client.trigger(d, conf, run_id=f"pipeline__{stamp}__{d}") for d in dag_ids}
        _say(f"{label}: triggered {', '.join(dag_ids)} for {start} … {end}")
        t0 = time.monotonic()
        for i, (d, run_id) in enumerate(runs.items(), 1):
            state = client.wait(d, run_id, timeout=timeout)
            elapsed = time.monotonic() - t0
            _say(f"{label} {i}/{len(runs)}: {d} → {state} ({elapsed:.0f}s)")
            if state != "success":
                failures.append(f"{d} run {run_id} {state}; failed tasks: {client.failed_tasks(d, run_id)}")

    stage(extract, "extract")
    if failures:
        return failures
    stage([TRANSFORM_DAG], "transform")
    if failures:
        return failures
    if EXPORT_DAG in available:
        stage([EXPORT_DAG], "export")
    return failures
