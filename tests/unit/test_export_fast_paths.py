"""The export's fast paths give exactly what the plain ones give: canonical texts and hashes assembled from
parts, the schema check's msgspec pre-check, XLSX data rows written as XML."""

from __future__ import annotations

import copy

import pytest
from openpyxl import load_workbook
from test_export_documents import bieu06_doc, cds_doc

from chiso.export import build, schema
from chiso.export.xlsx import read_items, write_xlsx


@pytest.mark.parametrize("make", [bieu06_doc, cds_doc])
def test_canonical_parts_are_byte_identical(make):
    doc = make()
    figures = {k: v for k, v in doc.items() if k not in build.HASH_EXCLUDED}
    enc = build.Canonical(figures)
    assert enc.text == build.canonical(figures)
    assert enc.content_hash == build.content_hash(doc) == build.content_hash(figures)
    full = enc.with_fields(lanGui=doc["lanGui"], thoiDiemLap=doc["thoiDiemLap"])
    assert full.text == build.canonical(doc) and full.content_hash == enc.content_hash


def _mutations(doc: dict):
    """Documents the schema refuses (and a few it accepts) around `doc`."""
    yield "valid", copy.deepcopy(doc)
    for path, value in [
        (("lanGui",), 0),
        (("lanGui",), 1.5),
        (("lanGui",), True),
        (("maBaoCao",), "KHAC"),
        (("thoiDiemLap",), "2024-03-15 06:00"),
        (("thoiDiemLap",), "2024-02-30T06:00:00+07:00"),
        (("kyBaoCao", "tuNgay"), "2024-2-15"),
        (("kyBaoCao", "nam"), 2014),
        (("kyBaoCao", "so"), 13),
        (("donViBaoCao", "maDVHC"), "2"),
        (("donViBaoCao", "tenDonVi"), ""),
        (("duLieu", 0, "phamVi"), "TINH"),
        (("duLieu", 0, "chiTieu", 0, "giaTri"), "12"),
        (("duLieu", 0, "chiTieu", 0, "giaTri"), None),
        (("duLieu", 0, "chiTieu", 0, "tuSo"), -1),
        (("duLieu", 0, "chiTieu", 0, "xepHang"), 0),
        (("duLieu", 0, "chiTieu", 0, "xepHang"), 2.0),  # an integer for jsonschema; msgspec defers to it
        (("duLieu", 0, "chiTieu", 0, "ma"), ""),
        (("duLieu", 0, "chiTieu", 0, "khac"), 1),
        (("duLieu", 0, "chiTieu"), []),
        (("duLieu",), []),
        (("khac",), 1),
    ]:
        d = copy.deepcopy(doc)
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        yield f"{'.'.join(map(str, path))}={value!r}", d
    for field in ("kyBaoCao", "duLieu", "lanGui"):
        d = copy.deepcopy(doc)
        del d[field]
        yield f"without {field}", d


def _jsonschema_only(doc) -> list[dict]:
    """validation_errors as it was before the pre-check: jsonschema on every document."""
    found = sorted(schema.validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    errors = [{"truong": f, "moTa": m} for f, m in map(schema._message, found)]
    return errors + (schema._semantic_errors(doc) if isinstance(doc, dict) else [])


@pytest.mark.parametrize("make", [bieu06_doc, cds_doc])
def test_schema_pre_check_never_changes_the_answer(make):
    assert schema._fast_path(), "the msgspec types no longer match national_report.schema.json"
    for name, doc in _mutations(make()):
        if schema.surely_valid(doc):
            assert list(schema.validator().iter_errors(doc)) == [], name
        assert schema.validation_errors(doc) == _jsonschema_only(doc), name
    assert schema.surely_valid(make())  # the fast path is really taken for a valid document


def test_xlsx_data_rows_written_as_xml_read_back_with_their_styles(tmp_path):
    doc = cds_doc()
    item = doc["duLieu"][0]
    item["tenDonVi"] = "  Sở <Thông tin> & Truyền thông  "
    doc["duLieu"].append({**copy.deepcopy(item), "maDinhDanh": "000.00.02.H26", "tenDonVi": "Sở Tư pháp"})
    path = write_xlsx(doc, tmp_path / "cds.xlsx", {"Idempotency-Key": "k", "submission_id": 3})
    report, items = read_items(path)
    assert report == doc["maBaoCao"] and items == doc["duLieu"]
    ws = load_workbook(path)["Chỉ tiêu"]
    first, last = ws.max_row - len(item["chiTieu"]) * 2 + 1, ws.max_row
    assert ws.dimensions.endswith(str(last))
    for row in (first, last):
        for cell in ws[row]:
            assert cell.border.left.style == "thin", (cell.coordinate, cell.value)
    assert ws.cell(row=first, column=3).value == item["tenDonVi"]

    bieu = bieu06_doc()
    report, items = read_items(write_xlsx(bieu, tmp_path / "b.xlsx"))
    assert items == bieu["duLieu"]
    ws = load_workbook(tmp_path / "b.xlsx")["Biểu 06"]
    assert ws.cell(row=ws.max_row, column=5).number_format == "#,##0"
