"""Mart checks against small marts built here per the warehouse.md / reform.md contract (tables from
marts_contract.MARTS_DDL, as chiso_transformer, in schema marts), on top of a raw layer.

Two sets of marts:
- `marts`: the 4 units of quality_data in January 2024 (no reform: both bases hold the same figures), on its clean
  raw layer; broken totals, ranks, ratios and missing units are caught by name.
- `reform_marts`: a register across the 1/7/2025 reform (codes reused, a split commune, an absorbed department, a
  district committee without successor) loaded 25/6–5/7/2025, with raw dossier rows, dim_units / bridge /
  dim_periods and every mart in both bases computed here from the register; clean marts pass, and each kind of
  bad row fails exactly the checks that should see it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import quality_data as qd
from marts_contract import MARTS_DDL

from chiso.quality import validate

pytestmark = pytest.mark.postgres
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

P_START, P_END = date(2024, 1, 1), date(2024, 1, 31)
GROUP = {"SO_NGANH": "SO_NGANH", "UBND_HUYEN": "HUYEN", "UBND_XA": "XA", "UBND_TINH": "TINH"}
BASES = ("historical", "current")
DDL = MARTS_DDL


def _band(total: float) -> str:
    for floor, name in ((90, "Xuất sắc"), (80, "Tốt"), (70, "Khá"), (50, "Trung bình")):
        if total >= floor:
            return name
    return "Yếu"


def _insert(conn, table: str, rows: list[dict]) -> None:
    """Named columns: the contract DDL may gain columns without breaking these inserts."""
    if not rows:
        return
    cols = list(rows[0])
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO marts.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
            [tuple(r[c] for c in cols) for r in rows],
        )


def _indicator_rows(basis, code, valid_from, scope, period, seed: int) -> list[dict]:
    """A few QD766 indicators and one ESIGN rate for one (basis, unit, scope, period); value and points vary."""
    ptype, start, end = period
    on_time = round(0.95 - 0.07 * (seed % 7), 2)
    spec = [  # indicator, framework, group, value, max points, applicable
        ("QD766.CKMB.DOSSIER_SYNC", "QD766", "CKMB", 0.9, 6, True),
        ("QD766.TDGQ.ON_TIME", "QD766", "TDGQ", on_time, 20, True),
        ("QD766.MDSH.E_RESULT", "QD766", "MDSH", 0.5, 6, True),
        ("QD766.MDHL.PETITION_ON_TIME", "QD766", "MDHL", None, 6, False),  # none: full points
        ("ESIGN.SIGNATURES_PER_STAFF", "ESIGN", "ESIGN", 1.7, 50, True),  # a rate, may exceed 1
    ]
    rows = []
    for ind, fw, grp, value, mx, applicable in spec:
        rows.append(
            {
                "basis": basis,
                "indicator_code": ind,
                "unit_code": code,
                "unit_valid_from": valid_from,
                "scope": scope,
                "period_type": ptype,
                "period_start": start,
                "period_end": end,
                "framework": fw,
                "group_code": grp,
                "numerator": None if value is None else value * 10,
                "denominator": 10 if applicable else 0,
                "value": value,
                "points": mx if value is None else round(mx * min(1.0, value), 4),
                "max_points": mx,
                "is_applicable": applicable,
            }
        )
    return rows


def _score_row(indicators: list[dict]) -> dict:
    groups = dict.fromkeys(("ckmb", "tdgq", "clgq", "mdsh", "tttt", "mdhl"), 0.0)
    for r in indicators:
        if r["framework"] == "QD766":
            groups[r["group_code"].lower()] += r["points"]
    total = round(sum(groups.values()), 4)
    first = indicators[0]
    key = ("basis", "unit_code", "unit_valid_from", "scope", "period_type", "period_start", "period_end")
    return {**{k: first[k] for k in key}, **groups, "total_points": total, "band": _band(total)}


def _periods_row(ptype, start, end, label, evaluated_to, days_loaded) -> dict:
    return {
        "period_type": ptype,
        "period_start": start,
        "period_end": end,
        "label_vi": label,
        "sort_key": f"{start.isoformat()} {ptype}",
        "evaluated_to": evaluated_to,
        "days_loaded": days_loaded,
        "is_complete": days_loaded == (end - start).days + 1,
    }


# ---------------------------------------------------------------- January 2024, no reform


@pytest.fixture
def marts(fresh_schema):
    with fresh_schema.connect("chiso_loader", autocommit=True) as conn:
        qd.load_clean(conn)
    opened = date(2020, 1, 1)
    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(DDL)
        units = []
        for code, name, utype, parent, staff in qd.UNITS:
            units.append(
                {
                    "unit_code": code,
                    "internal_id": None,
                    "unit_name": name,
                    "unit_type": utype,
                    "parent_unit_code": parent,
                    "admin_area_code": "26",
                    "staff_count": staff,
                    "valid_from": opened,
                    "valid_to": None,
                    "unit_valid_from": opened,
                    "unit_valid_to": None,
                    "successor_unit_codes": [],
                    "current_unit_code": code,
                    "is_current": True,
                }
            )
        _insert(conn, "dim_units", units)
        _insert(conn, "dim_periods", [_periods_row("month", P_START, P_END, "2024 – Tháng 01", qd.END, 10)])
        for basis in BASES:  # before any reform both bases hold the same units and figures
            for k, (code, name, utype, _p, _s) in enumerate(qd.UNITS):
                ind = _indicator_rows(basis, code, opened, "unit", ("month", P_START, P_END), k)
                _insert(conn, "fct_indicator_values", ind)
                score = _score_row(ind)
                _insert(conn, "rpt_qd766_scores", [score])
                _insert(
                    conn,
                    "rpt_unit_rankings",
                    [
                        {
                            "basis": basis,
                            "ranking_code": "QD766",
                            "period_type": "month",
                            "period_start": P_START,
                            "unit_group": GROUP[utype],
                            "unit_code": code,
                            "unit_valid_from": opened,
                            "period_end": P_END,
                            "unit_name": name,
                            "score": score["total_points"],
                            "rank": 1,
                            "units_ranked": 1,
                            "previous_rank": None,
                            "rank_change": None,
                        }
                    ],
                )
            conn.execute(
                """INSERT INTO marts.rpt_dossier_report (basis, unit_code, unit_valid_from, scope, period_type,
                       period_start, period_end, received_total, received_online, received_offline, carried_over,
                       resolved_total, resolved_early, resolved_on_time, resolved_late, in_progress_total,
                       in_progress_within, in_progress_overdue)
                   SELECT %(b)s, ma_dinh_danh, %(o)s, 'unit', 'month', %(s)s, %(e)s,
                          sum(tiep_nhan_truc_tuyen + tiep_nhan_truc_tiep + tiep_nhan_buu_chinh),
                          sum(tiep_nhan_truc_tuyen), sum(tiep_nhan_truc_tiep + tiep_nhan_buu_chinh), 0,
                          sum(da_xu_ly_truoc_han + da_xu_ly_dung_han + da_xu_ly_qua_han), sum(da_xu_ly_truoc_han),
                          sum(da_xu_ly_dung_han), sum(da_xu_ly_qua_han), 0, 0, 0
                   FROM raw.oss_dossier_daily_latest WHERE ngay BETWEEN %(s)s AND %(e)s GROUP BY ma_dinh_danh""",
                {"b": basis, "o": opened, "s": P_START, "e": P_END},
            )
    return fresh_schema


def _run(wh, tmp_path, run_id, window=(P_START, P_END)):
    return validate(
        "marts",
        warehouse_uri=wh.uri("chiso_loader"),
        run_id=run_id,
        window=window,
        home=tmp_path,
        build_docs=False,
    )


def test_clean_marts_pass(marts, tmp_path):
    outcome = _run(marts, tmp_path, "marts-clean")
    failed = {r.name: r.message_vi for r in outcome.results if not r.success}
    assert not failed, failed
    assert outcome.result("ratio_in_unit_interval").element_count == 2 * 4 * 5


def test_broken_marts_are_caught(marts, tmp_path):
    a, b, c, d = qd.CODES
    with marts.connect("chiso_transformer", autocommit=True) as conn:
        # A group total that no longer equals its components (total kept consistent with the groups), in one basis.
        conn.execute(
            "UPDATE marts.rpt_qd766_scores SET mdsh = mdsh + 1, total_points = total_points + 1 "
            "WHERE unit_code = %s AND basis = 'historical'",
            (a,),
        )
        conn.execute("UPDATE marts.rpt_qd766_scores SET total_points = total_points + 5 WHERE unit_code = %s", (b,))
        conn.execute("DELETE FROM marts.rpt_qd766_scores WHERE unit_code = %s AND basis = 'current'", (c,))
        conn.execute("UPDATE marts.rpt_unit_rankings SET rank = 2, rank_change = NULL WHERE unit_code = %s", (d,))
        conn.execute(
            "UPDATE marts.fct_indicator_values SET value = 1.3 "
            "WHERE unit_code = %s AND indicator_code = 'QD766.MDSH.E_RESULT' AND basis = 'current'",
            (d,),
        )
        conn.execute(
            "UPDATE marts.rpt_dossier_report SET received_total = received_total + 1 WHERE unit_code = %s", (a,)
        )
    outcome = _run(marts, tmp_path, "marts-broken")
    failed = {r.name: r for r in outcome.results if not r.success}
    group = failed["group_equals_sum_of_components"]
    assert group.severity == "critical" and a in group.message_vi and "MDSH" in group.message_vi
    assert [(s["basis"], s["unit_code"]) for s in group.unexpected_sample] == [("historical", a)]
    assert sorted(s["basis"] for s in failed["total_equals_sum_of_groups"].unexpected_sample) == sorted(BASES)
    missing = failed["scores_every_unit_every_period"].unexpected_sample
    assert [(s["basis"], s["unit_code"]) for s in missing] == [("current", c)]
    assert d in failed["rank_within_units_ranked"].message_vi
    assert "rank_is_competition_rank" in failed
    assert "1.3" in failed["ratio_in_unit_interval"].message_vi
    assert {"dossier_report_totals", "dossier_report_matches_raw"} <= set(failed)
    assert outcome.result("every_unit_every_period").success  # the indicator rows are all still there
    assert outcome.result("points_le_max_points").success


def test_marts_outdated_by_a_load_during_the_run_are_skipped_not_failed(marts, tmp_path):
    """A load that lands while the transform runs makes the marts disagree with raw: the run does not publish
    them and does not fail (the load queued the next transform). A marts defect, or no new load, still fails."""
    from datetime import UTC, datetime

    from chiso.orchestration import superseded_by_new_loads

    started = datetime.now(UTC)
    unit = qd.CODES[1]
    with marts.connect("chiso_loader", autocommit=True) as conn:  # the late load: one more dossier on 5 Jan
        b = qd.audit(conn, "one_stop_shop", "dossier_daily", date(2024, 1, 5), date(2024, 1, 5))
        row, _ = qd.dossier_row(date(2024, 1, 5), unit, "1.001", b, 0, 0)
        qd.insert(conn, "oss_dossier_daily", [{**row, "tiep_nhan_truc_tuyen": row["tiep_nhan_truc_tuyen"] + 7}])
    outcome = _run(marts, tmp_path, "marts-outdated")
    assert [r.name for r in outcome.critical_failures] == ["dossier_report_matches_raw"]
    reason = superseded_by_new_loads([outcome], marts.uri("chiso_loader"), started)
    assert reason and "one_stop_shop.dossier_daily" in reason and "không được công bố" in reason
    assert superseded_by_new_loads([outcome], marts.uri("chiso_loader"), datetime.now(UTC)) is None  # no new load

    with marts.connect("chiso_transformer", autocommit=True) as conn:  # plus a defect of the marts themselves
        conn.execute("UPDATE marts.rpt_unit_rankings SET rank = 2, rank_change = NULL WHERE unit_code = %s", (unit,))
    broken = _run(marts, tmp_path, "marts-outdated-and-broken")
    assert superseded_by_new_loads([broken], marts.uri("chiso_loader"), started) is None


# ---------------------------------------------------------------- across the 1/7/2025 reform

OPEN, OLD_END, REFORM = date(2020, 1, 1), date(2025, 6, 30), date(2025, 7, 1)
DATA_FROM, LAST_DAY = date(2025, 6, 25), date(2025, 7, 5)  # days loaded; LAST_DAY = the last loaded day
R_WINDOW = (date(2025, 6, 1), date(2025, 7, 31))

P26, P25 = "000.00.00.H26", "000.00.00.H25"  # the new Phú Thọ committee reuses the old one's identifier
NV26, NV25 = "000.00.01.H26", "000.00.01.H25"
TT26, KH26, KH25 = "000.00.02.H26", "000.00.03.H26", "000.00.03.H25"
VT = "000.00.12.H26"
TAN_TIEN, BINH_DUONG = "000.12.31.H26", "000.12.32.H26"
X, Y = "000.31.01.H25", "000.31.02.H25"


@dataclass(frozen=True)
class Ident:
    """A unit: identifier + validity. `splits` are starts of further versions inside it (same unit)."""

    code: str
    name: str
    type: str
    parent: str | None
    start: date = OPEN
    end: date | None = None
    successors: tuple[str, ...] = ()
    splits: tuple[date, ...] = ()

    @property
    def key(self) -> tuple[str, date]:
        return (self.code, self.start)

    def valid_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or self.end >= day)

    def valid_between(self, start: date, end: date) -> bool:
        return self.start <= end and (self.end is None or self.end >= start)


REGISTER = [
    Ident(P26, "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None, end=OLD_END, successors=(P25,)),
    Ident(P25, "UBND tỉnh Phú Thọ (trước sáp nhập)", "UBND_TINH", None, end=OLD_END, successors=(P25,)),
    Ident(P25, "UBND tỉnh Phú Thọ", "UBND_TINH", None, start=REFORM),
    Ident(NV26, "Sở Nội vụ tỉnh Vĩnh Phúc", "SO_NGANH", P26, end=OLD_END, successors=(NV25,)),
    # an absorbing department: valid long before its predecessor ends; a new version when its parent changes
    Ident(NV25, "Sở Nội vụ tỉnh Phú Thọ", "SO_NGANH", P25, splits=(REFORM,)),
    # absorbed on 1/3/2025 by KH26, which the merged province's KH25 absorbs on 1/7/2025 (two hops)
    Ident(
        TT26, "Sở Thông tin và Truyền thông tỉnh Vĩnh Phúc", "SO_NGANH", P26, end=date(2025, 2, 28), successors=(KH26,)
    ),  # fmt: skip
    Ident(KH26, "Sở Khoa học và Công nghệ tỉnh Vĩnh Phúc", "SO_NGANH", P26, end=OLD_END, successors=(KH25,)),
    Ident(KH25, "Sở Khoa học và Công nghệ tỉnh Phú Thọ", "SO_NGANH", P25),
    Ident(VT, "UBND huyện Vĩnh Tường", "UBND_HUYEN", P26, end=OLD_END),  # no successor
    Ident(TAN_TIEN, "UBND xã Tân Tiến", "UBND_XA", VT, end=OLD_END, successors=(X,)),
    Ident(BINH_DUONG, "UBND xã Bình Dương", "UBND_XA", VT, end=OLD_END, successors=(X, Y)),  # split
    Ident(X, "UBND xã Vĩnh Tường", "UBND_XA", P25, start=REFORM),
    Ident(Y, "UBND xã Tam Dương", "UBND_XA", P25, start=REFORM),
]
R_PERIODS = [  # type, start, end, label
    ("month", date(2025, 6, 1), date(2025, 6, 30), "2025 – Tháng 06"),
    ("month", date(2025, 7, 1), date(2025, 7, 31), "2025 – Tháng 07"),
    ("year", date(2025, 1, 1), date(2025, 12, 31), "Năm 2025"),
]
RANKED = [("SO_NGANH", "SO_NGANH", "unit"), ("HUYEN", "UBND_HUYEN", "area"), ("XA", "UBND_XA", "unit")]


def _on(code: str, day: date) -> Ident:
    return next(u for u in REGISTER if u.code == code and u.valid_on(day))


def _direct(u: Ident) -> list[tuple[Ident, bool]]:
    return [(_on(c, u.end + timedelta(days=1)), i == 0) for i, c in enumerate(u.successors)]


def _succession() -> list[dict]:
    """bridge_unit_succession: donViKeThua closed transitively; per (unit, successor) the most primary, shortest."""
    best: dict[tuple, dict] = {}
    for u in REGISTER:
        todo = [(s, primary, 1, u.end + timedelta(days=1)) for s, primary in _direct(u)]
        while todo:
            s, primary, hops, effective = todo.pop()
            row = {
                "unit_code": u.code,
                "unit_valid_from": u.start,
                "successor_unit_code": s.code,
                "successor_valid_from": s.start,
                "effective_date": effective,
                "is_primary": primary,
                "is_direct": hops == 1,
            }
            k = (u.key, s.key)
            if k not in best or (not best[k]["is_primary"], not best[k]["is_direct"]) > (not primary, hops != 1):
                best[k] = row
            todo += [(n, primary and p, hops + 1, s.end + timedelta(days=1)) for n, p in _direct(s)] if s.end else []
    return list(best.values())


def _home(u: Ident) -> Ident | None:
    """Today's unit whose current-basis figures hold u's: itself or its primary successor, transitively."""
    while not u.valid_on(LAST_DAY):
        if not u.successors:
            return None
        u = _direct(u)[0][0]
    return u


def _members(u: Ident, basis: str) -> list[Ident]:
    return [u] if basis == "historical" else [m for m in REGISTER if _home(m) == u]


def _evaluated_to(period) -> date:
    return min(period[2], LAST_DAY)


def _units_of(basis: str, period) -> list[Ident]:
    """warehouse.md "Which rows exist" across the reform."""
    if basis == "current":
        return [u for u in REGISTER if u.valid_on(LAST_DAY)]
    return [u for u in REGISTER if u.valid_between(period[1], _evaluated_to(period))]


def _raw_dossiers(batch) -> list[tuple[Ident, dict]]:
    out = []
    for k, u in enumerate(REGISTER):
        stock, day, i = 0, DATA_FROM, k
        while day <= LAST_DAY:
            if u.valid_on(day):
                row, stock = qd.dossier_row(day, u.code, qd.PROCEDURES[k % 3][0], batch, i, stock)
                out.append((u, row))
                i += 1
            day += timedelta(days=1)
    return out


def _dossier_report(basis: str, u: Ident, period, raw: list[tuple[Ident, dict]]) -> dict:
    members = _members(u, basis)
    end = _evaluated_to(period)
    rows = [r for m, r in raw if m in members and period[1] <= r["ngay"] <= end]
    at_end = [r for m, r in raw if m in members and r["ngay"] == end]

    def total(*cols):
        return sum(r[c] for r in rows for c in cols)

    within, overdue = (sum(r[c] for r in at_end) for c in ("dang_xu_ly_trong_han", "dang_xu_ly_qua_han"))
    return {
        "basis": basis,
        "unit_code": u.code,
        "unit_valid_from": u.start,
        "scope": "unit",
        "period_type": period[0],
        "period_start": period[1],
        "period_end": period[2],
        "received_total": total("tiep_nhan_truc_tuyen", "tiep_nhan_truc_tiep", "tiep_nhan_buu_chinh"),
        "received_online": total("tiep_nhan_truc_tuyen"),
        "received_offline": total("tiep_nhan_truc_tiep", "tiep_nhan_buu_chinh"),
        "carried_over": 0,
        "resolved_total": total("da_xu_ly_truoc_han", "da_xu_ly_dung_han", "da_xu_ly_qua_han"),
        "resolved_early": total("da_xu_ly_truoc_han"),
        "resolved_on_time": total("da_xu_ly_dung_han"),
        "resolved_late": total("da_xu_ly_qua_han"),
        "in_progress_total": within + overdue,
        "in_progress_within": within,
        "in_progress_overdue": overdue,
    }


def _dim_units() -> list[dict]:
    rows = []
    for u in REGISTER:
        starts = [u.start, *u.splits]
        ends = [s - timedelta(days=1) for s in starts[1:]] + [u.end]
        home = _home(u)
        for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
            parent = _on(u.parent, start).code if u.parent else None
            rows.append(
                {
                    "unit_code": u.code,
                    "internal_id": f"DV{len(rows)}",
                    "unit_name": u.name,
                    "unit_type": u.type,
                    "parent_unit_code": parent,
                    "admin_area_code": "25" if u.code.endswith("H25") else "26",
                    "staff_count": 30 + k,
                    "valid_from": start,
                    "valid_to": end,
                    "unit_valid_from": u.start,
                    "unit_valid_to": u.end,
                    "successor_unit_codes": list(u.successors),
                    "current_unit_code": home.code if home else None,
                    "is_current": start <= LAST_DAY and (end is None or end >= LAST_DAY),
                }
            )
    return rows


def _rankings(scores: list[dict]) -> list[dict]:
    """Competition ranks per (basis, period, group) of the group's units valid on the reference day (historical:
    the period's evaluated end; current: today's units), rank changes against the previous period of the type in
    the same basis and for the same unit (identifier + validity)."""
    by_key = {(s["basis"], s["unit_code"], s["unit_valid_from"], s["scope"], s["period_start"], s["period_type"]): s
              for s in scores}  # fmt: skip
    rows: dict[tuple, dict] = {}
    for period in sorted(R_PERIODS, key=lambda p: (p[0], p[1])):
        ptype, start, end, _label = period
        previous = max((p[1] for p in R_PERIODS if p[0] == ptype and p[1] < start), default=None)
        for basis in BASES:
            ref = LAST_DAY if basis == "current" else _evaluated_to(period)
            for group, utype, scope in RANKED:
                units = [u for u in _units_of(basis, period) if u.type == utype and u.valid_on(ref)]
                scored = [(u, by_key[(basis, u.code, u.start, scope, start, ptype)]["total_points"]) for u in units]
                for u, score in scored:
                    rank = 1 + sum(other > score for _, other in scored)
                    prev = rows.get((basis, ptype, previous, group, u.key))
                    prev_rank = prev["rank"] if prev else None
                    rows[(basis, ptype, start, group, u.key)] = {
                        "basis": basis,
                        "ranking_code": "QD766",
                        "period_type": ptype,
                        "period_start": start,
                        "unit_group": group,
                        "unit_code": u.code,
                        "unit_valid_from": u.start,
                        "period_end": end,
                        "unit_name": u.name,
                        "score": score,
                        "rank": rank,
                        "units_ranked": len(scored),
                        "previous_rank": prev_rank,
                        "rank_change": None if prev_rank is None else prev_rank - rank,
                    }
    return list(rows.values())


@pytest.fixture
def reform_marts(fresh_schema):
    with fresh_schema.connect("chiso_loader", autocommit=True) as conn:
        b = qd.audit(conn, "one_stop_shop", "units", None, None)
        qd.insert(
            conn,
            "oss_units",
            [
                {
                    "ma_don_vi": r["internal_id"],
                    "ma_dinh_danh": r["unit_code"],
                    "ten_don_vi": r["unit_name"],
                    "loai_don_vi": r["unit_type"],
                    "ma_dinh_danh_cha": r["parent_unit_code"],
                    "ma_dvhc": r["admin_area_code"],
                    "so_can_bo": r["staff_count"],
                    "co_chung_thuc_dien_tu": r["unit_type"] == "UBND_XA",
                    "hieu_luc_tu": r["valid_from"],
                    "hieu_luc_den": r["valid_to"],
                    "don_vi_ke_thua": r["successor_unit_codes"] if r["valid_to"] == r["unit_valid_to"] else [],
                    "_batch_id": b,
                    "_row_hash": f"u{k}",
                }
                for k, r in enumerate(_dim_units())
            ],
        )
        b = qd.audit(conn, "one_stop_shop", "dossier_daily", DATA_FROM, LAST_DAY)
        raw = _raw_dossiers(b)
        qd.insert(conn, "oss_dossier_daily", [r for _, r in raw])
    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(DDL)
        _insert(conn, "dim_units", _dim_units())
        _insert(conn, "bridge_unit_succession", _succession())
        days = [DATA_FROM + timedelta(days=i) for i in range((LAST_DAY - DATA_FROM).days + 1)]
        _insert(
            conn,
            "dim_periods",
            [
                _periods_row(t, s, e, label, _evaluated_to((t, s, e)), sum(s <= d <= e for d in days))
                for t, s, e, label in R_PERIODS
            ],
        )
        scores, seed = [], 0
        for period in R_PERIODS:
            for basis in BASES:
                for u in _units_of(basis, period):
                    scopes = ["unit", "area"] if u.type == "UBND_HUYEN" else ["unit"]
                    for scope in scopes:
                        seed += 1
                        ind = _indicator_rows(basis, u.code, u.start, scope, period[:3], seed)
                        _insert(conn, "fct_indicator_values", ind)
                        scores.append(_score_row(ind))
                    _insert(conn, "rpt_dossier_report", [_dossier_report(basis, u, period, raw)])
        _insert(conn, "rpt_qd766_scores", scores)
        _insert(conn, "rpt_unit_rankings", _rankings(scores))
    return fresh_schema


def _failed(outcome) -> dict:
    return {r.name: r for r in outcome.results if not r.success}


def test_reform_marts_pass(reform_marts, tmp_path):
    """Both bases, reused codes and successions as the contract says: every check passes. (A check that joined by
    code alone, or across bases, would see doubled sums here: the historical year holds the old and the new
    000.00.00.H25, and the current basis holds every period again.)"""
    with reform_marts.connect("chiso_transformer") as conn:
        counts = dict(conn.execute("SELECT basis, count(*) FROM marts.rpt_unit_rankings GROUP BY basis").fetchall())
        huyen = conn.execute(
            "SELECT basis, period_type, period_start FROM marts.rpt_unit_rankings WHERE unit_group = 'HUYEN'"
        ).fetchall()
    assert counts["historical"] > 0 and counts["current"] > 0
    assert huyen == [("historical", "month", date(2025, 6, 1))]  # June ends on 30/6: the last HUYEN ranking
    outcome = _run(reform_marts, tmp_path, "reform-clean", R_WINDOW)
    failed = {r.name: r.message_vi for r in outcome.results if not r.success}
    assert not failed, failed


T = "UPDATE marts.{table} SET {set} WHERE {where}"
# target columns of the INSERT ... SELECT statements below (the contract DDL may gain columns)
FCT = (
    "(basis, indicator_code, unit_code, unit_valid_from, scope, period_type, period_start, period_end, framework, "
    "group_code, numerator, denominator, value, points, max_points, is_applicable)"
)
SCORES = (
    "(basis, unit_code, unit_valid_from, scope, period_type, period_start, period_end, ckmb, tdgq, clgq, mdsh, "
    "tttt, mdhl, total_points, band)"
)
DOSSIER = (
    "(basis, unit_code, unit_valid_from, scope, period_type, period_start, period_end, received_total, "
    "received_online, received_offline, carried_over, resolved_total, resolved_early, resolved_on_time, "
    "resolved_late, in_progress_total, in_progress_within, in_progress_overdue)"
)
RANKINGS = (
    "(basis, ranking_code, period_type, period_start, unit_group, unit_code, unit_valid_from, period_end, unit_name, "
    "score, rank, units_ranked, previous_rank, rank_change)"
)
ESIGN_X_JULY = (
    "basis = 'current' AND unit_code = '000.31.01.H25' AND period_type = 'month' AND period_start = '2025-07-01'"
)
CASES = {
    # --- keys: basis and unit_valid_from are part of every key, and must be present
    "duplicated_keys": (
        [
            "INSERT INTO marts.fct_indicator_values SELECT * FROM marts.fct_indicator_values "
            f"WHERE indicator_code = 'ESIGN.SIGNATURES_PER_STAFF' AND {ESIGN_X_JULY}",
            f"INSERT INTO marts.rpt_qd766_scores SELECT * FROM marts.rpt_qd766_scores WHERE {ESIGN_X_JULY}",
            f"INSERT INTO marts.rpt_dossier_report SELECT * FROM marts.rpt_dossier_report WHERE {ESIGN_X_JULY}",
        ],
        {"indicator_key_unique", "scores_key_unique", "dossier_report_key_unique"},
    ),
    "duplicated_ranking": (  # the only HUYEN unit, twice: the group also counts 2 units for units_ranked = 1
        ["INSERT INTO marts.rpt_unit_rankings SELECT * FROM marts.rpt_unit_rankings WHERE unit_group = 'HUYEN'"],
        {"rankings_key_unique", "units_ranked_matches_group"},
    ),
    "duplicated_period": (  # June twice (another label): its preceding period becomes June itself
        [
            "INSERT INTO marts.dim_periods (period_type, period_start, period_end, label_vi, sort_key, evaluated_to, "
            "days_loaded, is_complete) SELECT period_type, period_start, period_end, 'Tháng 6/2025', sort_key, "
            "evaluated_to, days_loaded, is_complete FROM marts.dim_periods WHERE period_start = '2025-06-01'"
        ],
        {"periods_key_unique", "previous_rank_from_preceding_period"},
    ),
    "duplicated_succession": (  # Tân Tiến twice to its primary successor: X counts its dossiers twice
        [
            "INSERT INTO marts.bridge_unit_succession SELECT * FROM marts.bridge_unit_succession "
            "WHERE unit_code = '000.12.31.H26'"
        ],
        {"succession_key_unique", "succession_one_primary_per_unit", "dossier_report_matches_raw"},
    ),
    "null_keys": (
        [
            T.format(
                table="fct_indicator_values",
                set="basis = NULL",
                where=f"indicator_code = 'ESIGN.SIGNATURES_PER_STAFF' AND {ESIGN_X_JULY}",
            ),
            T.format(table="rpt_dossier_report", set="unit_valid_from = NULL", where=ESIGN_X_JULY),
            T.format(table="rpt_unit_rankings", set="basis = NULL", where="unit_group = 'HUYEN'"),
            T.format(table="bridge_unit_succession", set="effective_date = NULL", where=f"successor_unit_code = '{Y}'"),
            "UPDATE marts.dim_periods SET label_vi = NULL WHERE period_start = '2025-07-01'",
            # a unit version with no unit identity, valid before any period (so no mart row is expected of it)
            "INSERT INTO marts.dim_units (unit_code, unit_name, unit_type, valid_from, valid_to, unit_valid_from, "
            "unit_valid_to, successor_unit_codes, current_unit_code, is_current) VALUES ('000.99.99.H25', "
            "'UBND xã thử', 'UBND_XA', '2019-01-01', '2019-12-31', NULL, '2019-12-31', '{}', NULL, false)",
        ],
        {
            "indicator_key_present__basis",
            "indicator_rows_only_for_units_of_basis",  # a row without a basis belongs to no basis
            "dossier_report_key_present__unit_valid_from",
            "dossier_report_rows_only_for_units_of_basis",  # ... and one without its unit's validity to no unit
            "rankings_key_present__basis",
            "ranked_units_valid_at_period_end",
            "succession_key_present__effective_date",
            "periods_label_present",
            "units_key_present__unit_valid_from",
        },
    ),
    "null_score_identity": (
        [
            T.format(
                table="rpt_qd766_scores",
                set="unit_valid_from = NULL",
                where="basis = 'historical' AND unit_code = '000.00.01.H25' AND period_start = '2025-06-01'",
            )
        ],
        {
            "scores_key_present__unit_valid_from",
            "scores_every_unit_every_period",
            "scores_rows_only_for_units_of_basis",
            "group_equals_sum_of_components",
        },
    ),
    # --- which rows exist, per basis and unit identity
    "missing_unit_rows": (
        [
            # the old Phú Thọ committee in the historical year (the new one, same code, is still there)
            "DELETE FROM marts.fct_indicator_values WHERE basis = 'historical' AND unit_code = '000.00.00.H25' "
            "AND unit_valid_from = '2020-01-01' AND period_type = 'year'",
            # a new commune in June in the current basis (it did not exist yet: its row holds its predecessors')
            "DELETE FROM marts.fct_indicator_values WHERE basis = 'current' AND unit_code = '000.31.01.H25' "
            "AND period_start = '2025-06-01'",
        ],
        {"every_unit_every_period", "group_equals_sum_of_components"},
    ),
    "missing_score_rows": (
        [
            "DELETE FROM marts.rpt_qd766_scores WHERE basis = 'current' AND unit_code = '000.31.02.H25' "
            "AND period_start = '2025-07-01'"
        ],
        {"scores_every_unit_every_period"},
    ),
    "rows_for_units_outside_their_basis": (
        [
            # the district committee (no successor) in the current basis; a new commune before it existed
            f"INSERT INTO marts.fct_indicator_values {FCT} SELECT 'current', indicator_code, unit_code, "
            "unit_valid_from, scope, 'month', '2025-07-01', '2025-07-31', framework, group_code, numerator, "
            "denominator, value, points, max_points, is_applicable FROM marts.fct_indicator_values "
            f"WHERE basis = 'historical' AND unit_code = '{VT}' AND period_start = '2025-06-01' AND scope = 'unit'",
            f"INSERT INTO marts.fct_indicator_values {FCT} SELECT 'historical', indicator_code, unit_code, "
            "unit_valid_from, scope, period_type, period_start, period_end, framework, group_code, numerator, "
            "denominator, value, points, max_points, is_applicable FROM marts.fct_indicator_values "
            f"WHERE basis = 'current' AND unit_code = '{X}' AND period_start = '2025-06-01'",
            # an old commune in the current basis (its figures belong to its successor's row)
            f"INSERT INTO marts.rpt_qd766_scores {SCORES} SELECT 'current', unit_code, unit_valid_from, scope, "
            "period_type, period_start, period_end, 0, 0, 0, 0, 0, 0, 0, 'Yếu' FROM marts.rpt_qd766_scores "
            "WHERE basis = 'historical' AND unit_code = '000.12.31.H26' AND period_start = '2025-06-01'",
            # the new commune in June in the historical basis
            f"INSERT INTO marts.rpt_dossier_report {DOSSIER} SELECT 'historical', unit_code, unit_valid_from, scope, "
            "period_type, period_start, period_end, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM marts.rpt_dossier_report "
            f"WHERE basis = 'current' AND unit_code = '{X}' AND period_start = '2025-06-01'",
        ],
        {
            "indicator_rows_only_for_units_of_basis",
            "scores_rows_only_for_units_of_basis",
            "dossier_report_rows_only_for_units_of_basis",
        },
    ),
    "unknown_basis": (
        [
            "UPDATE marts.fct_indicator_values SET basis = 'hien_tai' "
            f"WHERE indicator_code = 'ESIGN.SIGNATURES_PER_STAFF' AND {ESIGN_X_JULY}"
        ],
        {"indicator_rows_only_for_units_of_basis"},
    ),
    "period_missing_from_dim_periods": (
        ["DELETE FROM marts.dim_periods WHERE period_type = 'year'"],
        {"indicator_period_in_dim_periods"},
    ),
    "duplicated_period_label": (  # a warning: the dashboards' period filter would merge them
        ["UPDATE marts.dim_periods SET label_vi = '2025 – Tháng 06' WHERE period_start = '2025-07-01'"],
        {"periods_label_unique"},
    ),
    # --- sums joined per basis and unit identity
    "component_changed_in_one_basis": (
        [
            "UPDATE marts.fct_indicator_values SET points = points - 1 WHERE indicator_code = 'QD766.TDGQ.ON_TIME' "
            f"AND {ESIGN_X_JULY}"
        ],
        {"group_equals_sum_of_components"},
    ),
    "dossier_report_off_raw": (
        [
            # the new commune's current June row is its predecessors' June dossiers: one too many
            "UPDATE marts.rpt_dossier_report SET received_total = received_total + 1, "
            "received_online = received_online + 1 WHERE basis = 'current' AND unit_code = '000.31.01.H25' "
            "AND period_start = '2025-06-01'",
            # the old Phú Thọ committee's June (its code's July days belong to the new committee)
            "UPDATE marts.rpt_dossier_report SET resolved_total = resolved_total - 1, "
            "resolved_early = resolved_early - 1 WHERE basis = 'historical' AND unit_code = '000.00.00.H25' "
            "AND period_start = '2025-06-01'",
        ],
        {"dossier_report_matches_raw"},
    ),
    # --- rankings across the reform
    "ranked_unit_not_valid_at_period_end": (  # Tân Tiến (ended 30/6) in July's historical commune ranking, not X
        [
            "UPDATE marts.rpt_unit_rankings SET unit_code = '000.12.31.H26', unit_valid_from = '2020-01-01' "
            "WHERE basis = 'historical' AND period_start = '2025-07-01' AND period_type = 'month' "
            f"AND unit_code = '{X}'"
        ],
        {
            "ranked_units_valid_at_period_end",
            "ranking_includes_every_unit_of_group",
            "previous_rank_from_preceding_period",  # Tân Tiến had a June rank: July should say so
        },
    ),
    "unit_left_out_of_ranking": (  # Y out of the historical 2025 commune ranking (X renumbered to stay consistent)
        [
            f"DELETE FROM marts.rpt_unit_rankings WHERE basis = 'historical' AND period_type = 'year' AND "
            f"unit_code = '{Y}'",
            "UPDATE marts.rpt_unit_rankings SET rank = 1, units_ranked = 1 WHERE basis = 'historical' "
            f"AND period_type = 'year' AND unit_code = '{X}'",
        ],
        {"ranking_includes_every_unit_of_group"},
    ),
    "previous_rank_not_from_preceding_period": (
        [
            # current basis: X's June rank (from its predecessors) is its previous rank; off by one here
            "UPDATE marts.rpt_unit_rankings SET previous_rank = previous_rank + 1, rank_change = rank_change + 1 "
            f"WHERE basis = 'current' AND period_start = '2025-07-01' AND unit_code = '{X}'",
            # historical basis: X did not exist in June, so it has no previous rank
            "UPDATE marts.rpt_unit_rankings SET previous_rank = 1, rank_change = 1 - rank "
            f"WHERE basis = 'historical' AND period_start = '2025-07-01' AND unit_code = '{X}'",
        ],
        {"previous_rank_from_preceding_period"},
    ),
    "huyen_ranking_after_reform": (
        [
            f"INSERT INTO marts.rpt_unit_rankings {RANKINGS} SELECT basis, ranking_code, period_type, '2025-07-01', "
            "unit_group, unit_code, unit_valid_from, '2025-07-31', unit_name, score, 1, 1, 1, 0 "
            "FROM marts.rpt_unit_rankings WHERE unit_group = 'HUYEN' AND period_start = '2025-06-01'"
        ],
        {"no_huyen_ranking_after_reform", "ranked_units_valid_at_period_end"},
    ),
    "ranks_per_basis": (
        [
            "UPDATE marts.rpt_unit_rankings SET rank = 1, rank_change = previous_rank - 1 WHERE basis = 'current' "
            "AND unit_group = 'XA' AND period_start = '2025-07-01'",
            "UPDATE marts.rpt_unit_rankings SET units_ranked = 5 WHERE basis = 'historical' "
            "AND unit_group = 'SO_NGANH' AND period_start = '2025-06-01'",
        ],
        {"rank_is_competition_rank", "units_ranked_matches_group"},
    ),
    # --- succession and dim_units
    "successor_without_bridge_row": (  # Bình Dương's primary successor lost: X misses its dossiers
        [f"DELETE FROM marts.bridge_unit_succession WHERE unit_code = '000.12.32.H26' AND successor_unit_code = '{X}'"],
        {"successors_have_bridge_rows", "units_current_home", "dossier_report_matches_raw"},
    ),
    "two_primary_successors": (  # Bình Dương's dossiers would count in X and in Y
        [f"UPDATE marts.bridge_unit_succession SET is_primary = true WHERE successor_unit_code = '{Y}'"],
        {"succession_one_primary_per_unit", "dossier_report_matches_raw"},
    ),
    "successor_before_predecessor_ends": (
        [
            "UPDATE marts.bridge_unit_succession SET effective_date = '2025-06-30' "
            f"WHERE unit_code = '000.12.31.H26' AND successor_unit_code = '{X}'",
            # a successor that is no unit of dim_units (no unit 000.31.02.H25 starts on 2/7/2025)
            f"UPDATE marts.bridge_unit_succession SET successor_valid_from = '2025-07-02' "
            f"WHERE successor_unit_code = '{Y}'",
        ],
        {"succession_after_predecessor_ends"},
    ),
    "overlapping_units_of_one_code": (  # a second Tân Tiến during June: two units of one code on the same days
        [
            "INSERT INTO marts.dim_units (unit_code, unit_name, unit_type, valid_from, valid_to, unit_valid_from, "
            "unit_valid_to, successor_unit_codes, current_unit_code, is_current) VALUES ('000.12.31.H26', "
            "'UBND xã Tân Tiến', 'UBND_XA', '2025-06-01', '2025-06-15', '2025-06-01', '2025-06-15', '{}', NULL, "
            "false)"
        ],
        {"units_identity_consistent", "every_unit_every_period", "scores_every_unit_every_period"},
    ),
    "wrong_current_home": (
        [
            f"UPDATE marts.dim_units SET current_unit_code = '{Y}' WHERE unit_code = '000.12.32.H26'",
            "UPDATE marts.dim_units SET is_current = true WHERE unit_code = '000.00.00.H25' AND valid_to IS NOT NULL",
        ],
        {"units_current_home"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_reform_marts_defects_fail_their_checks(reform_marts, tmp_path, case):
    statements, expected = CASES[case]
    with reform_marts.connect("chiso_transformer", autocommit=True) as conn:
        for sql in statements:
            assert conn.execute(sql).rowcount > 0, sql  # each defect really is in the marts
    outcome = _run(reform_marts, tmp_path, f"reform-{case}", R_WINDOW)
    failed = _failed(outcome)
    assert set(failed) == expected, {n: r.message_vi for n, r in failed.items()}
    for r in failed.values():
        assert r.error is None, r.message_vi  # failed on the rows, not because the SQL broke
        assert "KHÔNG ĐẠT" in r.message_vi
