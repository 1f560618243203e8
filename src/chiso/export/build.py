"""Documents for the national reporting system, built from the marts (warehouse.md, "What goes to ...").

One document per report and period, reported by the province as it is now (reform.md, "National reports
across the reform"): the province committee valid on the last loaded day, for the periods that end on or after
the day that committee began (earlier periods were its predecessor provinces' duty), with the marts' `current`
basis only (today's units, each with its predecessors' figures) and today's identifiers. The province's
territory (`DIA_BAN`) first, then every unit on its own (`DON_VI`); units with units below them (districts of a
pre-reform province) also get their territory (`DIA_BAN`), because district rankings are computed on it. Units
are keyed by identifier and validity (`unit_code`, `unit_valid_from`): identifiers are reused across the reform.

`build_documents` builds the documents of many periods from a fixed handful of set-based queries (units,
Biểu 06 rows, rankings, QĐ 766 and CDS scores for all the periods at once; the indicator rows of all the periods in
one query, streamed period by period), so the cost of a run does not grow with round trips per document.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
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
# The QD766 and CDS scores and maxima are marts.rpt_ranking_scores' (the weights seed's formula, warehouse.md):
# nothing here restates a weight. Group maxima: the marts' max_points of the group's indicators.
# The basis the reports are made in: today's units, with their predecessors' figures (reform.md).
BASIS = "current"
# Ranking groups ranked on the territory (warehouse.md: districts, scope area); the rest on the unit.
AREA_RANKING_GROUPS = {"HUYEN", "UBND_HUYEN"}
UNIT_TYPE_ORDER = {"UBND_TINH": 0, "SO_NGANH": 1, "UBND_HUYEN": 2, "UBND_XA": 3}
PHAM_VI = {"area": "DIA_BAN", "unit": "DON_VI"}

VALUE_DIGITS, POINT_DIGITS = 6, 4


class BuildError(RuntimeError):
    """The marts cannot produce a document (reported to the operator in Vietnamese)."""


class BeforeMerger(BuildError):
    """The data ends before the province's committee began (several predecessor committees are still valid on
    the last loaded day): every period so far was the predecessor provinces' duty, so nothing is due yet."""


def _num(x: Any, digits: int) -> int | float | None:
    """JSON number from a mart value; rounded so recomputation noise never looks like a correction."""
    if x is None:
        return None
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int):
        return x
    d = x if isinstance(x, Decimal) else Decimal(str(x))
    if d == d.to_integral_value():
        return int(d)
    return float(round(d, digits))


def _q(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def mart_periods(conn: psycopg.Connection) -> list[Period]:
    """Every (report, period) the marts hold in the current basis, each with `marts.dim_periods.is_complete` (a
    period missing from dim_periods is not complete). Which of them are the province's to send:
    `reporting_province` (its `unit_valid_from`)."""
    out: list[Period] = []
    for report, table in ((BIEU_06, "rpt_dossier_report"), (CHI_SO_CDS, "fct_indicator_values")):
        rows = _q(
            conn,
            "SELECT m.period_type, m.period_start, m.period_end, coalesce(d.is_complete, false) AS is_complete"
            " FROM (SELECT period_type, period_start, max(period_end) AS period_end"
            f" FROM marts.{table} WHERE basis = %s AND period_type = ANY(%s) GROUP BY period_type, period_start) m"
            " LEFT JOIN marts.dim_periods d USING (period_type, period_start)",
            (BASIS, list(PERIOD_TYPES[report])),
        )
        out += [Period(report, r["period_type"], r["period_start"], r["period_end"], r["is_complete"]) for r in rows]
    return sorted(out, key=lambda p: (p.period_start, p.period_end, p.report, p.period_type))


# A unit: its identifier and the start of its validity (identifiers are reused, reform.md).
UnitKey = tuple[str, date]
# Every version of today's units (those with a version valid on the last loaded day).
_UNITS_SQL = (
    "SELECT d.unit_code, d.unit_valid_from, d.unit_name, d.unit_type, d.admin_area_code, d.valid_from, d.is_current"
    " FROM marts.dim_units d WHERE EXISTS (SELECT 1 FROM marts.dim_units c WHERE c.is_current"
    " AND c.unit_code = d.unit_code AND c.unit_valid_from = d.unit_valid_from)"
)


class _Units:
    """Today's units with every version of each, read once; the reporting province is among them."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.versions: dict[UnitKey, list[dict]] = defaultdict(list)
        for r in _q(conn, _UNITS_SQL + " ORDER BY d.valid_from"):
            self.versions[(r["unit_code"], r["unit_valid_from"])].append(r)
        self._cache: dict[date, dict[UnitKey, dict]] = {}

    @cached_property
    def province(self) -> dict:
        """The province committee's version valid on the last loaded day: the reporting unit."""
        found = [v for vs in self.versions.values() for v in vs if v["is_current"] and v["unit_type"] == "UBND_TINH"]
        if len(found) > 1:
            names = ", ".join(sorted(v["unit_name"] for v in found))
            raise BeforeMerger(
                f"Dữ liệu mới đến trước ngày hợp nhất tỉnh: {len(found)} UBND tỉnh còn hiệu lực vào ngày dữ liệu cuối"
                f" cùng ({names}); các kỳ này do các tỉnh cũ báo cáo, chưa có kỳ nào đến hạn với tỉnh hiện nay"
            )
        if not found:
            raise BuildError(
                "Không xác định được UBND tỉnh hiện nay (đơn vị báo cáo): marts.dim_units có"
                f" {len(found)} phiên bản đơn vị loại UBND_TINH còn hiệu lực vào ngày dữ liệu cuối cùng"
            )
        return found[0]

    def at(self, end: date) -> dict[UnitKey, dict]:
        """Each unit's version in force at `end` (the latest one begun by then); a unit begun after `end` (its
        figures are its predecessors') by its first version."""
        if end not in self._cache:
            out = {}
            for key, vs in self.versions.items():
                begun = [v for v in vs if v["valid_from"] <= end]
                out[key] = begun[-1] if begun else vs[0]
            self._cache[end] = out
        return self._cache[end]


def reporting_province(conn: psycopg.Connection) -> dict:
    """The province as it is now (`unit_code`, `unit_valid_from`, `unit_name`, ...): it reports the periods that end
    on or after its `unit_valid_from`; earlier periods were its predecessor provinces' duty."""
    return _Units(conn).province


def _dvhc(code: str | None) -> str:
    digits = "".join(ch for ch in (code or "") if ch.isdigit())
    return digits[:2].zfill(2) if digits else ""


# Figures of one document: (unit_code, unit_valid_from, scope) -> chiTieu
Figures = dict[tuple[str, date, str], list[dict]]


def _items(figures: Figures, units: dict[UnitKey, dict], province: UnitKey, period: Period) -> list[dict]:
    """duLieu items in a stable order: province territory, then units by level and code."""
    validity: dict[str, set[date]] = defaultdict(set)
    for code, valid_from, _ in figures:
        validity[code].add(valid_from)
    for code, starts in validity.items():
        if len(starts) > 1:  # a document names units by identifier alone: two units under one would merge
            raise BuildError(
                f"Mã định danh {code} ứng với {len(starts)} đơn vị khác nhau (hiệu lực từ "
                f"{', '.join(f'{d:%d/%m/%Y}' for d in sorted(starts))}) trong số liệu kỳ {period.label_vi}"
            )

    def order(key: tuple[str, date, str]):
        code, valid_from, scope = key
        if (code, valid_from) == province and scope == "area":
            return (0, 0, "", 0)
        u = units.get((code, valid_from))
        return (1, UNIT_TYPE_ORDER.get(u["unit_type"] if u else "", 9), code, 0 if scope == "unit" else 1)

    out = []
    for key in sorted(figures, key=order):
        code, valid_from, scope = key
        unit = units.get((code, valid_from))
        if unit is None:
            raise BuildError(
                f"Đơn vị {code} (hiệu lực từ {valid_from:%d/%m/%Y}) có số liệu kỳ {period.label_vi} nhưng không phải"
                " đơn vị hiện nay trong marts.dim_units"
            )
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


# The periods of a query as two parallel arrays, numbered in the caller's order (`ord`, from 1).
_PERIODS_SQL = "unnest(%(types)s::text[], %(starts)s::date[]) WITH ORDINALITY AS p(period_type, period_start, ord)"


def _period_params(periods: list[Period]) -> dict:
    return {"types": [p.period_type for p in periods], "starts": [p.period_start for p in periods]}


def _by_period(
    conn: psycopg.Connection, sql: str, periods: list[Period], params: dict | None = None
) -> dict[int, list[dict]]:
    """Rows of `sql` (which selects `p.ord` and joins _PERIODS_SQL) grouped by period number."""
    out: dict[int, list[dict]] = defaultdict(list)
    if periods:
        for r in _q(conn, sql.format(periods=_PERIODS_SQL), {**_period_params(periods), **(params or {})}):
            out[r.pop("ord")].append(r)
    return out


def _bieu06_rows(conn: psycopg.Connection, periods: list[Period]) -> dict[int, list[dict]]:
    cols = ", ".join(f"r.{c}" for c in BIEU_06_FIGURES.values())
    return _by_period(
        conn,
        f"SELECT p.ord, r.unit_code, r.unit_valid_from, r.scope, {cols} FROM marts.rpt_dossier_report r"
        " JOIN {periods} USING (period_type, period_start) WHERE r.basis = %(basis)s",
        periods,
        {"basis": BASIS},
    )


def _bieu06_figures(rows: list[dict]) -> Figures:
    return {
        (r["unit_code"], r["unit_valid_from"], r["scope"]): [
            {"ma": code, "giaTri": _num(r[col] if r[col] is not None else 0, 0)}
            for code, col in BIEU_06_FIGURES.items()
        ]
        for r in rows
        if r["scope"] in PHAM_VI
    }


# Indicator rows of many periods in one streamed query: each period's rows together, in document order.
_INDICATORS_SQL = (
    "SELECT p.ord, f.unit_code, f.unit_valid_from, f.scope, f.indicator_code, f.framework, f.group_code,"
    " f.numerator, f.denominator, f.value, f.points, f.max_points, f.is_applicable FROM marts.fct_indicator_values f"
    " JOIN {periods} USING (period_type, period_start) WHERE f.basis = %(basis)s AND f.framework = ANY(%(frameworks)s)"
    " ORDER BY p.ord, f.framework <> 'QD766', f.framework, f.indicator_code"
)
STREAM_ROWS = 5000  # rows per network chunk of the streamed indicator query


def _indicator_groups(conn: psycopg.Connection, periods: list[Period]) -> Iterator[tuple[int, list[tuple]]]:
    """(period number, its indicator rows as tuples), period by period, from one query."""
    if not periods:
        return
    params = {**_period_params(periods), "basis": BASIS, "frameworks": list(CDS_FRAMEWORKS)}
    current, rows = None, []
    with conn.cursor() as cur:
        for r in cur.stream(_INDICATORS_SQL.format(periods=_PERIODS_SQL), params, size=STREAM_ROWS):
            if r[0] != current:
                if rows:
                    yield current, rows
                current, rows = r[0], []
            rows.append(r[1:])
    if rows:
        yield current, rows


def _cds_rankings(conn: psycopg.Connection, periods: list[Period]) -> dict[int, list[dict]]:
    return _by_period(
        conn,
        "SELECT p.ord, r.ranking_code, r.unit_group, r.unit_code, r.unit_valid_from, r.rank"
        " FROM marts.rpt_unit_rankings r JOIN {periods} USING (period_type, period_start) WHERE r.basis = %(basis)s",
        periods,
        {"basis": BASIS},
    )


# A ranking's score row of the same basis, unit, scope and period as the QĐ 766 scores row `s`.
_RANKING_SCORE_JOIN = (
    " LEFT JOIN marts.rpt_ranking_scores {a} ON {a}.ranking_code = '{code}' AND {a}.basis = s.basis"
    " AND {a}.unit_code = s.unit_code AND {a}.unit_valid_from = s.unit_valid_from AND {a}.scope = s.scope"
    " AND {a}.period_type = s.period_type AND {a}.period_start = s.period_start"
)


def _cds_scores(conn: psycopg.Connection, periods: list[Period]) -> dict[int, list[dict]]:
    """QĐ 766 group points and total (rpt_qd766_scores) with the QĐ 766 maximum and the CDS score and maximum
    (rpt_ranking_scores), one row per unit and scope."""
    return _by_period(
        conn,
        "SELECT p.ord, s.unit_code, s.unit_valid_from, s.scope, s.ckmb, s.tdgq, s.clgq, s.mdsh, s.tttt, s.mdhl,"
        " s.total_points, q.max_score AS qd766_max, c.score AS cds_score, c.max_score AS cds_max"
        " FROM marts.rpt_qd766_scores s JOIN {periods} USING (period_type, period_start)"
        + _RANKING_SCORE_JOIN.format(a="q", code="QD766")
        + _RANKING_SCORE_JOIN.format(a="c", code="CDS")
        + " WHERE s.basis = %(basis)s",
        periods,
        {"basis": BASIS},
    )


def _cds_figures(indicator_rows: list[tuple], ranking_rows: list[dict], score_rows: list[dict]) -> Figures:
    figures: Figures = defaultdict(list)
    # Group maxima from the marts' max_points of each QD766 group's indicators.
    group_max: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in indicator_rows:
        unit_code, valid_from, scope, code, framework, group_code, num, den, value, pts, max_pts, applicable = row
        if scope not in PHAM_VI:
            continue
        k = (unit_code, valid_from, scope)
        item: dict[str, Any] = {"ma": code, "giaTri": _num(value, VALUE_DIGITS) if applicable else None}
        if num is not None:
            item["tuSo"] = _num(num, VALUE_DIGITS)
        if den is not None:
            item["mauSo"] = _num(den, VALUE_DIGITS)
        if pts is not None:
            item["diem"] = _num(pts, POINT_DIGITS)
        if max_pts is not None:
            item["diemToiDa"] = _num(max_pts, POINT_DIGITS)
        figures[k].append(item)
        if framework == "QD766":
            group_max[(*k, group_code)] += Decimal(str(max_pts or 0))

    ranks: dict[tuple, dict] = {}
    for r in ranking_rows:
        scope = "area" if r["unit_group"] in AREA_RANKING_GROUPS else "unit"
        ranks[(r["ranking_code"], r["unit_code"], r["unit_valid_from"], scope)] = r

    for r in score_rows:
        k = (r["unit_code"], r["unit_valid_from"], r["scope"])
        if k not in figures:
            continue
        for g in QD766_GROUPS:
            item = {"ma": f"QD766.{g}", "giaTri": _num(r[g.lower()], POINT_DIGITS)}
            if r[g.lower()] is not None:
                item["diem"] = item["giaTri"]
            if group_max.get((*k, g)):
                item["diemToiDa"] = _num(group_max[(*k, g)], POINT_DIGITS)
            figures[k].append(item)
        figures[k].append(_total(QD766_TOTAL, r["total_points"], r["qd766_max"], ranks.get(("QD766", *k))))
        figures[k].append(_total(CDS_TOTAL, r["cds_score"], r["cds_max"], ranks.get(("CDS", *k))))
    return figures


def _total(code: str, score: Any, max_points: Any, rank: dict | None) -> dict:
    item: dict[str, Any] = {"ma": code, "giaTri": _num(score, POINT_DIGITS)}
    if score is not None:
        item["diem"] = item["giaTri"]
    if max_points is not None:
        item["diemToiDa"] = _num(max_points, POINT_DIGITS)
    if rank is not None and rank["rank"] is not None:
        item["xepHang"] = int(rank["rank"])
    return item


def _document(period: Period, units: _Units, figures: Figures) -> dict:
    province = units.province
    if period.period_end < province["unit_valid_from"]:
        raise BuildError(
            f"Kỳ {period.label_vi} kết thúc trước ngày {province['unit_name']} ({province['unit_code']}) có hiệu lực"
            f" ({province['unit_valid_from']:%d/%m/%Y}): báo cáo kỳ này thuộc trách nhiệm của các tỉnh trước khi"
            " sắp xếp, không gửi lại"
        )
    if not figures:
        raise BuildError(f"Không có số liệu {period.report} cho kỳ {period.label_vi} trong marts")
    doc = _header(period, province)
    doc["duLieu"] = _items(
        figures, units.at(period.period_end), (province["unit_code"], province["unit_valid_from"]), period
    )
    return doc


def build_documents(conn: psycopg.Connection, periods: Iterable[Period]) -> Iterator[tuple[Period, dict | BuildError]]:
    """Each period's document figures (or why the marts cannot give them), in the order given.

    Five queries whatever the number of periods: today's units, Biểu 06 rows, rankings and QĐ 766 / CDS scores of
    all the periods, and their indicator rows in one query streamed period by period (a document's rows
    are in memory while it is built, not the whole history's). While the stream runs the connection is
    busy: use another connection for anything done between two documents. Read in one REPEATABLE READ
    transaction, the documents are built from one state of the marts.
    """
    periods = list(periods)
    if not periods:
        return
    units = _Units(conn)
    numbered = list(enumerate(periods, start=1))
    bieu = [(i, p) for i, p in numbered if p.report == BIEU_06]
    cds = [(i, p) for i, p in numbered if p.report != BIEU_06]
    # Queries number their periods from 1 within their own list: map back to the position in `periods`.
    bieu_rows = _renumber(_bieu06_rows(conn, [p for _, p in bieu]), bieu)
    rankings = _renumber(_cds_rankings(conn, [p for _, p in cds]), cds)
    scores = _renumber(_cds_scores(conn, [p for _, p in cds]), cds)
    indicators = ((cds[n - 1][0], rows) for n, rows in _indicator_groups(conn, [p for _, p in cds]))
    pending = next(indicators, None)
    for i, period in numbered:
        if period.report == BIEU_06:
            figures = _bieu06_figures(bieu_rows.get(i, []))
        else:
            rows: list[tuple] = []
            if pending is not None and pending[0] == i:
                rows = pending[1]
                pending = next(indicators, None)
            figures = _cds_figures(rows, rankings.get(i, []), scores.get(i, [])) if rows else {}
        try:
            yield period, _document(period, units, figures)
        except BuildError as e:
            yield period, e


def _renumber(groups: dict[int, list[dict]], numbered: list[tuple[int, Period]]) -> dict[int, list[dict]]:
    return {numbered[n - 1][0]: rows for n, rows in groups.items()}


def build_document(conn: psycopg.Connection, period: Period) -> dict:
    """The document's figures (no `lanGui` / `thoiDiemLap` yet: those belong to a submission)."""
    [(_, doc)] = list(build_documents(conn, [period]))  # read to the end: the connection is free again
    if isinstance(doc, BuildError):
        raise doc
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


HASH_EXCLUDED = ("lanGui", "thoiDiemLap")


def content_hash(doc: dict) -> str:
    """Hash of the figures: everything but the revision and the time the document was drawn up."""
    figures = {k: v for k, v in doc.items() if k not in HASH_EXCLUDED}
    return hashlib.sha256(canonical(figures).encode()).hexdigest()


class Canonical:
    """`canonical()` of a document and `content_hash()` of its figures from one encoding of each top-level value.

    A JSON object with sorted keys is `{` + the `"key":value` pairs joined by `,` + `}`, so both texts are
    assembled from the same encoded parts (the figures once, not once per text): byte for byte what
    `canonical` and `content_hash` give.
    """

    def __init__(self, doc: dict) -> None:
        self._parts = {k: canonical(k) + ":" + canonical(v) for k, v in doc.items()}

    def _join(self, keys) -> str:
        return "{" + ",".join(self._parts[k] for k in sorted(keys)) + "}"

    @property
    def text(self) -> str:
        return self._join(self._parts)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self._join(k for k in self._parts if k not in HASH_EXCLUDED).encode()).hexdigest()

    def with_fields(self, **fields) -> Canonical:
        """The same document with other top-level fields (`lanGui`, `thoiDiemLap`), figures not re-encoded."""
        out = Canonical.__new__(Canonical)
        out._parts = {**self._parts, **{k: canonical(k) + ":" + canonical(v) for k, v in fields.items()}}
        return out


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
