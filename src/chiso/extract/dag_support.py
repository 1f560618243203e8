"""Glue between the extract DAGs and the extractors, kept out of the DAG files so they stay thin
and parse fast. Imports Airflow lazily: only called inside tasks."""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from chiso.assets import CONN_EDOC, CONN_ESIGN, CONN_ONE_STOP_SHOP, CONN_WAREHOUSE
from chiso.extract.common import DEFAULT_CHUNK_DAYS, DEFAULT_LOOKBACK_DAYS, SourceConn, as_date, scheduled_window
from chiso.extract.http import RetryPolicy

log = logging.getLogger(__name__)

SOURCE_CONNS = {"one_stop_shop": CONN_ONE_STOP_SHOP, "edoc": CONN_EDOC, "esign": CONN_ESIGN}


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
    start, end = resolve_window(params, as_date(logical) if logical else None)
    conn = SourceConn.from_airflow(_airflow_conn(SOURCE_CONNS[source]))
    uri = warehouse_uri_from_airflow(_airflow_conn(CONN_WAREHOUSE))
    run_id = context.get("run_id") or "airflow"
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
