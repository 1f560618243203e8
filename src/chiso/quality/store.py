"""The quality layer's rows: validation results, and the freshness view generated from expectations/freshness.yml.
Its tables are the migrations' (chiso.warehouse); this module only writes rows and syncs configuration."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import psycopg

from chiso.quality.config import FreshnessConfig, load_freshness
from chiso.warehouse.connections import plain_uri
from chiso.warehouse.schema import require_head

if TYPE_CHECKING:
    from chiso.quality.outcome import QualityOutcome

__all__ = ["freshness_view_sql", "plain_uri", "sync_freshness", "write_outcome"]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    return ".".join(_ident(p) for p in table.split("."))


def freshness_view_sql(cfg: FreshnessConfig) -> str:
    newest = []
    for e in cfg.entities:
        if e.table and e.date_column:
            # max() over the base table uses the (date, ...) index; tombstones are not data.
            expr = f"(SELECT max({_ident(e.date_column)}) FROM {_qualified(e.table)} WHERE NOT _is_deleted)"
        else:
            expr = "NULL::date"
        newest.append(f"SELECT {_lit(e.source)} AS source, {_lit(e.entity)} AS entity, {expr} AS newest_data_date")
    newest_sql = "\n    UNION ALL ".join(newest) or "SELECT NULL::text, NULL::text, NULL::date WHERE false"
    return f"""
CREATE OR REPLACE VIEW quality.source_freshness AS
WITH newest AS (
    {newest_sql}
), ok AS (
    SELECT source, entity, max(finished_at) AS last_success_at, max(window_end) AS loaded_through
    FROM raw.load_audit WHERE status = 'succeeded' GROUP BY source, entity
), last_ok AS (
    SELECT DISTINCT ON (source, entity) source, entity, run_id, window_start, window_end, rows_received
    FROM raw.load_audit WHERE status = 'succeeded'
    ORDER BY source, entity, finished_at DESC NULLS LAST
), last_try AS (
    SELECT DISTINCT ON (source, entity) source, entity, started_at, status, error
    FROM raw.load_audit ORDER BY source, entity, started_at DESC
), j AS (
    SELECT t.source, t.entity, t.raw_table, t.date_column, t.max_load_lag_hours, t.max_data_gap_days,
           ok.last_success_at, ok.loaded_through,
           last_ok.run_id AS last_success_run_id, last_ok.window_start AS last_success_window_start,
           last_ok.window_end AS last_success_window_end, last_ok.rows_received AS last_success_rows,
           last_try.started_at AS last_attempt_at, last_try.status AS last_attempt_status,
           last_try.error AS last_error, n.newest_data_date,
           round((extract(epoch FROM now() - ok.last_success_at) / 3600.0)::numeric, 1) AS load_lag_hours,
           (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - n.newest_data_date AS data_lag_days,
           ok.loaded_through - n.newest_data_date AS window_gap_days
    FROM quality.freshness_thresholds t
    LEFT JOIN ok USING (source, entity)
    LEFT JOIN last_ok USING (source, entity)
    LEFT JOIN last_try USING (source, entity)
    LEFT JOIN newest n USING (source, entity)
), s AS (
    SELECT j.*,
        CASE
            WHEN last_success_at IS NULL THEN 'never_loaded'
            WHEN last_attempt_status = 'failed' THEN 'failing'
            WHEN load_lag_hours > max_load_lag_hours THEN 'late'
            WHEN date_column IS NOT NULL AND loaded_through IS NOT NULL
                 AND (newest_data_date IS NULL OR window_gap_days > max_data_gap_days) THEN 'late'
            ELSE 'ok'
        END AS status
    FROM j
)
SELECT s.*,
    CASE status
        WHEN 'never_loaded' THEN 'Chưa có lần nạp thành công nào'
        WHEN 'failing' THEN 'Lần nạp gần nhất bị lỗi: ' || coalesce(left(last_error, 300), 'không rõ lỗi')
        WHEN 'late' THEN CASE
            WHEN load_lag_hours > max_load_lag_hours
                THEN 'Trễ: lần nạp thành công gần nhất cách đây ' || load_lag_hours
                     || ' giờ (ngưỡng ' || max_load_lag_hours || ' giờ)'
            ELSE 'Thiếu dữ liệu: đã nạp đến ngày ' || to_char(loaded_through, 'DD/MM/YYYY')
                 || ' nhưng dữ liệu mới nhất là ngày '
                 || coalesce(to_char(newest_data_date, 'DD/MM/YYYY'), '(không có)')
                 || ' (cho phép chênh ' || max_data_gap_days || ' ngày)'
            END
        ELSE 'Đúng hạn'
    END AS status_vi
FROM s
"""


def _lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'::text"


def sync_freshness(conn: psycopg.Connection, freshness: FreshnessConfig | None = None) -> None:
    """Bring quality.freshness_thresholds and the quality.source_freshness view in line with
    expectations/freshness.yml. Configuration, not schema: the tables come from the migrations, and a warehouse
    not at their head fails here at once (SchemaNotAtHead names the command to run)."""
    require_head(conn)
    cfg = freshness or load_freshness()
    with conn.transaction():
        # Serialise parallel quality tasks (CREATE OR REPLACE VIEW races otherwise).
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('chiso.quality.ddl'))")
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO quality.freshness_thresholds
                       (source, entity, raw_table, date_column, max_load_lag_hours, max_data_gap_days)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (source, entity) DO UPDATE SET raw_table = EXCLUDED.raw_table,
                       date_column = EXCLUDED.date_column, max_load_lag_hours = EXCLUDED.max_load_lag_hours,
                       max_data_gap_days = EXCLUDED.max_data_gap_days""",
                [
                    (e.source, e.entity, e.table, e.date_column, e.max_load_lag_hours, e.max_data_gap_days)
                    for e in cfg.entities
                ],
            )
        conn.execute(freshness_view_sql(cfg))


def write_outcome(conn: psycopg.Connection, outcome: QualityOutcome) -> None:
    """One row per expectation per run; re-running a run id (an Airflow retry) replaces its rows."""
    ws, we = outcome.window or (None, None)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "DELETE FROM quality.expectation_results WHERE run_id = %s AND suite = %s", (outcome.run_id, outcome.suite)
        )
        cur.executemany(
            """INSERT INTO quality.expectation_results
                 (run_id, suite, layer, asset, expectation_name, expectation_type, severity, mostly, success,
                  observed_value, element_count, unexpected_count, unexpected_percent, unexpected_sample,
                  description_vi, message_vi, error, window_start, window_end, validated_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (
                    outcome.run_id,
                    outcome.suite,
                    outcome.layer,
                    r.asset,
                    r.name,
                    r.expectation_type,
                    r.severity,
                    r.mostly,
                    r.success,
                    r.observed_value,
                    r.element_count,
                    r.unexpected_count,
                    r.unexpected_percent,
                    json.dumps(r.unexpected_sample, ensure_ascii=False, default=str),
                    r.description_vi,
                    r.message_vi,
                    r.error,
                    ws,
                    we,
                    outcome.finished_at,
                )
                for r in outcome.results
            ],
        )
        cur.execute(
            """INSERT INTO quality.validation_runs (run_id, suite, layer, window_start, window_end, started_at,
                   finished_at, expectations, failed_critical, failed_warning, success, data_docs_path)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (run_id, suite) DO UPDATE SET layer = EXCLUDED.layer,
                   window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
                   started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
                   expectations = EXCLUDED.expectations, failed_critical = EXCLUDED.failed_critical,
                   failed_warning = EXCLUDED.failed_warning, success = EXCLUDED.success,
                   data_docs_path = EXCLUDED.data_docs_path""",
            (
                outcome.run_id,
                outcome.suite,
                outcome.layer,
                ws,
                we,
                outcome.started_at,
                outcome.finished_at,
                len(outcome.results),
                len(outcome.critical_failures),
                len(outcome.warnings),
                outcome.success,
                str(outcome.data_docs_index) if outcome.data_docs_index else None,
            ),
        )
