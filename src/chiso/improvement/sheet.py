"""Read a unit's month from the marts and write its "Phiếu cải thiện chỉ số" (openpyxl).

The form: who sends it (the province's Sở Khoa học và Công nghệ), the unit, the month, its QD766 total, band and
ranks, what separates it from the next band and from the unit ranked just above, the gap table (one row per
indicator: points lost, what to add or remove and how many, points per item, last month's points) and the plan to
the next band. Every figure is a number cell taken from the marts as they are; a hidden sheet carries the keys so
`read_back` can read a file again (tests, `chiso phieu list`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from psycopg.rows import dict_row

SENDER = "SỞ KHOA HỌC VÀ CÔNG NGHỆ"
TITLE = "PHIẾU CẢI THIỆN CHỈ SỐ"
INFO_SHEET = "Thông tin"
MAIN_SHEET = "Phiếu cải thiện"
BASIS_VI = {"current": "Theo đơn vị hiện nay", "historical": "Theo đơn vị tại thời điểm"}
SCOPE_VI = {"unit": "Đơn vị (tự thực hiện)", "area": "Địa bàn (gồm cấp dưới)"}
GROUP_VI = {
    "CKMB": "1. Công khai, minh bạch",
    "TDGQ": "2. Tiến độ giải quyết",
    "CLGQ": "3. Dịch vụ công trực tuyến",
    "MDSH": "4. Mức độ số hóa hồ sơ",
    "TTTT": "5. Thanh toán trực tuyến",
    "MDHL": "6. Mức độ hài lòng",
    "EDOC": "Văn bản điện tử (điểm chuyển đổi số)",
    "ESIGN": "Chữ ký số (điểm chuyển đổi số)",
}
GROUP_ORDER = list(GROUP_VI)
UNIT_GROUP_VI = {"SO_NGANH": "Sở, ban, ngành", "HUYEN": "Huyện, thị xã, thành phố", "XA": "Xã, phường, thị trấn"}
# Bump when the layout changes: files written by an older layout are rewritten.
LAYOUT_VERSION = "1"

# The gap table: (header, key in an indicator row); the code row under the headers names the keys.
GAP_COLUMNS = [
    ("STT", "stt"),
    ("Mã chỉ số", "indicator_code"),
    ("Tên chỉ số", "indicator_name_vi"),
    ("Tử số", "numerator"),
    ("Mẫu số", "denominator"),
    ("Giá trị", "value"),
    ("Điểm", "points"),
    ("Điểm tối đa", "max_points"),
    ("Điểm còn thiếu", "points_lost"),
    ("Việc cần làm", "todo_vi"),
    ("Số lượng cần để đạt điểm tối đa", "count_needed_for_full"),
    ("Điểm cho mỗi đơn vị", "points_per_item"),
    ("Điểm kỳ trước", "previous_points"),
    ("Tăng (+) / giảm (−) so với kỳ trước", "points_change"),
    ("Ghi chú", "note_vi"),
]
PLAN_COLUMNS = [
    ("Bước", "step"),
    ("Mã chỉ số", "indicator_code"),
    ("Tên chỉ số", "indicator_name_vi"),
    ("Việc cần làm", "todo_vi"),
    ("Số lượng", "items"),
    ("Điểm tăng thêm", "points_gained"),
    ("Điểm cộng dồn", "cumulative_points"),
    ("Tổng điểm sau bước", "total_after"),
    ("Đạt mức xếp loại tiếp theo", "reaches_band_vi"),
]
CODE_ROW_LABEL = "Mã cột"

_BOLD = Font(bold=True)
_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_GROUP_FILL = PatternFill("solid", fgColor="F2F2F2")
_GAP_FILL = PatternFill("solid", fgColor="FFF2CC")
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_FORMATS = {
    "numerator": "#,##0.##",
    "denominator": "#,##0.##",
    "value": "0.0000",
    "points": "0.00",
    "max_points": "0.00",
    "points_lost": "0.00",
    "count_needed_for_full": "#,##0",
    "points_per_item": "0.000000",
    "previous_points": "0.00",
    "points_change": "+0.00;−0.00;0.00",
    "items": "#,##0",
    "points_gained": "0.00",
    "cumulative_points": "0.00",
    "total_after": "0.00",
}


class SheetError(Exception):
    """Why a sheet cannot be made, in Vietnamese for the operator."""


def parse_month(text: str) -> date:
    """'2026-10' -> 1/10/2026."""
    try:
        year, month = text.strip().split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise SheetError(f"Tháng không hợp lệ: '{text}'. Nhập theo dạng NNNN-TT, ví dụ 2026-10.") from None


def month_text(month: date) -> str:
    return f"{month:%Y-%m}"


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def sheet_path(out_dir: Path, unit_code: str, month: date, basis: str = "current", scope: str = "unit") -> Path:
    """$CHISO_HOME/phieu/2026-10/<unit_code>.xlsx (other bases and scopes get a suffix)."""
    suffix = "".join(f".{x}" for x, default in ((basis, "current"), (scope, "unit")) if x != default)
    return out_dir / month_text(month) / f"{unit_code}{suffix}.xlsx"


@dataclass
class Sheet:
    """One unit's month as the marts hold it."""

    unit_code: str
    unit_valid_from: date
    unit_name: str
    unit_type: str | None
    basis: str
    scope: str
    month: date
    period_label: str
    period_end: date
    evaluated_to: date | None
    is_complete: bool | None
    province_name: str | None
    summary: dict[str, Any]
    indicators: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

    def fingerprint(self) -> str:
        """Changes when any figure on the sheet changes (or the layout): unchanged sheets are not rewritten."""
        body = json.dumps([LAYOUT_VERSION, asdict(self)], default=str, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


_SUMMARY_COLS = [
    "total_points", "band", "next_band", "next_band_lower_bound", "points_to_next_band", "unit_group", "rank",
    "units_ranked", "rank_above", "points_to_next_rank", "cds_score", "cds_rank", "cds_units_ranked", "cds_rank_above",
    "cds_points_to_next_rank",
]
_INDICATOR_COLS = [
    "indicator_code", "indicator_name_vi", "framework", "group_code", "numerator", "denominator", "value", "points",
    "max_points", "points_lost", "item_action", "item_vi", "count_needed_for_full", "count_is_minimum",
    "points_per_item", "items_per_point", "cds_points_lost", "is_applicable", "note_vi",
]
_PLAN_COLS = [
    "step", "indicator_code", "indicator_name_vi", "item_action", "item_vi", "items", "points_gained",
    "cumulative_points", "total_after", "reaches_band", "is_partial",
]


def connect(warehouse_uri: str) -> psycopg.Connection:
    """Read-only, one snapshot of the marts for every query of a run."""
    conn = psycopg.connect(warehouse_uri)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _rows(conn: psycopg.Connection, sql: str, params: dict) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def months_with_data(conn: psycopg.Connection) -> list[date]:
    rows = _rows(
        conn,
        "SELECT DISTINCT period_start FROM marts.rpt_unit_improvement WHERE period_type = 'month' ORDER BY 1",
        {},
    )
    return [r["period_start"] for r in rows]


def _todo(row: dict) -> str:
    n = row.get("count_needed_for_full")
    if row.get("max_points") == 0:
        return "Không tính điểm"
    if n is None:
        return "—"
    if n == 0:
        return "Đã đạt điểm tối đa"
    verb = "Giảm bớt" if row["item_action"] == "remove" else "Tăng thêm"
    least = "ít nhất " if row.get("count_is_minimum") else ""
    return f"{verb} {least}{n:,}".replace(",", ".") + f": {row.get('item_vi') or ''}"


def load_month(
    conn: psycopg.Connection,
    month: date,
    *,
    basis: str = "current",
    scope: str = "unit",
    unit_codes: list[str] | None = None,
) -> dict[str, Sheet]:
    """Every unit's sheet of a month (or only `unit_codes`), by unit code. A code two units held in the month
    (historical basis, identifiers reused across the 2025 reform) gives the later unit's sheet."""
    params = {"basis": basis, "scope": scope, "month": month, "prev": previous_month(month), "codes": unit_codes}
    only = "" if unit_codes is None else " AND unit_code = ANY(%(codes)s)"
    (period,) = _rows(
        conn,
        "SELECT p.*, (SELECT u.unit_name FROM marts.dim_units u WHERE u.is_current AND u.unit_type = 'UBND_TINH'"
        " ORDER BY u.valid_from DESC LIMIT 1) AS province_name"
        " FROM (SELECT %(month)s::date AS period_start) k"
        " LEFT JOIN marts.dim_periods p ON p.period_type = 'month' AND p.period_start = k.period_start",
        params,
    )
    if period["period_end"] is None:
        raise SheetError(f"Kho chưa có số liệu tháng {month:%m/%Y}.")
    rows = _rows(
        conn,
        "SELECT * FROM marts.rpt_unit_improvement WHERE basis = %(basis)s AND scope = %(scope)s"
        " AND period_type = 'month' AND period_start IN (%(month)s, %(prev)s)" + only,
        params,
    )
    plans = _rows(
        conn,
        "SELECT * FROM marts.rpt_unit_improvement_plan WHERE basis = %(basis)s AND scope = %(scope)s"
        " AND period_type = 'month' AND period_start = %(month)s" + only + " ORDER BY step",
        params,
    )
    latest: dict[str, date] = {}
    for r in rows:
        if r["period_start"] == month:
            latest[r["unit_code"]] = max(latest.get(r["unit_code"], r["unit_valid_from"]), r["unit_valid_from"])
    previous = {
        (r["unit_code"], r["unit_valid_from"], r["indicator_code"]): r["points"]
        for r in rows
        if r["period_start"] != month
    }
    sheets: dict[str, Sheet] = {}
    for r in sorted(rows, key=lambda r: (GROUP_ORDER.index(r["group_code"]) if r["group_code"] in GROUP_ORDER
                                         else len(GROUP_ORDER), r["indicator_code"])):
        if r["period_start"] != month or r["unit_valid_from"] != latest[r["unit_code"]]:
            continue
        sheet = sheets.get(r["unit_code"])
        if sheet is None:
            sheet = sheets[r["unit_code"]] = Sheet(
                unit_code=r["unit_code"],
                unit_valid_from=r["unit_valid_from"],
                unit_name=r["unit_name"],
                unit_type=r["unit_type"],
                basis=basis,
                scope=scope,
                month=month,
                period_label=period["label_vi"],
                period_end=period["period_end"],
                evaluated_to=period["evaluated_to"],
                is_complete=period["is_complete"],
                province_name=period["province_name"],
                summary={c: r[c] for c in _SUMMARY_COLS},
            )
        item = {c: r[c] for c in _INDICATOR_COLS}
        prev = previous.get((r["unit_code"], r["unit_valid_from"], r["indicator_code"]))
        item["previous_points"] = prev
        item["points_change"] = None if prev is None else r["points"] - prev
        item["todo_vi"] = _todo(item)
        sheet.indicators.append(item)
    for p in plans:
        sheet = sheets.get(p["unit_code"])
        if sheet is not None and p["unit_valid_from"] == sheet.unit_valid_from:
            step = {c: p[c] for c in _PLAN_COLS}
            step["todo_vi"] = _todo({**step, "count_needed_for_full": step["items"], "max_points": None})
            step["reaches_band_vi"] = "Đạt" if p["reaches_band"] else "Chưa đạt"
            sheet.plan.append(step)
    return sheets


def load(
    conn: psycopg.Connection, unit_code: str, month: date, *, basis: str = "current", scope: str = "unit"
) -> Sheet:
    sheets = load_month(conn, month, basis=basis, scope=scope, unit_codes=[unit_code])
    if unit_code not in sheets:
        known = _rows(
            conn,
            "SELECT 1 FROM marts.rpt_unit_improvement WHERE unit_code = %(code)s AND basis = %(basis)s LIMIT 1",
            {"code": unit_code, "basis": basis},
        )
        if not known:
            raise SheetError(
                f"Không có đơn vị mã định danh '{unit_code}' trong kho ({BASIS_VI.get(basis, basis).lower()})."
            )
        raise SheetError(
            f"Đơn vị '{unit_code}' không có số liệu tháng {month:%m/%Y} ({SCOPE_VI.get(scope, scope).lower()},"
            f" {BASIS_VI.get(basis, basis).lower()})."
        )
    return sheets[unit_code]


# ---------------------------------------------------------------- writing


def _num(v: Any) -> Any:
    """Numbers as Excel numbers (Decimal -> int or float); everything else as is."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)
    return v


def _d(v: Any, digits: int = 2) -> str:
    """A number the Vietnamese way: 1.234,56."""
    if v is None:
        return "—"
    s = f"{Decimal(str(v)):,.{digits}f}"
    return s.replace(",", "\0").replace(".", ",").replace("\0", ".")


def _dmy(d: date | None) -> str:
    return "—" if d is None else f"{d:%d/%m/%Y}"


def _header(ws, sheet: Sheet, width: int) -> int:
    province = (sheet.province_name or "UBND tỉnh").upper()
    ws.cell(row=1, column=1, value=province).font = _BOLD
    ws.cell(row=2, column=1, value=SENDER).font = _BOLD
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=5)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=5)
    right = width - 5
    ws.cell(row=1, column=right, value="CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").font = _BOLD
    ws.cell(row=2, column=right, value="Độc lập - Tự do - Hạnh phúc").font = Font(bold=True, underline="single")
    for r in (1, 2):
        ws.merge_cells(start_row=r, start_column=right, end_row=r, end_column=width)
        ws.cell(row=r, column=right).alignment = _CENTER
        ws.cell(row=r, column=1).alignment = _CENTER
    ws.cell(row=4, column=1, value=TITLE).font = Font(bold=True, size=14)
    ws.cell(row=5, column=1, value=f"{sheet.period_label} — {sheet.unit_name}").font = Font(bold=True, italic=True)
    for r in (4, 5):
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
        ws.cell(row=r, column=1).alignment = _CENTER

    s = sheet.summary
    data_note = (
        "đủ số liệu các ngày trong tháng"
        if sheet.is_complete
        else f"số liệu tạm tính đến ngày {_dmy(sheet.evaluated_to)}"
    )
    lines = [
        f"Đơn vị: {sheet.unit_name} (mã định danh {sheet.unit_code})",
        f"Kỳ đánh giá: tháng {sheet.month:%m/%Y}, từ {_dmy(sheet.month)} đến {_dmy(sheet.period_end)} ({data_note})",
        f"Cơ sở số liệu: {BASIS_VI.get(sheet.basis, sheet.basis)}; phạm vi: {SCOPE_VI.get(sheet.scope, sheet.scope)}",
        f"Tổng điểm Chỉ số phục vụ người dân và doanh nghiệp (QĐ 766/QĐ-TTg): {_d(s['total_points'])}/100 —"
        f" xếp loại: {s['band'] or '—'}",
    ]
    if s["next_band"]:
        lines.append(
            f"Mức xếp loại tiếp theo: {s['next_band']} (từ {_d(s['next_band_lower_bound'], 0)} điểm), cần thêm"
            f" {_d(s['points_to_next_band'])} điểm"
        )
    else:
        lines.append("Đơn vị đã ở mức xếp loại cao nhất")
    if s["rank"] is not None:
        group = UNIT_GROUP_VI.get(s["unit_group"], s["unit_group"])
        above = (
            f"cần thêm {_d(s['points_to_next_rank'])} điểm để bằng đơn vị xếp hạng {s['rank_above']}"
            if s["points_to_next_rank"] is not None
            else "đứng đầu nhóm"
        )
        lines.append(f"Xếp hạng QĐ 766: {s['rank']}/{s['units_ranked']} ({group}); {above}")
        if s["cds_rank"] is not None:
            cds_above = (
                f"cần thêm {_d(s['cds_points_to_next_rank'])} điểm để bằng đơn vị xếp hạng {s['cds_rank_above']}"
                if s["cds_points_to_next_rank"] is not None
                else "đứng đầu nhóm"
            )
            lines.append(
                f"Chỉ số chuyển đổi số (1.000 điểm): {_d(s['cds_score'])} điểm, xếp hạng"
                f" {s['cds_rank']}/{s['cds_units_ranked']}; {cds_above}"
            )
    row = 7
    for text in lines:
        ws.cell(row=row, column=1, value=text)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        row += 1
    return row + 1


def _table(ws, top: int, title: str, columns: list[tuple[str, str]], rows: list[dict], *, groups: bool) -> int:
    ws.cell(row=top, column=1, value=title).font = Font(bold=True, size=12)
    head = top + 1
    for j, (text, _) in enumerate(columns, start=1):
        c = ws.cell(row=head, column=j, value=text)
        c.font, c.fill, c.border, c.alignment = _BOLD, _HEAD_FILL, _BOX, _CENTER
    ws.row_dimensions[head].height = 45
    codes = head + 1
    ws.cell(row=codes, column=1, value=CODE_ROW_LABEL).font = Font(italic=True, size=8, color="808080")
    for j, (_, key) in enumerate(columns[1:], start=2):
        ws.cell(row=codes, column=j, value=key).font = Font(italic=True, size=8, color="808080")
    ws.row_dimensions[codes].hidden = True  # for read_back, not for people
    r = codes + 1
    group = None
    for n, item in enumerate(rows, start=1):
        if groups and item.get("group_code") != group:
            group = item.get("group_code")
            c = ws.cell(row=r, column=1, value=GROUP_VI.get(group, group))
            c.font, c.fill = _BOLD, _GROUP_FILL
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(columns))
            r += 1
        lacking = groups and (item.get("points_lost") or 0) > 0
        for j, (_, key) in enumerate(columns, start=1):
            value = n if key == "stt" else _num(item.get(key))
            c = ws.cell(row=r, column=j, value=value)
            c.border, c.alignment = _BOX, _WRAP
            if key in _FORMATS:
                c.number_format = _FORMATS[key]
            if lacking and key in ("points_lost", "todo_vi", "count_needed_for_full"):
                c.fill = _GAP_FILL
        r += 1
    return r + 1


def write(sheet: Sheet, path: Path) -> Path:
    """Write the workbook atomically (a reader never sees half a file)."""
    wb = Workbook()
    ws = wb.active
    ws.title = MAIN_SHEET
    width = len(GAP_COLUMNS)
    row = _header(ws, sheet, width)
    row = _table(ws, row, "I. KHOẢNG CÁCH THEO TỪNG CHỈ SỐ", GAP_COLUMNS, sheet.indicators, groups=True)
    s = sheet.summary
    if s["next_band"] is None:
        plan_title = "II. LỘ TRÌNH: đơn vị đã ở mức xếp loại cao nhất"
    else:
        plan_title = (
            f"II. LỘ TRÌNH ĐẠT MỨC XẾP LOẠI \"{s['next_band'].upper()}\""
            f" (cần thêm {_d(s['points_to_next_band'])} điểm)"
        )
    row = _table(ws, row, plan_title, PLAN_COLUMNS, sheet.plan, groups=False)
    notes = [
        "Cách lập: số lượng cần để đạt điểm tối đa là số hồ sơ, văn bản, lượt ký… ít nhất cần thêm vào tử số (cùng"
        " mẫu số; với chỉ số càng thấp càng tốt và chỉ số hài lòng giải quyết hồ sơ là số cần giảm bớt), tính trên"
        " điểm đã làm tròn 2 chữ số thập phân như Cổng Dịch vụ công quốc gia công bố.",
        "Lộ trình chọn trước các chỉ số cần ít đơn vị nhất cho mỗi điểm (cách chọn tham lam), bước cuối chỉ làm đủ"
        " để đạt mức xếp loại; các chỉ số được tính độc lập với nhau.",
    ]
    if not sheet.plan and s["next_band"] is not None:
        notes.insert(0, "Không có chỉ số nào còn tăng được điểm bằng cách thêm hoặc bớt hồ sơ, văn bản.")
    elif sheet.plan and not sheet.plan[-1]["reaches_band"]:
        notes.insert(0, "Làm đủ mọi bước vẫn chưa đạt mức xếp loại tiếp theo: phần điểm còn thiếu nằm ở các chỉ số"
                        " không tăng được bằng số lượng của đơn vị (không phát sinh, mẫu số bằng 0, hoặc do tỉnh"
                        " thực hiện): xem cột Ghi chú.")
    for text in notes:
        ws.cell(row=row, column=1, value=text).alignment = _WRAP
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        ws.row_dimensions[row].height = 30
        row += 1
    row += 1
    ws.cell(row=row, column=width - 4, value=f"Ngày lập: {datetime.now():%d/%m/%Y}").font = Font(italic=True)
    ws.cell(row=row + 1, column=width - 4, value=SENDER).font = _BOLD

    for j, w in enumerate([6, 30, 40, 11, 11, 10, 9, 9, 10, 46, 14, 12, 10, 12, 46], start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0

    info = wb.create_sheet(INFO_SHEET)
    info.append(["khoa", "gia_tri"])
    for k, v in (
        ("unit_code", sheet.unit_code),
        ("unit_valid_from", sheet.unit_valid_from.isoformat()),
        ("unit_name", sheet.unit_name),
        ("month", month_text(sheet.month)),
        ("basis", sheet.basis),
        ("scope", sheet.scope),
        ("fingerprint", sheet.fingerprint()),
        ("layout_version", LAYOUT_VERSION),
        *((k, _num(v)) for k, v in sheet.summary.items()),
    ):
        info.append([k, v])
    info.sheet_state = "hidden"

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- reading back


def read_info(path: Path) -> dict[str, Any]:
    wb = load_workbook(path, read_only=True)
    try:
        return {r[0]: r[1] for r in wb[INFO_SHEET].iter_rows(min_row=2, values_only=True)}
    finally:
        wb.close()


def read_back(path: Path) -> dict[str, Any]:
    """{'info': …, 'indicators': [row by column key], 'plan': […]} from a workbook written by `write`."""
    wb = load_workbook(path, read_only=True)
    try:
        info = {r[0]: r[1] for r in wb[INFO_SHEET].iter_rows(min_row=2, values_only=True)}
        rows = list(wb[MAIN_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()
    tables: list[list[dict]] = []
    keys: list[str] | None = None
    for r in rows:
        if r and r[0] == CODE_ROW_LABEL:
            first = (GAP_COLUMNS, PLAN_COLUMNS)[min(len(tables), 1)][0][1]
            keys = [first, *r[1:]]
            tables.append([])
        elif keys is not None and r and isinstance(r[0], int):
            tables[-1].append({k: v for k, v in zip(keys, r, strict=False) if k})
        elif keys is not None and (not r or r[0] is None):
            keys = None  # the blank row closing a table
    indicators, plan = (tables + [[], []])[:2]
    return {"info": info, "indicators": indicators, "plan": plan}
