"""Plausible fake marts across the 2025 reform, for developing and testing the Superset dashboards without the
pipeline.

The contract tables come from tests/integration/marts_contract.py's MARTS_DDL (plus the catalogue and
data-quality tables the dashboards read). Two old provinces (Phú Thọ 25, Vĩnh Phúc 26), with their committees,
departments, districts and communes, merge on 1/7/2025 into the new Phú Thọ (25): its committee and
departments reuse the old Phú Thọ identifiers, one new commune reuses a predecessor's code, one old commune is
split between two new ones, the district committees end without successor, and a department absorbed on
1/3/2025 reaches today's department through two hops. Data runs from DATA_START to LAST_DAY.

Values are random but consistent with reform.md and warehouse.md: the historical basis holds a row for every
unit valid in the period, the current basis one for every unit of today made from its primary predecessors'
counts (summed, then divided; a district committee's only in the province's area row); points follow the
catalogue's formula and are rounded to 2 decimals; the QD766 scores are the sums of the indicator points; the
rankings rank, per basis, the units of the group valid on the period's last (loaded) day (today's units in the
current basis) with standard competition ranking and rank changes against the previous period of the same
type in the same basis.

Run `python tests/integration/test_superset_fake_marts.py` with CHISO_HOME / CHISO_PG_PORT set to load them
into a development warehouse. The module holds no tests.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg
from improvement_fake_marts import IMPROVEMENT_DDL, load_improvement
from marts_contract import MARTS_DDL, periods
from model_sql import model_path, model_sql
from portal_fake_marts import PORTAL_DDL, PORTAL_DERIVED

from chiso.settings import REPO_ROOT, Settings
from chiso.stack import credentials, postgres

REGISTER_START = date(2020, 1, 1)
DEPARTMENT_REORG = date(2025, 3, 1)
REFORM = date(2025, 7, 1)
DATA_START = date(2025, 4, 1)
LAST_DAY = date(2025, 9, 20)  # the last loaded day: September 2025 is evaluated to date

# Old provinces: code, name, districts (name, communes (name, successor keys: the primary first)).
OLD_PROVINCES = [
    ("25", "UBND tỉnh Phú Thọ", [
        ("UBND Thành phố Việt Trì", [("UBND Phường Tiên Cát", "VT"), ("UBND Phường Gia Cẩm", "VT"),
                                     ("UBND Xã Trưng Vương", "VT")]),
        ("UBND Huyện Lâm Thao", [("UBND Thị trấn Lâm Thao", "LT"), ("UBND Xã Tiên Kiên", "LT")]),
    ]),
    ("26", "UBND tỉnh Vĩnh Phúc", [
        ("UBND Thành phố Vĩnh Yên", [("UBND Phường Tích Sơn", "VP"), ("UBND Xã Thanh Trù", "VP YL")]),
        ("UBND Huyện Yên Lạc", [("UBND Thị trấn Yên Lạc", "YL"), ("UBND Xã Đồng Cương", "YL"),
                                ("UBND Xã Tân Tiến", "YL")]),
        ("UBND Huyện Vĩnh Tường", [("UBND Xã Tân Tiến", "VTG")]),  # the same name as Yên Lạc's
    ]),
]
# Departments of every old province and of the new one: number in the code, name (the same in every province).
DEPARTMENTS = [(1, "Sở Nội vụ"), (2, "Sở Tư pháp"), (5, "Sở Tài chính"), (14, "Sở Khoa học và Công nghệ")]
ABSORBED = (11, "Sở Thông tin và Truyền thông", 14)  # ends 28/2/2025 into the department numbered 14
# New communes: key -> name, and the old commune whose code it takes (else a new code).
NEW_COMMUNES = {
    "VT": ("UBND Phường Việt Trì", "UBND Phường Tiên Cát"),
    "LT": ("UBND Phường Lâm Thao", None),
    "VP": ("UBND Phường Vĩnh Phúc", None),
    "YL": ("UBND Xã Yên Lạc", None),
    "VTG": ("UBND Xã Vĩnh Tường", None),
}
NEW_PROVINCE = "25"
DOSSIER_FIELDS = ["received_total", "received_online", "received_offline", "carried_over", "resolved_total",
                  "resolved_early", "resolved_on_time", "resolved_late", "in_progress_total", "in_progress_within",
                  "in_progress_overdue"]

EXTRA_DDL = """
DROP TABLE IF EXISTS marts.dim_units, marts.bridge_unit_succession, marts.dim_periods, marts.dim_indicators,
    marts.dim_work_file_targets, marts.fct_indicator_values, marts.rpt_qd766_scores, marts.rpt_unit_rankings,
    marts.rpt_dossier_report, marts.quality_expectation_results, marts.quality_source_freshness CASCADE;
CREATE TABLE marts.dim_indicators (indicator_code text, framework text, group_code text, name_vi text,
    name_en text, max_points numeric, cap numeric, cap_by_unit_type boolean, direction text,
    is_provisional boolean, valid_from date, valid_to date);
CREATE TABLE marts.dim_work_file_targets (unit_type text, target numeric, name_vi text);
CREATE TABLE marts.quality_expectation_results (run_id text, suite text, layer text, expectation text,
    severity text, success boolean, unexpected_count bigint, message_vi text, validated_at timestamptz);
CREATE TABLE marts.quality_source_freshness (source text, entity text, last_success_at timestamptz,
    newest_data_date date, lag_hours numeric, status text);
"""

DERIVED = """
INSERT INTO marts.rpt_ranking_scores
SELECT f.basis, w.ranking_code, f.unit_code, f.unit_valid_from, f.scope, f.period_type, f.period_start, f.period_end,
       sum(w.multiplier * f.points), (SELECT sum(m.max_score) FROM weights m WHERE m.ranking_code = w.ranking_code)
FROM marts.fct_indicator_values f JOIN weights w ON w.framework = f.framework
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

INSERT INTO marts.rpt_qd766_scores
SELECT basis, unit_code, unit_valid_from, scope, period_type, period_start, period_end,
       sum(points) FILTER (WHERE group_code = 'CKMB'), sum(points) FILTER (WHERE group_code = 'TDGQ'),
       sum(points) FILTER (WHERE group_code = 'CLGQ'), sum(points) FILTER (WHERE group_code = 'MDSH'),
       sum(points) FILTER (WHERE group_code = 'TTTT'), sum(points) FILTER (WHERE group_code = 'MDHL'),
       sum(points),
       (SELECT b.name_vi FROM bands b WHERE sum(f.points) >= b.lower_bound ORDER BY b.lower_bound DESC LIMIT 1)
FROM marts.fct_indicator_values f WHERE framework = 'QD766'
GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO marts.rpt_unit_rankings
WITH scores AS (
    SELECT w.ranking_code, f.basis, f.period_type, f.period_start, f.period_end, f.unit_code, f.unit_valid_from,
           f.scope, round(sum(w.multiplier * f.points), 2) AS score
    FROM marts.fct_indicator_values f JOIN weights w ON w.framework = f.framework
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8),
ranked AS (
    SELECT sc.basis, sc.ranking_code, sc.period_type, sc.period_start, g.unit_group, sc.unit_code,
           sc.unit_valid_from, sc.period_end, u.unit_name, sc.score,
           rank() OVER (g ORDER BY sc.score DESC) AS rank, count(*) OVER g AS units_ranked
    FROM scores sc
    JOIN marts.dim_periods p USING (period_type, period_start)
    -- historical: the units valid on the period's last (loaded) day; current: today's units
    JOIN marts.dim_units u ON u.unit_code = sc.unit_code AND u.unit_valid_from = sc.unit_valid_from
        AND CASE WHEN sc.basis = 'current' THEN u.is_current
                 ELSE u.valid_from <= p.evaluated_to AND (u.valid_to IS NULL OR u.valid_to >= p.evaluated_to) END
    JOIN groups g ON g.unit_type = u.unit_type AND g.scope = sc.scope
    WINDOW g AS (PARTITION BY sc.basis, sc.ranking_code, sc.period_type, sc.period_start, g.unit_group)),
previous AS (
    SELECT period_type, period_start, lag(period_start) OVER (PARTITION BY period_type ORDER BY period_start)
        AS previous_start
    FROM marts.dim_periods)
SELECT r.*, q.rank AS previous_rank, q.rank - r.rank AS rank_change
FROM ranked r
JOIN previous pr ON pr.period_type = r.period_type AND pr.period_start = r.period_start
LEFT JOIN ranked q ON q.basis = r.basis AND q.ranking_code = r.ranking_code AND q.period_type = r.period_type
    AND q.period_start = pr.previous_start AND q.unit_group = r.unit_group AND q.unit_code = r.unit_code
    AND q.unit_valid_from = r.unit_valid_from;
"""


@dataclass
class Unit:
    """One unit identity (identifier + start of validity) and its register versions."""

    code: str
    name: str
    unit_type: str
    area: str
    staff: int
    valid_from: date
    valid_to: date | None = None
    parent: Unit | None = None
    successors: list[str] = field(default_factory=list)  # identifiers, the primary first
    versions: list[tuple[date, date | None, int]] = field(default_factory=list)  # (from, to, staff)

    @property
    def key(self) -> tuple[str, date]:
        return self.code, self.valid_from

    def valid_between(self, start: date, end: date) -> bool:
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= start)

    def valid_on(self, day: date) -> bool:
        return self.valid_between(day, day)


def _code(province: str, mm: int, nn: int) -> str:
    return f"000.{mm:02d}.{nn:02d}.H{province}"


def build_units() -> list[Unit]:
    """The register: old provinces until 30/6/2025, the merged province from 1/7/2025."""
    before = REFORM - timedelta(days=1)
    units: list[Unit] = []

    def add(**kw) -> Unit:
        u = Unit(**kw)
        units.append(u)
        return u

    new_top = _code(NEW_PROVINCE, 0, 0)
    commune_codes: dict[str, str] = {}
    old_communes: list[tuple[Unit, str]] = []
    for prov, prov_name, districts in OLD_PROVINCES:
        top = add(code=_code(prov, 0, 0), name=prov_name, unit_type="UBND_TINH", area=prov, staff=30,
                  valid_from=REGISTER_START, valid_to=before, successors=[new_top])
        for n, name in DEPARTMENTS:
            dept = add(code=_code(prov, 0, n), name=name, unit_type="SO_NGANH", area=prov, staff=40 + n,
                       valid_from=REGISTER_START, valid_to=before, parent=top,
                       successors=[_code(NEW_PROVINCE, 0, n)])
            if n == ABSORBED[2]:  # a second version when it absorbs the other department
                dept.versions = [(REGISTER_START, DEPARTMENT_REORG - timedelta(days=1), dept.staff),
                                 (DEPARTMENT_REORG, before, dept.staff + 30)]
        add(code=_code(prov, 0, ABSORBED[0]), name=ABSORBED[1], unit_type="SO_NGANH", area=prov, staff=30,
            valid_from=REGISTER_START, valid_to=DEPARTMENT_REORG - timedelta(days=1), parent=top,
            successors=[_code(prov, 0, ABSORBED[2])])
        for d, (district_name, communes) in enumerate(districts):
            nn = 41 + d
            district = add(code=_code(prov, 0, nn), name=district_name, unit_type="UBND_HUYEN",
                           area=f"{prov}{nn:03d}", staff=150, valid_from=REGISTER_START, valid_to=before,
                           parent=top)
            for c, (commune_name, successor_keys) in enumerate(communes, start=1):
                commune = add(code=_code(prov, c, nn), name=commune_name, unit_type="UBND_XA",
                              area=f"{prov}{nn:03d}{c:02d}", staff=22 + c, valid_from=REGISTER_START,
                              valid_to=before, parent=district)
                commune_codes[commune_name] = commune.code
                old_communes.append((commune, successor_keys))
    top = add(code=new_top, name="UBND tỉnh Phú Thọ", unit_type="UBND_TINH", area=NEW_PROVINCE, staff=45,
              valid_from=REFORM)
    for n, name in DEPARTMENTS:
        add(code=_code(NEW_PROVINCE, 0, n), name=name, unit_type="SO_NGANH", area=NEW_PROVINCE, staff=90 + n,
            valid_from=REFORM, parent=top)
    new_codes = {}
    for i, (key, (name, takes_code_of)) in enumerate(NEW_COMMUNES.items(), start=1):
        code = commune_codes[takes_code_of] if takes_code_of else _code(NEW_PROVINCE, i, 90)
        new_codes[key] = code
        add(code=code, name=name, unit_type="UBND_XA", area=f"{NEW_PROVINCE}9{i:02d}", staff=35 + i,
            valid_from=REFORM, parent=top)
    for commune, successor_keys in old_communes:
        commune.successors = [new_codes[k] for k in successor_keys.split()]
    for u in units:
        u.versions = u.versions or [(u.valid_from, u.valid_to, u.staff)]
    return units


def succession(units: list[Unit]) -> list[dict]:
    """bridge_unit_succession: donViKeThua resolved to the identity valid the day after, closed transitively."""
    direct: dict[tuple, list[tuple[Unit, bool]]] = {}
    for u in units:
        if u.valid_to is None:
            continue
        day = u.valid_to + timedelta(days=1)
        direct[u.key] = [(next(s for s in units if s.code == code and s.valid_on(day)), i == 0)
                         for i, code in enumerate(u.successors)]
    rows: dict[tuple, dict] = {}
    for u in units:
        frontier = [(s, primary, 1) for s, primary in direct.get(u.key, [])]
        while frontier:
            s, primary, hops = frontier.pop()
            k = (u.key, s.key)
            old = rows.get(k)
            if old is None or (primary, -hops) > (old["is_primary"], -old["hops"]):
                rows[k] = {"unit": u, "successor": s, "effective_date": s.valid_from, "is_primary": primary,
                           "hops": hops}
            frontier += [(t, primary and p, hops + 1) for t, p in direct.get(s.key, [])]
    return list(rows.values())


def current_home(units: list[Unit], bridge: list[dict]) -> dict[tuple, Unit | None]:
    """Each unit identity -> today's unit its figures go to in the current basis (None: a district committee)."""
    home: dict[tuple, Unit | None] = {u.key: (u if u.valid_on(LAST_DAY) else None) for u in units}
    for b in bridge:
        if b["is_primary"] and b["successor"].valid_on(LAST_DAY):
            home[b["unit"].key] = b["successor"]
    return home


def period_label(ptype: str, start: date, end: date) -> str:
    """dim_periods.label_vi, as the dbt model writes it."""
    if ptype == "month":
        return f"{start:%Y} – Tháng {start:%m}"
    if ptype == "quarter":
        return f"{start:%Y} – Quý {(start.month - 1) // 3 + 1}"
    if ptype == "year":
        return f"Năm {start:%Y}"
    kind = {"report_quarter": "quý ", "report_half": "6 tháng ", "report_nine_months": "9 tháng ",
            "report_year": "năm "}.get(ptype, "")
    first = f"{start:%d/%m}" if start.year == end.year else f"{start:%d/%m/%Y}"
    return f"Kỳ báo cáo {kind}{first}–{end:%d/%m/%Y}"


def _below(top: Unit, members: list[Unit]) -> list[Unit]:
    """The members that are `top` or under it."""
    out = []
    for m in members:
        p = m
        while p is not None and p is not top:
            p = p.parent
        if p is top:
            out.append(m)
    return out


def _catalogue() -> list[dict]:
    with (REPO_ROOT / "seeds" / "indicator_catalogue.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _seed(name: str) -> list[dict]:
    with (REPO_ROOT / "seeds" / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _points(ind: dict, cap: float, num: int, den: int) -> tuple[float | None, Decimal]:
    mx = Decimal(ind["max_points"])
    if den == 0:
        return None, mx if ind["zero_denominator_rule"] == "full" else Decimal(0)
    value = num / den
    if ind["direction"] == "lower_is_better":
        raw = mx * (1 - Decimal(value))
    else:
        raw = mx * min(Decimal(1), Decimal(value) / Decimal(cap))
    return value, raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def load(conn: psycopg.Connection, seed: int = 26) -> None:
    """(Re)create the fake marts in one transaction."""
    rng = random.Random(seed)
    units = build_units()
    bridge = succession(units)
    home = current_home(units, bridge)
    catalogue = _catalogue()
    targets = {r["unit_type"]: float(r["target"]) for r in _seed("work_file_targets.csv")}
    all_periods = periods(DATA_START, LAST_DAY)

    conn.execute(EXTRA_DDL)
    conn.execute(MARTS_DDL)
    conn.execute(PORTAL_DDL)
    conn.execute(IMPROVEMENT_DDL)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO marts.dim_units VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(u.code, f"id-{u.code}-{u.valid_from:%Y%m%d}", u.name, u.unit_type, u.parent.code if u.parent else None,
              u.area, staff, vf, vt, u.valid_from, u.valid_to, u.successors,
              home[u.key].code if home[u.key] else None, vf <= LAST_DAY and (vt is None or vt >= LAST_DAY))
             for u in units for vf, vt, staff in u.versions],
        )
        cur.executemany(
            "INSERT INTO marts.bridge_unit_succession VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(b["unit"].code, b["unit"].valid_from, b["successor"].code, b["successor"].valid_from,
              b["effective_date"], b["is_primary"], b["hops"] == 1) for b in bridge],
        )
        cur.executemany(
            "INSERT INTO marts.dim_periods VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(t, s, e, period_label(t, s, e), f"{s:%Y-%m-%d} {t}", min(e, LAST_DAY),
              (min(e, LAST_DAY) - max(s, DATA_START)).days + 1,
              (min(e, LAST_DAY) - max(s, DATA_START)).days == (e - s).days) for t, s, e in all_periods],
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

        maturity = {u.key: rng.uniform(0.35, 0.95) for u in units}
        facts, dossiers = [], []
        for ptype, start, end in all_periods:
            first, last = max(start, DATA_START), min(end, LAST_DAY)
            valid = [u for u in units if u.valid_between(first, last)]
            # historical counts of each unit's own dossiers/documents: indicator -> (numerator, denominator)
            own: dict[tuple, dict[str, tuple[int, int]]] = {}
            own_dossiers: dict[tuple, list[int]] = {}
            for u in valid:
                trend = (first.month - 4) * 0.02
                own[u.key] = {}
                for ind in catalogue:
                    den = rng.randint(0, 400) if rng.random() > 0.05 else 0
                    level = min(0.999, maturity[u.key] + trend + rng.uniform(-0.15, 0.1))
                    if ind["direction"] == "lower_is_better":
                        level = 1 - level
                    own[u.key][ind["indicator_code"]] = (round(den * max(0.0, level)), den)
                received = rng.randint(50, 900)
                online = round(received * maturity[u.key])
                resolved = round(received * 0.9)
                early, late = round(resolved * 0.3), round(resolved * (1 - maturity[u.key]) * 0.1)
                within, overdue = received - resolved, rng.randint(0, 5)
                own_dossiers[u.key] = [received, online, received - online, rng.randint(0, 40), resolved, early,
                                       resolved - early - late, late, within + overdue, within, overdue]

            rows: list[tuple[str, Unit, str, list[Unit]]] = []  # (basis, unit, scope, units whose counts add up)
            for u in valid:
                rows.append(("historical", u, "unit", [u]))
                if u.unit_type in ("UBND_TINH", "UBND_HUYEN"):
                    rows.append(("historical", u, "area", _below(u, valid)))
            for u in units:
                if not u.valid_on(LAST_DAY):
                    continue
                rows.append(("current", u, "unit", [m for m in valid if home[m.key] is u]))
                if u.unit_type == "UBND_TINH":  # the province's area: every unit, district committees included
                    rows.append(("current", u, "area", valid))
            for basis, u, scope, members in rows:
                for ind in catalogue:
                    code = ind["indicator_code"]
                    num = sum(own[m.key][code][0] for m in members)
                    den = sum(own[m.key][code][1] for m in members)
                    cap = targets[u.unit_type] if ind["cap_by_unit_type"] == "true" else float(ind["cap"])
                    value, pts = _points(ind, cap, num, den)
                    facts.append((basis, code, u.code, u.valid_from, scope, ptype, start, end, ind["framework"],
                                  ind["group_code"], num, den, value, pts, ind["max_points"], den != 0))
                sums = [sum(own_dossiers[m.key][i] for m in members) for i in range(len(DOSSIER_FIELDS))]
                dossiers.append((basis, u.code, u.valid_from, scope, ptype, start, end, *sums))
        with cur.copy("COPY marts.fct_indicator_values FROM STDIN") as copy:
            for row in facts:
                copy.write_row(row)
        with cur.copy("COPY marts.rpt_dossier_report FROM STDIN") as copy:
            for row in dossiers:
                copy.write_row(row)

        now = datetime(2025, 9, 21, 6, 0, tzinfo=UTC)
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
            [("one_stop_shop", "dossier_daily", now, LAST_DAY, 6, "ok"),
             ("one_stop_shop", "procedures", now - timedelta(hours=30), LAST_DAY - timedelta(days=1), 30, "late"),
             ("edoc", "documents_daily", now, LAST_DAY, 6, "ok"),
             ("esign", "signatures_daily", now - timedelta(days=3), LAST_DAY - timedelta(days=3), 78, "failing")],
        )
        # the seeds the derived marts read, as temporary tables
        cur.execute("CREATE TEMP TABLE bands (name_vi text, lower_bound numeric) ON COMMIT DROP")
        bands = [(r["name_vi"], r["lower_bound"]) for r in _seed("score_bands.csv") if r["framework"] == "QD766"]
        cur.executemany("INSERT INTO bands VALUES (%s, %s)", bands)
        cur.execute("CREATE TEMP TABLE weights (ranking_code text, framework text, multiplier numeric,"
                    " max_score numeric) ON COMMIT DROP")
        cur.executemany("INSERT INTO weights VALUES (%s, %s, %s, %s)",
                        [(r["ranking_code"], r["component_code"], r["multiplier"], r["max_score"])
                         for r in _seed("ranking_weights.csv") if r["component_kind"] == "framework_total"])
        cur.execute("CREATE TEMP TABLE groups (unit_group text, unit_type text, scope text) ON COMMIT DROP")
        cur.executemany("INSERT INTO groups VALUES (%s, %s, %s)",
                        [(r["unit_group"], r["unit_type"], r["scope"]) for r in _seed("ranking_groups.csv")])
        cur.execute(DERIVED)
        cur.execute(PORTAL_DERIVED)
        load_improvement(cur, catalogue, _seed("score_bands.csv"))
        build_label_marts(cur)


MARTS_MODELS = REPO_ROOT / "dbt_project" / "models" / "marts"
# The marts the dashboards read that dbt builds from the ones above: built here from the dbt models' own SQL (refs as
# marts.<name>), so the fixture's labels are the warehouse's.
LABEL_MODELS = ["dim_unit_labels", *sorted(p.stem for p in (MARTS_MODELS / "presentation").glob("*.sql"))]


def _model_sql(name: str) -> str:
    return model_sql(model_path(name))


def build_label_marts(cur: psycopg.Cursor) -> None:
    """dim_periods' dashboard labels (as dim_periods.sql writes them), dim_unit_labels and the presentation marts."""
    cur.execute("""
        ALTER TABLE marts.dim_periods ADD COLUMN period_type_label text, ADD COLUMN period_label text;
        UPDATE marts.dim_periods SET
            period_type_label = CASE period_type WHEN 'month' THEN 'Tháng' WHEN 'quarter' THEN 'Quý'
                WHEN 'year' THEN 'Năm' WHEN 'report_month' THEN 'Kỳ báo cáo tháng (15–14)'
                WHEN 'report_quarter' THEN 'Kỳ báo cáo quý' WHEN 'report_half' THEN 'Kỳ báo cáo 6 tháng'
                WHEN 'report_nine_months' THEN 'Kỳ báo cáo 9 tháng' WHEN 'report_year' THEN 'Kỳ báo cáo năm'
                ELSE period_type END,
            period_label = label_vi || CASE WHEN evaluated_to < period_end THEN ' (tạm tính)'
                WHEN NOT is_complete THEN ' (chưa đủ dữ liệu)' ELSE '' END""")
    for name in LABEL_MODELS:
        cur.execute(f"DROP TABLE IF EXISTS marts.{name} CASCADE")
        cur.execute(f"CREATE TABLE marts.{name} AS {_model_sql(name)}")


def load_into(s: Settings, creds: dict[str, str]) -> None:
    with psycopg.connect(postgres.uri(s, "chiso_transformer", creds["pg_transformer"])) as conn:
        load(conn)


if __name__ == "__main__":
    settings = Settings()
    load_into(settings, credentials.load(settings.home))
    print(f"fake marts loaded into {settings.host}:{settings.pg_port}")
