"""The marts of warehouse.md's contract as plain tables, for tests of consumers (exports, quality checks)
that must not depend on a dbt build (also used by bench/export_bulk.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Across the 2025 reform (reform.md): every table but dim_units carries `basis` ('historical' | 'current') and
# `unit_valid_from` (the start of the unit identity the row is about: codes are reused, so a unit is keyed by
# identifier and validity), both part of the key.
MARTS_DDL = """
CREATE TABLE marts.dim_units (unit_code text, internal_id text, unit_name text, unit_type text,
    parent_unit_code text, admin_area_code text, staff_count int, valid_from date, valid_to date,
    unit_valid_from date, unit_valid_to date, successor_unit_codes text[], current_unit_code text,
    is_current boolean);
CREATE TABLE marts.bridge_unit_succession (unit_code text, unit_valid_from date, successor_unit_code text,
    successor_valid_from date, effective_date date, is_primary boolean, is_direct boolean);
CREATE TABLE marts.dim_periods (period_type text, period_start date, period_end date, label_vi text,
    sort_key text, evaluated_to date, days_loaded int, is_complete boolean);
CREATE TABLE marts.fct_indicator_values (basis text, indicator_code text, unit_code text, unit_valid_from date,
    scope text, period_type text, period_start date, period_end date, framework text, group_code text,
    numerator numeric, denominator numeric, value numeric, points numeric, max_points numeric,
    is_applicable boolean);
CREATE TABLE marts.rpt_qd766_scores (basis text, unit_code text, unit_valid_from date, scope text,
    period_type text, period_start date, period_end date, ckmb numeric, tdgq numeric, clgq numeric, mdsh numeric,
    tttt numeric, mdhl numeric, total_points numeric, band text);
CREATE TABLE marts.rpt_unit_rankings (basis text, ranking_code text, period_type text, period_start date,
    unit_group text, unit_code text, unit_valid_from date, period_end date, unit_name text, score numeric,
    rank int, units_ranked int, previous_rank int, rank_change int);
DROP TABLE IF EXISTS marts.rpt_ranking_scores;  -- fixtures that drop the tables they know first need no change
CREATE TABLE marts.rpt_ranking_scores (basis text, ranking_code text, unit_code text, unit_valid_from date,
    scope text, period_type text, period_start date, period_end date, score numeric, max_score numeric);
CREATE TABLE marts.rpt_dossier_report (basis text, unit_code text, unit_valid_from date, scope text,
    period_type text, period_start date, period_end date, received_total bigint, received_online bigint,
    received_offline bigint, carried_over bigint, resolved_total bigint, resolved_early bigint,
    resolved_on_time bigint, resolved_late bigint, in_progress_total bigint, in_progress_within bigint,
    in_progress_overdue bigint);
"""


def _month_add(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, d.day)


def periods(start: date, end: date) -> list[tuple[str, date, date]]:
    """Every period of every type containing at least one day of [start, end]."""
    out: set[tuple[str, date, date]] = set()
    d = start
    while d <= end:
        y = d.year
        ms = date(y, d.month, 1)
        out.add(("month", ms, _month_add(ms, 1) - timedelta(days=1)))
        qs = date(y, 3 * ((d.month - 1) // 3) + 1, 1)
        out.add(("quarter", qs, _month_add(qs, 3) - timedelta(days=1)))
        out.add(("year", date(y, 1, 1), date(y, 12, 31)))
        # Decree 09 windows: the window year runs 15/12 (previous year) .. 14/12.
        wend = date(y, d.month, 14) if d.day <= 14 else _month_add(date(y, d.month, 14), 1)
        out.add(("report_month", _month_add(wend, -1) + timedelta(days=1), wend))
        qend_month = 3 * ((wend.month - 1) // 3) + 3
        qend = date(wend.year, qend_month, 14)
        out.add(("report_quarter", _month_add(qend, -3) + timedelta(days=1), qend))
        wy = wend.year
        ystart = date(wy - 1, 12, 15)
        if wend <= date(wy, 6, 14):
            out.add(("report_half", ystart, date(wy, 6, 14)))
        if wend <= date(wy, 9, 14):
            out.add(("report_nine_months", ystart, date(wy, 9, 14)))
        out.add(("report_year", ystart, date(wy, 12, 14)))
        d += timedelta(days=1)
    return sorted(out)


def dim_periods_rows(start: date, end: date, missing: frozenset[date] = frozenset()) -> list[tuple]:
    """marts.dim_periods for every period of `periods(start, end)` when every source loaded each day of [start, end]
    but `missing`, as dbt computes it: days_loaded counts those days, is_complete = all of the period's days.
    Columns in MARTS_DDL order (the label is a stand-in)."""
    rows = []
    for ptype, ps, pe in periods(start, end):
        days = [ps + timedelta(days=i) for i in range((pe - ps).days + 1)]
        loaded = sum(1 for d in days if start <= d <= end and d not in missing)
        label = f"{ptype} {ps:%d/%m/%Y}–{pe:%d/%m/%Y}"
        rows.append((ptype, ps, pe, label, f"{ps} {ptype}", min(pe, end), loaded, loaded == len(days)))
    return rows


# ---------------------------------------------------------------- a unit register across the reform


@dataclass(frozen=True)
class Unit:
    """A unit of the register (one version): identifier + validity is the unit, since identifiers are reused.
    `successors` is the register's donViKeThua (primary first): units beginning the day after `valid_to`."""

    code: str
    name: str
    type: str
    parent: str | None  # parent identifier: the unit with that code valid on the same day
    area: str = "26"
    valid_from: date = date(2020, 1, 1)
    valid_to: date | None = None
    successors: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, date]:
        return (self.code, self.valid_from)

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)


class Register:
    """The units of a register and how each one's figures reach today's units (reform.md, current basis)."""

    def __init__(self, units: list[Unit], last_day: date) -> None:
        self.units, self.last_day = units, last_day

    def on(self, code: str, day: date) -> Unit | None:
        return next((u for u in self.units if u.code == code and u.valid_on(day)), None)

    def current(self, unit: Unit) -> Unit | None:
        """Today's unit its figures go to: itself, its primary successor transitively, or None (no successor)."""
        while not unit.valid_on(self.last_day):
            if not unit.successors or unit.valid_to is None or unit.valid_to >= self.last_day:
                return None
            unit = self.on(unit.successors[0], unit.valid_to + timedelta(days=1))
            if unit is None:
                return None
        return unit

    def today(self) -> list[Unit]:
        return [u for u in self.units if u.valid_on(self.last_day)]

    def ancestors(self, unit: Unit, day: date) -> list[Unit]:
        """The units above `unit` on `day`, nearest first."""
        out, parent = [], unit.parent
        while parent is not None and (p := self.on(parent, day)) is not None:
            out.append(p)
            parent = p.parent
        return out

    def dim_units(self) -> list[tuple]:
        """marts.dim_units rows (one version per unit), in MARTS_DDL's column order."""
        rows = []
        for u in self.units:
            cur = self.current(u)
            rows.append(
                (u.code, u.code, u.name, u.type, u.parent, u.area, 40, u.valid_from, u.valid_to, u.valid_from,
                 u.valid_to, list(u.successors), cur.code if cur else None, u.valid_on(self.last_day))
            )  # fmt: skip
        return rows
