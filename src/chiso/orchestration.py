"""Task bodies shared by the DAGs, so DAG files stay declarations."""

from __future__ import annotations

import logging
import os
from datetime import date, timedelta

from chiso.warehouse.connections import build_uri

log = logging.getLogger(__name__)

# Window checked when a run carries none (scheduled runs): the daily extract's lookback.
DEFAULT_CHECK_DAYS = 8


def warehouse_uri(conn_id: str) -> str:
    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(conn_id)
    return build_uri(c.host, c.port or 5432, c.schema, c.login, c.password)


def transformer_uri() -> str:
    """dbt's role (reads staging, which the loader cannot), from the same variables the dbt profile reads."""
    e = os.environ
    return build_uri(
        e.get("CHISO_PG_HOST", "127.0.0.1"),
        e.get("CHISO_PG_PORT", "5432"),
        e.get("CHISO_PG_DB", "chiso"),
        e.get("CHISO_DBT_USER", "chiso_transformer"),
        e["CHISO_DBT_PASSWORD"],
    )


def run_window(conf: dict | None, uri: str | None = None, today: date | None = None) -> tuple[date, date]:
    """The dates a run is about: its conf's start/end (manual backfill); else every window loaded since
    the last raw check (what the triggering extracts brought); else the recent lookback."""
    conf = conf or {}
    if conf.get("start") and conf.get("end"):
        return date.fromisoformat(conf["start"]), date.fromisoformat(conf["end"])
    if uri:
        import psycopg

        with psycopg.connect(uri) as conn:
            lo, hi = conn.execute(
                """SELECT min(window_start), max(window_end) FROM raw.load_audit
                   WHERE status = 'succeeded' AND window_start IS NOT NULL
                     AND finished_at > coalesce((SELECT max(finished_at) FROM quality.validation_runs
                                                 WHERE layer = 'raw'), '-infinity')"""
            ).fetchone()
        if lo and hi:
            return lo, hi
    end = (today or date.today()) - timedelta(days=1)
    return end - timedelta(days=DEFAULT_CHECK_DAYS - 1), end


def suites_of(layer: str) -> list[str]:
    from chiso.quality import list_suites

    return [s for s in list_suites() if s == layer or s.startswith(f"{layer}_")]


def only_raw_comparisons_failed(outcomes) -> bool:
    """Every critical failure is a check comparing marts with raw (and there is at least one)."""
    from chiso.quality.config import load_suite

    failed = [(o.suite, r.name) for o in outcomes for r in o.critical_failures]
    specs = {suite: load_suite(suite) for suite, _ in failed}
    return bool(failed) and all(specs[suite].reads_raw(name) for suite, name in failed)


def superseded_by_new_loads(outcomes, uri: str, run_started) -> str | None:
    """Marts built while raw kept loading fail the checks that compare them with raw, yet they are stale, not
    wrong: those loads have queued the next transform, which rebuilds and checks again. Returns the reason to
    skip publishing (in Vietnamese, for the run's log), or None when the failure must fail the run."""
    if not only_raw_comparisons_failed(outcomes):
        return None
    import psycopg

    with psycopg.connect(uri) as conn:
        loads = conn.execute(
            "SELECT source, entity, max(finished_at) FROM raw.load_audit "
            "WHERE status = 'succeeded' AND finished_at > %s GROUP BY source, entity ORDER BY 1, 2",
            (run_started,),
        ).fetchall()
    if not loads:
        return None
    names = ", ".join(f"{s}.{e} (xong lúc {t:%H:%M:%S})" for s, e, t in loads)
    return (
        f"Marts chưa khớp với raw vì raw đã nhận dữ liệu mới trong lúc lần chạy này đang tính ({names}). "
        "Marts của lần này không được công bố; lần chạy transform kế tiếp sẽ tính lại và kiểm tra lại."
    )


def check_layer(layer: str, conn_id: str) -> None:
    """Run every GX suite of a layer; raise (failing the task, so nothing downstream runs) on a critical failure."""
    from airflow.sdk import get_current_context

    from chiso.quality import QualityGateError, validate_many

    ctx = get_current_context()
    uri = warehouse_uri(conn_id)
    window = run_window(ctx["dag_run"].conf, uri) if layer == "raw" else None
    read_uri = transformer_uri() if layer == "staging" else None
    failures = []
    outcomes = validate_many(
        suites_of(layer), warehouse_uri=uri, run_id=ctx["run_id"], window=window, read_uri=read_uri
    )
    for outcome in outcomes:
        log.info("quality %s: %s", outcome.suite, outcome.summary_vi())
        if outcome.critical_failures:
            failures.append(QualityGateError(outcome))
    if failures and layer == "marts":
        reason = superseded_by_new_loads(outcomes, uri, ctx["dag_run"].start_date)
        if reason:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(reason)  # marts not published; the queued run rebuilds and checks them
    if failures:
        # One message naming every failed critical expectation of every suite.
        raise RuntimeError("\n\n".join(str(f) for f in failures))
