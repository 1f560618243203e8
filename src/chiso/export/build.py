"""Documents for the national reporting system, built from the marts (warehouse.md, "What goes to ...").

One document per report and period, reported by the province committee: the province's territory
(`DIA_BAN`) first, then every unit on its own (`DON_VI`); units with units below them (districts) also
get their territory (`DIA_BAN`), because district rankings are computed on the territory.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from chiso.export.periods import BIEU_06, CHI_SO_CDS, PERIOD_TYPES, Period

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Biểu 06 figure code -> rpt_dossier_report column, in the form's column order.
BIEU_06_FIGURES = {
    "TIEP_NHAN_TONG": "received_total",
    "TIEP_NHAN_TRUC_TUYEN": "received_online",
    "TIEP_NHAN_TRUC_TIEP_BUU_CHINH": "received_offline",
    "KY_TRUOC_CHUYEN_SANG": "carried_over",
    "DA_GIAI_QUYET_TONG": "resolved_total",
    "DA_GIAI_QUYET_TRUOC_HAN": "resolved_early",
    "DA_GIAI_QUYET_DUNG_HAN": "resolved_on_time",
    "DA_GIAI_QUYET_QUA_HAN": "resolved_late",
    "DANG_GIAI_QUYET_TONG": "in_progress_total",
    "DANG_GIAI_QUYET_TRONG_HAN": "in_progress_within",
    "DANG_GIAI_QUYET_QUA_HAN": "in_progress_overdue",
}
CDS_FRAMEWORKS = ("QD766", "EDOC", "ESIGN")
QD766_GROUPS = ("CKMB", "TDGQ", "CLGQ", "MDSH", "TTTT", "MDHL")
QD766_TOTAL = "QD766.TONG_DIEM"
CDS_TOTAL = "CDS.TONG_DIEM"
QD766_MAX, CDS_MAX = 100, 1000
CDS_QD766_WEIGHT = 5
# Ranking groups ranked on the territory (warehouse.md: districts, scope area); the rest on the unit.
AREA_RANKING_GROUPS = {"HUYEN", "UBND_HUYEN"}
UNIT_TYPE_ORDER = {"UBND_TINH": 0, "SO_NGANH": 1, "UBND_HUYEN": 2, "UBND_XA": 3}
PHAM_VI = {"area": "DIA_BAN", "unit": "DON_VI"}

VALUE_DIGITS, POINT_DIGITS = 6, 4


class BuildError(RuntimeError):
    """The marts cannot produce a document (reported to the operator in Vietnamese)."""


def _num(x: Any, digits: int) -> int | float | None:
    """JSON number from a mart value; rounded so recomputation noise never looks like a correction."""
    if x is None:
        return None
    if isinstance(x, bool):
        return int(x)
    d = Decimal(str(x))
    if d == d.to_integral_value():
        return int(d)
    return float(round(d, digits))


def _q(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def mart_periods(conn: psycopg.Connection) -> list[Period]:
    """Every (report, period) the marts hold, with how far each was evaluated when the marts say so."""
    out: list[Period] = []
    for report, table in ((BIEU_06, "rpt_dossier_report"), (CHI_SO_CDS, "fct_indicator_values")):
        has_evaluated = _has_column(conn, table, "evaluated_to")
        evaluated = "min(evaluated_to)" if has_evaluated else "NULL::date"
        if _has_column(conn, table, "period_end"):
            sql = (
                f"SELECT period_type, period_start, max(period_end) AS period_end, {evaluated} AS evaluated_to"
                f" FROM marts.{table} WHERE period_type = ANY(%s) GROUP BY period_type, period_start"
            )
        else:  # the contract lists no period_end for rpt_dossier_report: take it from the indicator fact
            evaluated = "min(r.evaluated_to)" if has_evaluated else "NULL::date"
            sql = (
                f"SELECT r.period_type, r.period_start, max(f.period_end) AS period_end, {evaluated} AS evaluated_to"
                " FROM marts.rpt_dossier_report r JOIN marts.fct_indicator_values f USING (period_type, period_start)"
                " WHERE r.period_type = ANY(%s) GROUP BY r.period_type, r.period_start"
            )
        rows = _q(conn, sql, (list(PERIOD_TYPES[report]),))
        out += [Period(report, r["period_type"], r["period_start"], r["period_end"], r["evaluated_to"]) for r in rows]
    return sorted(out, key=lambda p: (p.period_start, p.period_end, p.report, p.period_type))


def _has_column(conn: psycopg.Connection, table: str, column: str) -> bool:
    return bool(
        _q(
            conn,
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = %s"
            " AND column_name = %s",
            (table, column),
        )
    )


def _units(conn: psycopg.Connection, start: date, end: date) -> dict[str, dict]:
    """unit_code -> the unit's version in force at the period end (or its last version in the period)."""
    rows = _q(
        conn,
        "SELECT DISTINCT ON (unit_code) unit_code, unit_name, unit_type, parent_unit_code, admin_area_code"
        " FROM marts.dim_units WHERE valid_from <= %(end)s AND (valid_to IS NULL OR valid_to >= %(start)s)"
        " ORDER BY unit_code, (valid_to IS NULL OR valid_to >= %(end)s) DESC, valid_from DESC",
        {"start": start, "end": end},
    )
    return {r["unit_code"]: r for r in rows}


def _province(units: dict[str, dict], period: Period) -> dict:
    provinces = [u for u in units.values() if u["unit_type"] == "UBND_TINH"]
    if len(provinces) != 1:
        raise BuildError(
            f"Không xác định được UBND tỉnh cho kỳ {period.label_vi}: "
            f"tìm thấy {len(provinces)} đơn vị loại UBND_TINH trong marts.dim_units"
        )
    return provinces[0]


def _dvhc(code: str | None) -> str:
    digits = "".join(ch for ch in (code or "") if ch.isdigit())
    return digits[:2].zfill(2) if digits else ""


def _items(
    figures: dict[tuple[str, str], list[dict]], units: dict[str, dict], province: dict, period: Period
) -> list[dict]:
    """duLieu items in a stable order: province territory, then units by level and code."""

    def order(key: tuple[str, str]):
        code, scope = key
        if code == province["unit_code"] and scope == "area":
            return (0, 0, "", 0)
        u = units.get(code)
        return (1, UNIT_TYPE_ORDER.get(u["unit_type"] if u else "", 9), code, 0 if scope == "unit" else 1)

    out = []
    for key in sorted(figures, key=order):
        code, scope = key
        unit = units.get(code)
        if unit is None:
            raise BuildError(f"Đơn vị {code} có số liệu kỳ {period.label_vi} nhưng không có trong marts.dim_units")
        out.append(
            {
                "maDinhDanh": code,
                "tenDonVi": unit["unit_name"],
                "phamVi": PHAM_VI[scope],
                "chiTieu": figures[key],
            }
        )
    return out


def _header(period: Period, province: dict) -> dict:
    return {
        "maBaoCao": period.report,
        "kyBaoCao": period.ky_bao_cao,
        "donViBaoCao": {
            "maDinhDanh": province["unit_code"],
            "maDVHC": _dvhc(province["admin_area_code"]),
            "tenDonVi": province["unit_name"],
        },
    }


def _bieu06_figures(conn: psycopg.Connection, period: Period) -> dict[tuple[str, str], list[dict]]:
    cols = ", ".join(BIEU_06_FIGURES.values())
    rows = _q(
        conn,
        f"SELECT unit_code, scope, {cols} FROM marts.rpt_dossier_report WHERE period_type = %s AND period_start = %s",
        (period.period_type, period.period_start),
    )
    return {
        (r["unit_code"], r["scope"]): [
            {"ma": code, "giaTri": _num(r[col] if r[col] is not None else 0, 0)}
            for code, col in BIEU_06_FIGURES.items()
        ]
        for r in rows
        if r["scope"] in PHAM_VI
    }


def _cds_figures(conn: psycopg.Connection, period: Period) -> dict[tuple[str, str], list[dict]]:
    key = (period.period_type, period.period_start)
    figures: dict[tuple[str, str], list[dict]] = defaultdict(list)
    points: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    group_max: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in _q(
        conn,
        "SELECT unit_code, scope, indicator_code, framework, group_code, numerator, denominator, value,"
        " points, max_points, is_applicable FROM marts.fct_indicator_values"
        " WHERE period_type = %s AND period_start = %s AND framework = ANY(%s)"
        " ORDER BY framework <> 'QD766', framework, indicator_code",
        (*key, list(CDS_FRAMEWORKS)),
    ):
        if r["scope"] not in PHAM_VI:
            continue
        item: dict[str, Any] = {
            "ma": r["indicator_code"],
            "giaTri": _num(r["value"], VALUE_DIGITS) if r["is_applicable"] else None,
        }
        for field, col, digits in (
            ("tuSo", "numerator", VALUE_DIGITS),
            ("mauSo", "denominator", VALUE_DIGITS),
            ("diem", "points", POINT_DIGITS),
            ("diemToiDa", "max_points", POINT_DIGITS),
        ):
            if r[col] is not None:
                item[field] = _num(r[col], digits)
        figures[(r["unit_code"], r["scope"])].append(item)
        if r["framework"] in ("EDOC", "ESIGN") and r["points"] is not None:
            points[(r["unit_code"], r["scope"])]["EDOC_ESIGN"] += Decimal(str(r["points"]))
        if r["framework"] == "QD766":
            group_max[(r["unit_code"], r["scope"], r["group_code"])] += Decimal(str(r["max_points"] or 0))

    ranks: dict[tuple[str, str, str], dict] = {}
    for r in _q(
        conn,
        "SELECT ranking_code, unit_group, unit_code, score, rank FROM marts.rpt_unit_rankings"
        " WHERE period_type = %s AND period_start = %s",
        key,
    ):
        scope = "area" if r["unit_group"] in AREA_RANKING_GROUPS else "unit"
        ranks[(r["ranking_code"], r["unit_code"], scope)] = r

    for r in _q(
        conn,
        "SELECT unit_code, scope, ckmb, tdgq, clgq, mdsh, tttt, mdhl, total_points"
        " FROM marts.rpt_qd766_scores WHERE period_type = %s AND period_start = %s",
        key,
    ):
        k = (r["unit_code"], r["scope"])
        if k not in figures:
            continue
        for g in QD766_GROUPS:
            item = {"ma": f"QD766.{g}", "giaTri": _num(r[g.lower()], POINT_DIGITS)}
            if r[g.lower()] is not None:
                item["diem"] = item["giaTri"]
            if group_max.get((*k, g)):
                item["diemToiDa"] = _num(group_max[(*k, g)], POINT_DIGITS)
            figures[k].append(item)
        total = r["total_points"]
        figures[k].append(_total(QD766_TOTAL, total, QD766_MAX, ranks.get(("QD766", *k))))
        cds_rank = ranks.get(("CDS", *k))
        if cds_rank is not None and cds_rank["score"] is not None:
            cds = cds_rank["score"]
        elif total is not None:
            cds = CDS_QD766_WEIGHT * Decimal(str(total)) + points[k]["EDOC_ESIGN"]
        else:
            cds = None
        figures[k].append(_total(CDS_TOTAL, cds, CDS_MAX, cds_rank))
    return figures


def _total(code: str, score: Any, max_points: int, rank: dict | None) -> dict:
    item: dict[str, Any] = {"ma": code, "giaTri": _num(score, POINT_DIGITS)}
    if score is not None:
        item["diem"] = item["giaTri"]
    item["diemToiDa"] = max_points
    if rank is not None and rank["rank"] is not None:
        item["xepHang"] = int(rank["rank"])
    return item


def build_document(conn: psycopg.Connection, period: Period) -> dict:
    """The document's figures (no `lanGui` / `thoiDiemLap` yet: those belong to a submission)."""
    units = _units(conn, period.period_start, period.period_end)
    province = _province(units, period)
    figures = _bieu06_figures(conn, period) if period.report == BIEU_06 else _cds_figures(conn, period)
    if not figures:
        raise BuildError(f"Không có số liệu {period.report} cho kỳ {period.label_vi} trong marts")
    doc = _header(period, province)
    doc["duLieu"] = _items(figures, units, province, period)
    return doc


def finalize(figures_doc: dict, revision: int, created_at: datetime) -> dict:
    """The document as sent: schema key order, revision and the time it was drawn up."""
    return {
        "maBaoCao": figures_doc["maBaoCao"],
        "kyBaoCao": figures_doc["kyBaoCao"],
        "donViBaoCao": figures_doc["donViBaoCao"],
        "lanGui": revision,
        "thoiDiemLap": created_at.astimezone(TZ).isoformat(timespec="seconds"),
        "duLieu": figures_doc["duLieu"],
    }


def canonical(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(doc: dict) -> str:
    """Hash of the figures: everything but the revision and the time the document was drawn up."""
    figures = {k: v for k, v in doc.items() if k not in ("lanGui", "thoiDiemLap")}
    return hashlib.sha256(canonical(figures).encode()).hexdigest()


def _flatten(doc: dict) -> dict[tuple[str, str, str, str], Any]:
    flat: dict[tuple[str, str, str, str], Any] = {}
    for field, value in doc.get("donViBaoCao", {}).items():
        flat[("", "", "donViBaoCao", field)] = value
    for item in doc.get("duLieu", []):
        flat[(item["maDinhDanh"], item["phamVi"], "", "tenDonVi")] = item["tenDonVi"]
        for ct in item["chiTieu"]:
            for field, value in ct.items():
                if field != "ma":
                    flat[(item["maDinhDanh"], item["phamVi"], ct["ma"], field)] = value
    return flat


def figure_changes(old: dict, new: dict) -> list[dict]:
    """Which figures differ between two documents (absent on one side = null there)."""
    a, b = _flatten(old), _flatten(new)
    missing = object()
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb or (va is missing) != (vb is missing):
            unit, scope, code, field = key
            out.append(
                {
                    "maDinhDanh": unit or None,
                    "phamVi": scope or None,
                    "ma": code or None,
                    "truong": field,
                    "cu": None if va is missing else va,
                    "moi": None if vb is missing else vb,
                }
            )
    return out
