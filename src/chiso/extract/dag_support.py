"""Glue between the extract DAGs and the extractors, kept out of the DAG files so they stay thin
and parse fast. Imports Airflow lazily: only called inside tasks."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from chiso.assets import CONN_EDOC, CONN_ESIGN, CONN_NATIONAL_PORTAL, CONN_ONE_STOP_SHOP, CONN_WAREHOUSE, RAW_TABLES
from chiso.extract.common import DEFAULT_CHUNK_DAYS, DEFAULT_LOOKBACK_DAYS, SourceConn, as_date, scheduled_window
from chiso.extract.http import RetryPolicy

log = logging.getLogger(__name__)

SOURCE_CONNS = {
    "one_stop_shop": CONN_ONE_STOP_SHOP,
    "edoc": CONN_EDOC,
    "esign": CONN_ESIGN,
    "national_portal": CONN_NATIONAL_PORTAL,
}


def default_lookback() -> int:
    return int(os.environ.get("CHISO_EXTRACT_LOOKBACK_DAYS") or DEFAULT_LOOKBACK_DAYS)


def resolve_window(params: dict[str, Any], logical: date | None) -> tuple[date, date]:
    """Manual params start/end (ISO dates) win; otherwise the previous day plus the lookback."""
    start, end = params.get("start"), params.get("end")
    if start or end:
        if not (start and end):
            raise ValueError("params 'start' and 'end' go together (ISO dates)")
        s, e = as_date(start), as_date(end)
        if e < s:
            raise ValueError(f"end {e} is before start {s}")
        return s, e
    if logical is None:
        raise ValueError("no logical date and no start/end params")
    lookback = params.get("lookback_days")
    return scheduled_window(logical, default_lookback() if lookback is None else int(lookback))


def _airflow_conn(conn_id: str) -> Any:
    from airflow.sdk import Connection

    return Connection.get(conn_id)


def run_extract(source: str, context: dict[str, Any]) -> dict[str, Any]:
    """Body of an extract task: window from params or schedule, connections via Airflow."""
    from chiso.extract.common import warehouse_uri_from_airflow

    params = dict(context.get("params") or {})
    logical = context.get("logical_date")
    if logical is None and context.get("dag_run") is not None:
        logical = getattr(context["dag_run"], "run_after", None)
    conn = SourceConn.from_airflow(_airflow_conn(SOURCE_CONNS[source]))
    uri = warehouse_uri_from_airflow(_airflow_conn(CONN_WAREHOUSE))
    run_id = context.get("run_id") or "airflow"
    if source == "national_portal":
        return _run_portal(conn, uri, params, as_date(logical) if logical else None, run_id)
    start, end = resolve_window(params, as_date(logical) if logical else None)
    chunk_days = int(params.get("chunk_days") or DEFAULT_CHUNK_DAYS)
    log.info("extract %s %s..%s (run %s)", source, start, end, run_id)
    if source == "esign":
        from chiso.extract import esign

        summary = esign.extract(conn, uri, start, end, run_id=run_id)
        for r in summary["rejected_files"]:
            log.error("esign %s: %s", r["status"], r["reason"])
        return summary
    timeout = float(conn.extra.get("timeout", 30))
    policy = RetryPolicy(timeout=timeout, max_attempts=int(conn.extra.get("max_attempts", 6)))
    if source == "one_stop_shop":
        from chiso.extract import one_stop_shop

        return one_stop_shop.extract(conn, uri, start, end, run_id=run_id, chunk_days=chunk_days, policy=policy)
    if source == "edoc":
        from chiso.extract import edoc

        return edoc.extract(conn, uri, start, end, run_id=run_id, chunk_days=chunk_days, policy=policy)
    raise ValueError(f"unknown source {source}")


def portal_periods(params: dict[str, Any], logical: date | None) -> list:
    """The portal periods a run reads: every month, quarter and year overlapping params start/end (a backfill),
    else those not yet final the day before the run."""
    from chiso.extract import national_portal

    if params.get("start") or params.get("end"):
        start, end = resolve_window(params, logical)
        return national_portal.periods_overlapping(start, end)
    if logical is None:
        raise ValueError("no logical date and no start/end params")
    return national_portal.scheduled_periods(logical)


def _run_portal(conn: SourceConn, uri: str, params: dict[str, Any], logical: date | None, run_id: str) -> dict:
    from chiso.extract import national_portal

    periods = portal_periods(params, logical)
    log.info("extract national_portal: %s (run %s)", ", ".join(p.label for p in periods), run_id)
    policy = RetryPolicy(
        timeout=float(conn.extra.get("timeout", 60)), max_attempts=int(conn.extra.get("max_attempts", 6))
    )
    return national_portal.extract(conn, uri, periods, run_id=run_id, policy=policy)


DAILY_EXTRACT_DAGS = tuple(f"extract_{s}" for s in dict.fromkeys(RAW_TABLES.values()))
TRANSFORM_DAG = "transform_warehouse"
PORTAL_DAG = "extract_national_portal"
AWAIT_PORTAL_TASK = "await_portal"  # transform_warehouse's first task
_WAITING = ["scheduled", "queued", "running", "up_for_retry", "deferred"]


def await_portal(ti: Any, timeout_s: float, *, poll_s: float = 5.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> float:
    """transform_warehouse's first step: while a portal extract is queued or running (the daily extracts and the
    portal start together), wait for it, so this build reads the figures it stores instead of a second build
    being started for them. Bounded: the portal is a national system, and its outage must not hold back the
    province's own marts (its figures then start the next transform). Returns the seconds waited."""
    t0 = clock()
    while ti.get_dr_count(PORTAL_DAG, states=["queued", "running"]):
        if clock() - t0 >= timeout_s:
            log.warning("national portal extract still running after %.0f s: building without it", timeout_s)
            break
        sleep(poll_s)
    waited = clock() - t0
    log.info("waited %.0f s for the national portal extract", waited)
    return waited


def portal_needs_refresh(summary: dict[str, Any], params: dict[str, Any], ti: Any) -> bool:
    """Whether the portal extract should start transform_warehouse: it stored something new, the run did not opt
    out (`refresh_warehouse`), and no transform that will read it is coming anyway — one queued and not yet
    started, one started that is still waiting for this run to end (`await_portal`), or the one the daily
    extracts under way will start when they end (if one of them fails, that day's transform waits for the next,
    with the portal's figures)."""
    totals = summary.get("totals") or {}
    if not (totals.get("rows_new_versions") or totals.get("rows_deleted")):
        log.info("national portal: nothing new stored; the reconciliation is up to date")
        return False
    if params.get("refresh_warehouse") is False:
        log.info("national portal: refresh_warehouse=false; the next transform reads the new figures")
        return False
    coming = (
        ti.get_dr_count(TRANSFORM_DAG, states=["queued"])
        + ti.get_ti_count(TRANSFORM_DAG, task_ids=[AWAIT_PORTAL_TASK], states=_WAITING)
        + sum(ti.get_dr_count(d, states=["queued", "running"]) for d in DAILY_EXTRACT_DAGS)
    )
    if coming:
        log.info("national portal: a transform is queued or waiting for this run, or the daily extracts are"
                 " running; it reads the new figures")
        return False
    return True
