"""Excel copies of the documents, for people: Biểu 06 in the form's layout, CHI_SO_CDS as indicator sheets.

Each workbook also carries a row of figure codes under the headers and an information sheet, so that
`read_items` can read it back and tests can prove the copy equals the JSON that was sent.

The data rows (a CHI_SO_CDS workbook of the demo province has ~6,000 indicator rows, ~66,000 cells) are not
written cell by cell through openpyxl, which styles and serialises every cell as objects (~4 s a workbook):
the first row of a grid goes through openpyxl, which gives its styles their ids, and the rest is written as the
same markup openpyxl writes for such cells (`_Grid`), straight into the sheet's XML when the file is saved.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass
from math import isinf, isnan
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError

from chiso.export.build import BIEU_06_FIGURES, CDS_TOTAL, QD766_GROUPS, QD766_TOTAL
from chiso.export.periods import BIEU_06, LOAI_KY_VI, REPORT_NAME_VI

PHAM_VI_VI = {"DIA_BAN": "Địa bàn", "DON_VI": "Đơn vị"}
PHAM_VI_CODE = {v: k for k, v in PHAM_VI_VI.items()}

BIEU_06_GROUPS = [
    ("Số hồ sơ nhận giải quyết", ["Tổng số", "Trực tuyến", "Trực tiếp, dịch vụ bưu chính", "Từ kỳ trước chuyển sang"]),
    ("Số hồ sơ đã giải quyết", ["Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn"]),
    ("Số hồ sơ đang giải quyết", ["Tổng số", "Trong hạn", "Quá hạn"]),
]
LEAD_COLUMNS = ["STT", "Mã định danh", "Tên đơn vị", "Phạm vi"]
CDS_FIELDS = [
    ("tuSo", "Tử số"),
    ("mauSo", "Mẫu số"),
    ("giaTri", "Giá trị"),
    ("diem", "Điểm"),
    ("diemToiDa", "Điểm tối đa"),
    ("xepHang", "Xếp hạng"),
]
CODE_ROW_LABEL = "Mã chỉ tiêu"
INFO_SHEET = "Thông tin"

_BOLD = Font(bold=True)
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _period_text(doc: dict) -> str:
    ky = doc["kyBaoCao"]
    so = f" {ky['so']}" if "so" in ky else ""
    return f"{LOAI_KY_VI[ky['loaiKy']]}{so} năm {ky['nam']} (từ ngày {ky['tuNgay']} đến ngày {ky['denNgay']})"


@dataclass
class _Grid:
    """Rows `top`, `top + 1`, ... of a sheet whose column j is styled `styles[j]` (attribute -> value)."""

    ws: object
    top: int
    styles: list[dict]
    rows: list[list] = dataclasses.field(default_factory=list)

    def place(self) -> None:
        """The first row through openpyxl (it registers the styles); the others wait for `_xml`."""
        if not self.rows:
            return
        for j, value in enumerate(self.rows[0], start=1):
            cell = self.ws.cell(row=self.top, column=j, value=value)
            for attr, style in self.styles[j - 1].items():
                setattr(cell, attr, style)
        self.style_ids = [self.ws.cell(row=self.top, column=j).style_id for j in range(1, len(self.styles) + 1)]
        self.letters = [get_column_letter(j) for j in range(1, len(self.styles) + 1)]
        self.dimension = self.ws.calculate_dimension()

    def _xml(self) -> str:
        """Rows 2.. as openpyxl's ElementTree writer writes styled cells (`cell/_writer.py`)."""
        heads = [f'<c r="{letter}' for letter in self.letters]
        tails = [f'" s="{sid}"' for sid in self.style_ids]
        # A value's markup, once: unit names, codes and many figures repeat. Keyed by type (1, 1.0 and True
        # differ); zeros not cached (0.0 and -0.0 are equal keys but not the same text).
        bodies: dict[tuple[type, object], str] = {}
        out = []
        for i, values in enumerate(self.rows[1:], start=self.top + 1):
            r = str(i)
            out.append(f'<row r="{r}">')
            for head, tail, v in zip(heads, tails, values, strict=True):
                key = (v.__class__, v)
                body = bodies.get(key)
                if body is None:
                    body = _cell_body(v)
                    if v or v.__class__ is not float:
                        bodies[key] = body
                out.append(head + r + tail + body)
            out.append("</row>")
        return "".join(out)

    def patch(self, sheet_xml: str) -> str:
        last = self.top + len(self.rows) - 1
        head, tail = sheet_xml.rsplit("</sheetData>", 1)
        dimension = re.sub(r"\d+$", lambda m: str(max(int(m.group()), last)), self.dimension)
        head = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"', head, count=1)
        return head + self._xml() + "</sheetData>" + tail


def _cell_body(v) -> str:
    """What follows `<c r=".." s=".."` for a value, as openpyxl writes it."""
    if v is None or v == "":
        return " />"
    if isinstance(v, str):
        if ILLEGAL_CHARACTERS_RE.search(v):
            raise IllegalCharacterError(f"{v} cannot be used in worksheets.")
        space = ' xml:space="preserve"' if v.strip() and v != v.strip() else ""
        return f' t="inlineStr"><is><t{space}>{escape(v)}</t></is></c>'
    if isinstance(v, bool):
        return f' t="b"><v>{int(v)}</v></c>'
    if isinstance(v, int | float):
        text = "" if isnan(v) or isinf(v) else f"{v:.16g}"  # openpyxl's safe_string
        return f' t="n"><v>{text}</v></c>'
    raise TypeError(f"unexpected cell value {v!r}")


def _save(wb: Workbook, grids: list[_Grid], path: Path) -> None:
    """Save the workbook with the grids' remaining rows in their sheets' XML."""
    grids = [g for g in grids if len(g.rows) > 1]
    if not grids:
        wb.save(path)
        return
    buf = io.BytesIO()
    wb.save(buf)
    by_part = {g.ws.path.lstrip("/"): g for g in grids}
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            grid = by_part.get(info.filename)
            if grid is None:
                dst.writestr(info, data)
            else:  # the big part: fast compression (a few MB of XML)
                dst.writestr(info, grid.patch(data.decode("utf-8")).encode("utf-8"), compresslevel=1)


def _title(ws, doc: dict, width: int) -> int:
    lines = [
        (REPORT_NAME_VI[doc["maBaoCao"]], Font(bold=True, size=13)),
        (f"Kỳ báo cáo: {_period_text(doc)}", _BOLD),
        (
            f"Đơn vị báo cáo: {doc['donViBaoCao']['tenDonVi']} (mã định danh {doc['donViBaoCao']['maDinhDanh']},"
            f" mã ĐVHC {doc['donViBaoCao']['maDVHC']})",
            None,
        ),
        (f"Lần gửi: {doc['lanGui']} — thời điểm lập: {doc['thoiDiemLap']}", None),
    ]
    for i, (text, font) in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=text)
        if font:
            ws.cell(row=i, column=1).font = font
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
    return len(lines) + 2


def _head(cell, text: str) -> None:
    cell.value = text
    cell.font = _BOLD
    cell.alignment = _CENTER
    cell.fill = _HEAD_FILL
    cell.border = _BOX


def _info_sheet(wb: Workbook, doc: dict, meta: dict | None) -> None:
    ws = wb.create_sheet(INFO_SHEET)
    rows = [
        ("maBaoCao", doc["maBaoCao"]),
        ("loaiKy", doc["kyBaoCao"]["loaiKy"]),
        ("nam", doc["kyBaoCao"]["nam"]),
        ("so", doc["kyBaoCao"].get("so")),
        ("tuNgay", doc["kyBaoCao"]["tuNgay"]),
        ("denNgay", doc["kyBaoCao"]["denNgay"]),
        ("donViBaoCao.maDinhDanh", doc["donViBaoCao"]["maDinhDanh"]),
        ("donViBaoCao.maDVHC", doc["donViBaoCao"]["maDVHC"]),
        ("donViBaoCao.tenDonVi", doc["donViBaoCao"]["tenDonVi"]),
        ("lanGui", doc["lanGui"]),
        ("thoiDiemLap", doc["thoiDiemLap"]),
        *sorted((meta or {}).items()),
    ]
    _head(ws.cell(row=1, column=1), "Trường")
    _head(ws.cell(row=1, column=2), "Giá trị")
    for i, (k, v) in enumerate(rows, start=2):
        ws.cell(row=i, column=1, value=k)
        ws.cell(row=i, column=2, value=v)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 60


def _lead(n: int, item: dict) -> list:
    return [n, item["maDinhDanh"], item["tenDonVi"], PHAM_VI_VI[item["phamVi"]]]


_BOXED = {"border": _BOX}


def _bieu06(wb: Workbook, doc: dict) -> list[_Grid]:
    ws = wb.active
    ws.title = "Biểu 06"
    codes = list(BIEU_06_FIGURES)
    width = len(LEAD_COLUMNS) + len(codes)
    top = _title(ws, doc, width)
    for col, text in enumerate(LEAD_COLUMNS, start=1):
        _head(ws.cell(row=top, column=col), text)
        ws.merge_cells(start_row=top, start_column=col, end_row=top + 1, end_column=col)
    col = len(LEAD_COLUMNS) + 1
    for group, subs in BIEU_06_GROUPS:
        _head(ws.cell(row=top, column=col), group)
        ws.merge_cells(start_row=top, start_column=col, end_row=top, end_column=col + len(subs) - 1)
        for j, sub in enumerate(subs):
            _head(ws.cell(row=top + 1, column=col + j), sub)
        col += len(subs)
    code_row = top + 2
    ws.cell(row=code_row, column=1, value=CODE_ROW_LABEL).font = Font(italic=True, size=8)
    for j, code in enumerate(codes, start=len(LEAD_COLUMNS) + 1):
        c = ws.cell(row=code_row, column=j, value=code)
        c.font = Font(italic=True, size=8)
        c.alignment = _CENTER
    counts = {"border": _BOX, "number_format": "#,##0"}
    grid = _Grid(ws, code_row + 1, [_BOXED] * len(LEAD_COLUMNS) + [counts] * len(codes))
    for n, item in enumerate(doc["duLieu"], start=1):
        values = {ct["ma"]: ct["giaTri"] for ct in item["chiTieu"]}
        grid.rows.append(_lead(n, item) + [values.get(code) for code in codes])
    grid.place()
    for j, w in enumerate([6, 18, 42, 10] + [14] * len(codes), start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(row=code_row + 1, column=len(LEAD_COLUMNS) + 1)
    return [grid]


def _cds(wb: Workbook, doc: dict) -> list[_Grid]:
    ws = wb.active
    ws.title = "Tổng hợp"
    summary = [f"QD766.{g}" for g in QD766_GROUPS] + [QD766_TOTAL, CDS_TOTAL]
    heads = [f"Điểm {g}" for g in QD766_GROUPS] + [
        "Tổng điểm QĐ 766",
        "Xếp hạng QĐ 766",
        "Điểm chuyển đổi số (1000)",
        "Xếp hạng chuyển đổi số",
    ]
    top = _title(ws, doc, len(LEAD_COLUMNS) + len(heads))
    for col, text in enumerate(LEAD_COLUMNS + heads, start=1):
        _head(ws.cell(row=top, column=col), text)
    totals = _Grid(ws, top + 1, [_BOXED] * (len(LEAD_COLUMNS) + len(heads)))
    for n, item in enumerate(doc["duLieu"], start=1):
        by = {ct["ma"]: ct for ct in item["chiTieu"]}
        values = [by.get(c, {}).get("giaTri") for c in summary[:-1]]
        values.insert(len(QD766_GROUPS) + 1, by.get(QD766_TOTAL, {}).get("xepHang"))
        values += [by.get(CDS_TOTAL, {}).get("giaTri"), by.get(CDS_TOTAL, {}).get("xepHang")]
        totals.rows.append(_lead(n, item) + values)
    totals.place()
    for j, w in enumerate([6, 18, 42, 10] + [12] * len(heads), start=1):
        ws.column_dimensions[get_column_letter(j)].width = w

    ws = wb.create_sheet("Chỉ tiêu")
    top = _title(ws, doc, len(LEAD_COLUMNS) + 1 + len(CDS_FIELDS))
    for col, text in enumerate([*LEAD_COLUMNS, CODE_ROW_LABEL] + [h for _, h in CDS_FIELDS], start=1):
        _head(ws.cell(row=top, column=col), text)
    code_row = top + 1
    for j, (field, _) in enumerate(CDS_FIELDS, start=len(LEAD_COLUMNS) + 2):
        ws.cell(row=code_row, column=j, value=field).font = Font(italic=True, size=8)
    ws.cell(row=code_row, column=len(LEAD_COLUMNS) + 1, value="ma").font = Font(italic=True, size=8)
    figures = _Grid(ws, code_row + 1, [_BOXED] * (len(LEAD_COLUMNS) + 1 + len(CDS_FIELDS)))
    n = 0
    for item in doc["duLieu"]:
        for ct in item["chiTieu"]:
            n += 1
            figures.rows.append([*_lead(n, item), ct["ma"], *(ct.get(f) for f, _ in CDS_FIELDS)])
    figures.place()
    for j, w in enumerate([6, 18, 42, 10, 40] + [12] * len(CDS_FIELDS), start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(row=code_row + 1, column=len(LEAD_COLUMNS) + 2)
    return [totals, figures]


def write_xlsx(doc: dict, path: Path, meta: dict | None = None) -> Path:
    """Write the workbook atomically (a reader never sees half a file)."""
    wb = Workbook()
    grids = (_bieu06 if doc["maBaoCao"] == BIEU_06 else _cds)(wb, doc)
    _info_sheet(wb, doc, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    _save(wb, grids, tmp)
    tmp.replace(path)
    return path


def _find_code_row(ws) -> int:
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == CODE_ROW_LABEL:
            return row[0].row
    raise ValueError(f"Không tìm thấy dòng '{CODE_ROW_LABEL}' trong trang {ws.title}")


def read_items(path: Path) -> tuple[str, list[dict]]:
    """(maBaoCao, duLieu) read back from a workbook written by `write_xlsx`."""
    wb = load_workbook(path, read_only=True)
    info = {r[0]: r[1] for r in wb[INFO_SHEET].iter_rows(min_row=2, values_only=True)}
    report = info["maBaoCao"]
    items: dict[tuple[str, str], dict] = {}
    if report == BIEU_06:
        ws = wb["Biểu 06"]
        code_row = _find_code_row(ws)
        rows = list(ws.iter_rows(min_row=code_row, values_only=True))
        codes = rows[0][len(LEAD_COLUMNS) :]
        for r in rows[1:]:
            if r[1] is None:
                continue
            chi = [{"ma": c, "giaTri": v} for c, v in zip(codes, r[len(LEAD_COLUMNS) :], strict=False) if c]
            items[(r[1], PHAM_VI_CODE[r[3]])] = {
                "maDinhDanh": r[1],
                "tenDonVi": r[2],
                "phamVi": PHAM_VI_CODE[r[3]],
                "chiTieu": chi,
            }
    else:
        ws = wb["Chỉ tiêu"]
        rows = list(ws.iter_rows(min_row=1, values_only=True))
        code_idx = next(i for i, r in enumerate(rows) if r[len(LEAD_COLUMNS)] == "ma")
        fields = rows[code_idx][len(LEAD_COLUMNS) + 1 :]
        for r in rows[code_idx + 1 :]:
            if r[1] is None:
                continue
            key = (r[1], PHAM_VI_CODE[r[3]])
            item = items.setdefault(key, {"maDinhDanh": r[1], "tenDonVi": r[2], "phamVi": key[1], "chiTieu": []})
            ct = {"ma": r[len(LEAD_COLUMNS)]}
            for f, v in zip(fields, r[len(LEAD_COLUMNS) + 1 :], strict=False):
                if f and (v is not None or f == "giaTri"):
                    ct[f] = v
            item["chiTieu"].append(ct)
    wb.close()
    return report, list(items.values())
