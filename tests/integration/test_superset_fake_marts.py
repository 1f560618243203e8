"""Plausible fake marts for developing and testing the Superset dashboards without the pipeline.

Tables follow the marts contract of warehouse.md (plus the catalogue and data-quality views the dashboards
read). Values are random but consistent: points follow the catalogue's formula, the QD766 scores are the
sums of the indicator points, and the rankings use standard competition ranking with rank changes against
the previous period, computed in SQL exactly as the contract states.

Run `python tests/integration/test_superset_fake_marts.py` with CHISO_HOME / CHISO_PG_PORT set to load them
into a development warehouse. The module holds no tests.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta

import psycopg

from chiso.settings import REPO_ROOT, Settings
from chiso.stack import credentials, postgres

PROVINCE = ("000.00.00.H26", "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None)
DEPARTMENTS = [
    ("000.00.01.H26", "Văn phòng UBND tỉnh"),
    ("000.00.02.H26", "Sở Nội vụ"),
    ("000.00.03.H26", "Sở Tư pháp"),
    ("000.00.05.H26", "Sở Tài chính"),
    ("000.00.11.H26", "Sở Thông tin và Truyền thông"),
    ("000.00.16.H26", "Sở Y tế"),
]
DISTRICTS = [
    ("000.00.41.H26", "UBND Thành phố Vĩnh Yên", ["Phường Tích Sơn", "Xã Thanh Trù"]),
    ("000.00.49.H26", "UBND Huyện Yên Lạc", ["Thị trấn Yên Lạc", "Xã Đồng Cương"]),
    ("000.00.50.H26", "UBND Huyện Vĩnh Tường", ["Thị trấn Vĩnh Tường", "Xã Tân Tiến"]),
]
MONTHS = [date(2024, m, 1) for m in range(1, 7)]
# Periods: (type, start, end).
PERIODS = (
    [("month", m, (m.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)) for m in MONTHS]
    + [("quarter", date(2024, 1, 1), date(2024, 3, 31)), ("quarter", date(2024, 4, 1), date(2024, 6, 30))]
    + [("year", date(2024, 1, 1), date(2024, 6, 30))]
    + [("report_month", date(2024, m - 1, 15) if m > 1 else date(2023, 12, 15), date(2024, m, 14)) for m in range(2, 7)]
)

DDL = """
DROP TABLE IF EXISTS marts.dim_units, marts.dim_indicators, marts.dim_work_file_targets,
    marts.fct_indicator_values, marts.rpt_qd766_scores, marts.rpt_unit_rankings, marts.rpt_dossier_report,
    marts.quality_expectation_results, marts.quality_source_freshness CASCADE;
CREATE TABLE marts.dim_units (unit_code text, internal_id text, unit_name text, unit_type text,
    parent_unit_code text, admin_area_code text, staff_count int, valid_from date, valid_to date);
CREATE TABLE marts.dim_indicators (indicator_code text, framework text, group_code text, name_vi text,
    name_en text, max_points numeric, cap numeric, cap_by_unit_type boolean, direction text,
    is_provisional boolean, valid_from date, valid_to date);
CREATE TABLE marts.dim_work_file_targets (unit_type text, target numeric, name_vi text);
CREATE TABLE marts.fct_indicator_values (indicator_code text, unit_code text, scope text, period_type text,
    period_start date, period_end date, framework text, group_code text, numerator numeric, denominator numeric,
    value numeric, points numeric, max_points numeric, is_applicable boolean);
CREATE TABLE marts.rpt_dossier_report (unit_code text, scope text, period_type text, period_start date,
    period_end date, received_total int, received_online int, received_offline int, carried_over int,
    resolved_total int, resolved_early int, resolved_on_time int, resolved_late int, in_progress_total int,
    in_progress_within int, in_progress_overdue int);
CREATE TABLE marts.quality_expectation_results (run_id text, suite text, layer text, expectation text,
    severity text, success boolean, unexpected_count bigint, message_vi text, validated_at timestamptz);
CREATE TABLE marts.quality_source_freshness (source text, entity text, last_success_at timestamptz,
    newest_data_date date, lag_hours numeric, status text);
"""

DERIVED = """
CREATE TABLE marts.rpt_qd766_scores AS
SELECT f.unit_code, f.scope, f.period_type, f.period_start, f.period_end,
       sum(points) FILTER (WHERE group_code = 'CKMB') AS ckmb, sum(points) FILTER (WHERE group_code = 'TDGQ') AS tdgq,
       sum(points) FILTER (WHERE group_code = 'CLGQ') AS clgq, sum(points) FILTER (WHERE group_code = 'MDSH') AS mdsh,
       sum(points) FILTER (WHERE group_code = 'TTTT') AS tttt, sum(points) FILTER (WHERE group_code = 'MDHL') AS mdhl,
       sum(points) AS total_points,
       CASE WHEN sum(points) >= 90 THEN 'Xuất sắc' WHEN sum(points) >= 80 THEN 'Tốt' WHEN sum(points) >= 70 THEN 'Khá'
            WHEN sum(points) >= 50 THEN 'Trung bình' ELSE 'Yếu' END AS band
FROM marts.fct_indicator_values f WHERE framework = 'QD766'
GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE marts.rpt_unit_rankings AS
WITH groups(unit_group, unit_type, scope) AS (
    VALUES ('SO_NGANH', 'SO_NGANH', 'unit'), ('HUYEN', 'UBND_HUYEN', 'area'), ('XA', 'UBND_XA', 'unit')),
scores AS (
    SELECT 'QD766' AS ranking_code, s.unit_code, s.scope, s.period_type, s.period_start, s.period_end,
           s.total_points AS score
    FROM marts.rpt_qd766_scores s
    UNION ALL
    SELECT 'CDS', f.unit_code, f.scope, f.period_type, f.period_start, f.period_end,
           sum(CASE WHEN framework = 'QD766' THEN 5 * points ELSE points END)
    FROM marts.fct_indicator_values f GROUP BY 2, 3, 4, 5, 6),
ranked AS (
    SELECT sc.ranking_code, sc.period_type, sc.period_start, sc.period_end, g.unit_group, sc.unit_code,
           u.unit_name, round(sc.score, 2) AS score,
           rank() OVER (PARTITION BY sc.ranking_code, sc.period_type, sc.period_start, g.unit_group
                        ORDER BY sc.score DESC) AS rank,
           count(*) OVER (PARTITION BY sc.ranking_code, sc.period_type, sc.period_start, g.unit_group) AS units_ranked
    FROM scores sc JOIN marts.dim_units u USING (unit_code)
    JOIN groups g ON g.unit_type = u.unit_type AND g.scope = sc.scope)
SELECT r.*, p.rank AS previous_rank, p.rank - r.rank AS rank_change
FROM ranked r
LEFT JOIN LATERAL (
    SELECT max(period_start) AS prev_start FROM ranked q
    WHERE q.ranking_code = r.ranking_code AND q.period_type = r.period_type AND q.period_start < r.period_start
) prev ON true
LEFT JOIN ranked p ON p.ranking_code = r.ranking_code AND p.period_type = r.period_type
    AND p.period_start = prev.prev_start AND p.unit_group = r.unit_group AND p.unit_code = r.unit_code;
"""


def _units() -> list[tuple]:
    rows = [(*PROVINCE, 30)]
    rows += [(code, name, "SO_NGANH", PROVINCE[0], 50) for code, name in DEPARTMENTS]
    for code, name, communes in DISTRICTS:
        rows.append((code, name, "UBND_HUYEN", PROVINCE[0], 150))
        mm = code.split(".")[2]
        for i, commune in enumerate(communes, start=1):
            rows.append((f"000.{i:02d}.{mm}.H26", f"UBND {commune}", "UBND_XA", code, 25))
    return rows


def _catalogue() -> list[dict]:
    with (REPO_ROOT / "seeds" / "indicator_catalogue.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _targets() -> dict[str, float]:
    with (REPO_ROOT / "seeds" / "work_file_targets.csv").open(encoding="utf-8") as f:
        return {r["unit_type"]: float(r["target"]) for r in csv.DictReader(f)}


def load(conn: psycopg.Connection, seed: int = 26) -> None:
    """(Re)create the fake marts in one transaction."""
    rng = random.Random(seed)
    units = _units()
    catalogue = _catalogue()
    targets = _targets()
    conn.execute(DDL)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO marts.dim_units VALUES (%s, %s, %s, %s, %s, %s, %s, '2020-01-01', NULL)",
            [(c, f"id{i:04d}", n, t, p, "26", staff) for i, (c, n, t, p, staff) in enumerate(units)],
        )
        cur.executemany(
            "INSERT INTO marts.dim_indicators VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULLIF(%s, '')::date)",
            [(r["indicator_code"], r["framework"], r["group_code"], r["name_vi"], r["name_en"], r["max_points"],
              r["cap"], r["cap_by_unit_type"] == "true", r["direction"], r["is_provisional"] == "true",
              r["valid_from"], r["valid_to"]) for r in catalogue],
        )
        cur.executemany("INSERT INTO marts.dim_work_file_targets VALUES (%s, %s, %s)",
                        [(k, v, k) for k, v in targets.items()])
        maturity = {u[0]: rng.uniform(0.35, 0.95) for u in units}
        facts, dossiers = [], []
        for code, _name, utype, _parent, _staff in units:
            scopes = ["unit", "area"] if utype in ("UBND_TINH", "UBND_HUYEN") else ["unit"]
            for scope in scopes:
                for ptype, start, end in PERIODS:
                    trend = (start.month - 1) * 0.02
                    for ind in catalogue:
                        mx, cap = float(ind["max_points"]), float(ind["cap"])
                        if ind["cap_by_unit_type"] == "true":
                            cap = targets[utype]
                        den = rng.randint(0, 400) if rng.random() > 0.05 else 0
                        level = min(0.999, maturity[code] + trend + rng.uniform(-0.15, 0.1))
                        if ind["direction"] == "lower_is_better":
                            level = 1 - level
                        num = round(den * max(0.0, level))
                        if den == 0:
                            value = None
                            points = mx if ind["zero_denominator_rule"] == "full" else 0.0
                        else:
                            value = num / den
                            points = mx * (1 - value) if ind["direction"] == "lower_is_better" \
                                else mx * min(1.0, value / cap)
                        facts.append((ind["indicator_code"], code, scope, ptype, start, end, ind["framework"],
                                      ind["group_code"], num, den, value, round(points, 4), mx, den != 0))
                    received = rng.randint(50, 900)
                    online = round(received * maturity[code])
                    resolved = round(received * 0.9)
                    early, late = round(resolved * 0.3), round(resolved * (1 - maturity[code]) * 0.1)
                    within, overdue = received - resolved, rng.randint(0, 5)
                    dossiers.append((code, scope, ptype, start, end, received, online, received - online,
                                     rng.randint(0, 40), resolved, early, resolved - early - late, late,
                                     within + overdue, within, overdue))
        cur.executemany(
            "INSERT INTO marts.fct_indicator_values VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            facts,
        )
        cur.executemany(
            "INSERT INTO marts.rpt_dossier_report VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", dossiers,
        )
        now = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
        results = []
        suites = [("raw_oss_dossier_daily", "raw"), ("raw_edoc_documents_daily", "raw"),
                  ("raw_esign_signatures_daily", "raw"), ("marts_indicator_values", "marts")]
        for day in range(30):
            at = now - timedelta(days=29 - day)
            for suite, layer in suites:
                for exp, sev in (("expect_column_values_to_not_be_null", "critical"),
                                 ("expect_column_values_to_be_between", "warning"),
                                 ("expect_table_row_count_to_be_between", "critical")):
                    ok = rng.random() > 0.08
                    results.append((f"run-{day:02d}", suite, layer, exp, sev, ok, 0 if ok else rng.randint(1, 40),
                                    "Đạt" if ok else "Có giá trị ngoài khoảng cho phép", at))
        cur.executemany(
            "INSERT INTO marts.quality_expectation_results VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", results,
        )
        cur.executemany(
            "INSERT INTO marts.quality_source_freshness VALUES (%s, %s, %s, %s, %s, %s)",
            [("one_stop_shop", "dossier_daily", now, date(2024, 6, 30), 6, "ok"),
             ("one_stop_shop", "procedures", now - timedelta(hours=30), date(2024, 6, 29), 30, "late"),
             ("edoc", "documents_daily", now, date(2024, 6, 30), 6, "ok"),
             ("esign", "signatures_daily", now - timedelta(days=3), date(2024, 6, 27), 78, "failing")],
        )
    conn.execute(DERIVED)


def load_into(s: Settings, creds: dict[str, str]) -> None:
    with psycopg.connect(postgres.uri(s, "chiso_transformer", creds["pg_transformer"])) as conn:
        load(conn)


if __name__ == "__main__":
    settings = Settings()
    load_into(settings, credentials.load(settings.home))
    print(f"fake marts loaded into {settings.host}:{settings.pg_port}")
