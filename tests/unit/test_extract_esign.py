"""E-signature drop folder: markers, CSV/XLSX parsing, versions, encoding errors, empty files."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from chiso.extract import esign
from chiso.extract.common import SourceConn
from chiso.raw.entities import ESIGN_HEADERS

pytestmark = pytest.mark.postgres

UNITS = ["000.00.12.H26", "000.00.13.H26", "000.00.14.H26"]


def line(unit: str, day: str, signed: str = "1.234") -> list[str]:
    return [unit, day, "1", "12", "0", "2", "0", "40", signed, "300"]


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps some letters precomposed (ư, ơ, â) and others as base + combining tone."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            out += to_cp1258(unicodedata.normalize("NFD", ch)) if len(unicodedata.normalize("NFD", ch)) > 1 else b"?"
    return out


def drop(root: Path, name: str, data: bytes, done: bool = True) -> Path:
    p = root / name[10:14] / name[14:16] / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    if done:
        p.with_name(p.name + ".done").touch()
    return p


def run(wh, root: Path, start="2024-05-01", end="2024-05-31") -> dict:
    return esign.extract(SourceConn(extra={"path": str(root)}), wh.uri(), start, end, run_id="test")


def q(wh, query, *args):
    with wh.connect() as conn:
        return conn.execute(query, args).fetchall()


def test_drop_folder_end_to_end(fresh_schema, tmp_path):
    wh = fresh_schema
    root = tmp_path / "drop"
    drop(root, "chu_ky_so_20240501.csv", esign.csv_bytes([line(u, "01/05/2024") for u in UNITS]))
    drop(root, "chu_ky_so_20240502.csv", esign.csv_bytes([line(UNITS[0], "02/05/2024")]), done=False)
    vn = "Mã định danh;Ngày;Chứng thư tổ chức hiệu lực\r\n000.00.12.H26;03/05/2024;1\r\n"
    drop(root, "chu_ky_so_20240503.csv", to_cp1258(vn))
    wb = Workbook()
    ws = wb.active
    ws.append(list(ESIGN_HEADERS))
    for u in UNITS:
        ws.append([u, "04/05/2024", 1, 12, 0, 2, 0, 40, 1234, 300])
    xlsx = tmp_path / "x.xlsx"
    wb.save(xlsx)
    drop(root, "chu_ky_so_20240504.xlsx", xlsx.read_bytes())
    drop(root, "chu_ky_so_20240505.csv", esign.csv_bytes([]))
    drop(root, "chu_ky_so_20240601.csv", esign.csv_bytes([line(UNITS[0], "01/06/2024")]))  # outside window

    s = run(wh, root)
    assert [b["window_start"] for b in s["batches"]] == ["2024-05-01", "2024-05-04"]
    assert {r["file"]: r["status"] for r in s["rejected_files"]} == {
        "2024/05/chu_ky_so_20240503.csv": "rejected",
        "2024/05/chu_ky_so_20240505.csv": "empty",
    }
    reason = next(r["reason"] for r in s["rejected_files"] if r["status"] == "rejected")
    assert "2024/05/chu_ky_so_20240503.csv" in reason and "UTF-8" in reason
    rows = q(
        wh,
        "SELECT report_date, ma_dinh_danh, personal_signatures, file_version FROM raw.esign_signatures_daily_latest"
        " ORDER BY 1, 2",
    )
    assert rows == [(date(2024, 5, d), u, 1234, 1) for d in (1, 4) for u in UNITS]
    quarantined = q(wh, "SELECT record_ref, reason FROM raw.quarantine ORDER BY quarantine_id")
    assert [r[0] for r in quarantined] == ["2024/05/chu_ky_so_20240503.csv", "2024/05/chu_ky_so_20240505.csv"]

    # Nothing new: a second run reads no file again.
    assert run(wh, root)["batches"] == []
    # The half-written file gets its marker; a corrected _v2 drops one unit and changes another.
    (root / "2024/05/chu_ky_so_20240502.csv.done").touch()
    v2 = [line(UNITS[0], "01/05/2024", signed="2.000"), line(UNITS[1], "01/05/2024")]
    drop(root, "chu_ky_so_20240501_v2.csv", esign.csv_bytes(v2))
    s = run(wh, root)
    by_file = {b["window_start"]: b for b in s["batches"]}
    assert by_file["2024-05-01"]["rows_new_versions"] == 1 and by_file["2024-05-01"]["rows_deleted"] == 1
    rows = q(
        wh,
        "SELECT ma_dinh_danh, personal_signatures, file_version, source_file FROM raw.esign_signatures_daily_latest"
        " WHERE report_date = '2024-05-01' ORDER BY 1",
    )
    assert rows == [
        (UNITS[0], 2000, 2, "2024/05/chu_ky_so_20240501_v2.csv"),
        (UNITS[1], 1234, 1, "2024/05/chu_ky_so_20240501.csv"),
    ]
    files = q(wh, "SELECT source_file, status FROM raw.esign_files ORDER BY 1")
    assert [f[1] for f in files] == ["loaded", "loaded", "loaded", "rejected", "loaded", "empty"]


def test_bad_rows_in_file_are_quarantined_with_file_and_line(fresh_schema, tmp_path):
    wh = fresh_schema
    root = tmp_path / "drop"
    rows = [
        line(UNITS[0], "01/05/2024"),
        [UNITS[1], "31/02/2024", "1", "1", "0", "0", "0", "1", "1", "0"],  # impossible date
        [UNITS[2], "01/05/2024", "1", "-4", "0", "0", "0", "1", "1", "0"],  # negative count
        line(UNITS[0], "01/05/2024"),  # duplicate, same content
    ]
    drop(root, "chu_ky_so_20240501.csv", esign.csv_bytes(rows))
    s = run(wh, root)
    assert s["totals"]["rows_new_versions"] == 1 and s["totals"]["rows_quarantined"] == 3
    refs = q(wh, "SELECT record_ref, field FROM raw.quarantine ORDER BY record_ref")
    assert refs == [
        ("2024/05/chu_ky_so_20240501.csv dòng 3", "Ngày"),
        ("2024/05/chu_ky_so_20240501.csv dòng 4", "Chứng thư cá nhân hiệu lực"),
        ("2024/05/chu_ky_so_20240501.csv dòng 5", "Ngày"),  # duplicate key (Ngày, Mã định danh)
    ]


def test_renamed_header_rejects_the_file_loudly(fresh_schema, tmp_path):
    wh = fresh_schema
    root = tmp_path / "drop"
    data = esign.csv_bytes([line(u, "01/05/2024") for u in UNITS]).replace("Lượt ký từ xa".encode(), b"Ky tu xa")
    drop(root, "chu_ky_so_20240501.csv", data)
    s = run(wh, root)
    assert s["batches"] == [] and "Lượt ký từ xa" in s["rejected_files"][0]["reason"]
    assert q(wh, "SELECT status FROM raw.load_audit") == [("failed",)]
    assert q(wh, "SELECT count(*) FROM raw.esign_signatures_daily") == [(0,)]
