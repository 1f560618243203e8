"""Documents for the national reporting system, built from the marts (warehouse.md, "What goes to ...").

One document per report and period, reported by the province committee: the province's territory
(`DIA_BAN`) first, then every unit on its own (`DON_VI`); units with units below them (districts) also
get their territory (`DIA_BAN`), because district rankings are computed on the territory.

`build_documents` builds the documents of many periods from a fixed handful of set-based queries (units,
Biểu 06 rows, rankings, QĐ 766 scores for all the periods at once; the indicator rows of all the periods in
one query, streamed period by period), so the cost of a run does not grow with round trips per document.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
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
    """Every (report, period) the marts hold, with how far each was evaluated when the marts say so."""
    out: list[Period] = []
    columns = _columns(conn, ("rpt_dossier_report", "fct_indicator_values"))
    for report, table in ((BIEU_06, "rpt_dossier_report"), (CHI_SO_CDS, "fct_indicator_values")):
        has_evaluated = (table, "evaluated_to") in columns
        evaluated = "min(evaluated_to)" if has_evaluated else "NULL::date"
        if (table, "period_end") in columns:
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


def _columns(conn: psycopg.Connection, tables: tuple[str, ...]) -> set[tuple[str, str]]:
    """(table, column) of the given marts tables."""
    rows = conn.execute(
        "SELECT table_name::text, column_name::text FROM information_schema.columns"
        " WHERE table_schema = 'marts' AND table_name = ANY(%s)",
        (list(tables),),
    ).fetchall()
    return {(t, c) for t, c in rows}


class _UnitVersions:
    """Every version of dim_units overlapping the periods, read once; each period picks its versions."""

    def __init__(self, conn: psycopg.Connection, periods: list[Period]) -> None:
        self.rows = _q(
            conn,
            "SELECT unit_code, unit_name, unit_type, parent_unit_code, admin_area_code, valid_from, valid_to"
            " FROM marts.dim_units WHERE valid_from <= %(end)s AND (valid_to IS NULL OR valid_to >= %(start)s)",
            {"start": min(p.period_start for p in periods), "end": max(p.period_end for p in periods)},
        )
        self._cache: dict[tuple[date, date], dict[str, dict]] = {}

    def at(self, start: date, end: date) -> dict[str, dict]:
        """unit_code -> the unit's version in force at the period end (or its last version in the period), as
        `DISTINCT ON (unit_code) ... ORDER BY unit_code, (valid_to IS NULL OR valid_to >= end) DESC, valid_from DESC`
        would pick it."""
        key = (start, end)
        if key not in self._cache:
            best: dict[str, tuple[tuple, dict]] = {}
            for r in self.rows:
                if r["valid_from"] > end or (r["valid_to"] is not None and r["valid_to"] < start):
                    continue
                rank = (r["valid_to"] is None or r["valid_to"] >= end, r["valid_from"])
                code = r["unit_code"]
                if code not in best or rank > best[code][0]:
                    best[code] = (rank, r)
            cols = ("unit_code", "unit_name", "unit_type", "parent_unit_code", "admin_area_code")
            self._cache[key] = {code: {c: r[c] for c in cols} for code, (_, r) in best.items()}
        return self._cache[key]


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
        f"SELECT p.ord, r.unit_code, r.scope, {cols} FROM marts.rpt_dossier_report r"
        " JOIN {periods} USING (period_type, period_start)",
        periods,
    )


def _bieu06_figures(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    return {
        (r["unit_code"], r["scope"]): [
            {"ma": code, "giaTri": _num(r[col] if r[col] is not None else 0, 0)}
            for code, col in BIEU_06_FIGURES.items()
        ]
        for r in rows
        if r["scope"] in PHAM_VI
    }


# Indicator rows of many periods in one streamed query: each period's rows together, in document order.
_INDICATORS_SQL = (
    "SELECT p.ord, f.unit_code, f.scope, f.indicator_code, f.framework, f.group_code, f.numerator, f.denominator,"
    " f.value, f.points, f.max_points, f.is_applicable FROM marts.fct_indicator_values f"
    " JOIN {periods} USING (period_type, period_start) WHERE f.framework = ANY(%(frameworks)s)"
    " ORDER BY p.ord, f.framework <> 'QD766', f.framework, f.indicator_code"
)
STREAM_ROWS = 5000  # rows per network chunk of the streamed indicator query


def _indicator_groups(conn: psycopg.Connection, periods: list[Period]) -> Iterator[tuple[int, list[tuple]]]:
    """(period number, its indicator rows as tuples), period by period, from one query."""
    if not periods:
        return
    params = {**_period_params(periods), "frameworks": list(CDS_FRAMEWORKS)}
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
        "SELECT p.ord, r.ranking_code, r.unit_group, r.unit_code, r.score, r.rank FROM marts.rpt_unit_rankings r"
        " JOIN {periods} USING (period_type, period_start)",
        periods,
    )


def _cds_scores(conn: psycopg.Connection, periods: list[Period]) -> dict[int, list[dict]]:
    return _by_period(
        conn,
        "SELECT p.ord, s.unit_code, s.scope, s.ckmb, s.tdgq, s.clgq, s.mdsh, s.tttt, s.mdhl, s.total_points"
        " FROM marts.rpt_qd766_scores s JOIN {periods} USING (period_type, period_start)",
        periods,
    )


def _cds_figures(
    indicator_rows: list[tuple], ranking_rows: list[dict], score_rows: list[dict]
) -> dict[tuple[str, str], list[dict]]:
    figures: dict[tuple[str, str], list[dict]] = defaultdict(list)
    points: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    group_max: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for unit_code, scope, code, framework, group_code, num, den, value, pts, max_pts, applicable in indicator_rows:
        if scope not in PHAM_VI:
            continue
        item: dict[str, Any] = {"ma": code, "giaTri": _num(value, VALUE_DIGITS) if applicable else None}
        if num is not None:
            item["tuSo"] = _num(num, VALUE_DIGITS)
        if den is not None:
            item["mauSo"] = _num(den, VALUE_DIGITS)
        if pts is not None:
            item["diem"] = _num(pts, POINT_DIGITS)
        if max_pts is not None:
            item["diemToiDa"] = _num(max_pts, POINT_DIGITS)
        figures[(unit_code, scope)].append(item)
        if framework in ("EDOC", "ESIGN") and pts is not None:
            points[(unit_code, scope)]["EDOC_ESIGN"] += Decimal(str(pts))
        if framework == "QD766":
            group_max[(unit_code, scope, group_code)] += Decimal(str(max_pts or 0))

    ranks: dict[tuple[str, str, str], dict] = {}
    for r in ranking_rows:
        scope = "area" if r["unit_group"] in AREA_RANKING_GROUPS else "unit"
        ranks[(r["ranking_code"], r["unit_code"], scope)] = r

    for r in score_rows:
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


def _document(period: Period, units: dict[str, dict], figures: dict[tuple[str, str], list[dict]]) -> dict:
    province = _province(units, period)
    if not figures:
        raise BuildError(f"Không có số liệu {period.report} cho kỳ {period.label_vi} trong marts")
    doc = _header(period, province)
    doc["duLieu"] = _items(figures, units, province, period)
    return doc


def build_documents(conn: psycopg.Connection, periods: Iterable[Period]) -> Iterator[tuple[Period, dict | BuildError]]:
    """Each period's document figures (or why the marts cannot give them), in the order given.

    Five queries whatever the number of periods: unit versions, Biểu 06 rows, rankings and QĐ 766 scores of
    all the periods, and their indicator rows in one query streamed period by period (a document's rows
    are in memory while it is built, not the whole history's). While the stream runs the connection is
    busy: use another connection for anything done between two documents. Read in one REPEATABLE READ
    transaction, the documents are built from one state of the marts.
    """
    periods = list(periods)
    if not periods:
        return
    versions = _UnitVersions(conn, periods)
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
            yield period, _document(period, versions.at(period.period_start, period.period_end), figures)
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
