"""Export building blocks without a database: schema, periods, hashing/diffs, keys, XLSX, HTTP classification."""

from __future__ import annotations

import argparse
import copy
import json
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from chiso.export import build, runner
from chiso.export.cli import register
from chiso.export.client import classify, parse_retry_after
from chiso.export.connections import ConnFields, receiver, warehouse_uri
from chiso.export.periods import BIEU_06, CHI_SO_CDS, Period, complete_periods, is_due
from chiso.export.schema import load_schema, validation_errors
from chiso.export.xlsx import read_items, write_xlsx

SPEC = Path("/work/shared/specs/national_report.schema.json")


def bieu06_doc() -> dict:
    figures = [{"ma": code, "giaTri": i * 3} for i, code in enumerate(build.BIEU_06_FIGURES)]
    return {
        "maBaoCao": BIEU_06,
        "kyBaoCao": {"loaiKy": "THANG", "nam": 2024, "so": 3, "tuNgay": "2024-02-15", "denNgay": "2024-03-14"},
        "donViBaoCao": {"maDinhDanh": "000.00.00.H26", "maDVHC": "26", "tenDonVi": "UBND tỉnh Vĩnh Phúc"},
        "lanGui": 1,
        "thoiDiemLap": "2024-03-15T06:00:00+07:00",
        "duLieu": [
            {"maDinhDanh": "000.00.00.H26", "tenDonVi": "UBND tỉnh Vĩnh Phúc", "phamVi": "DIA_BAN", "chiTieu": figures},
            {
                "maDinhDanh": "000.12.31.H26",
                "tenDonVi": "UBND xã Tân Tiến",
                "phamVi": "DON_VI",
                "chiTieu": [{**f, "giaTri": f["giaTri"] + 1} for f in figures],
            },
        ],
    }


def cds_doc() -> dict:
    return {
        "maBaoCao": CHI_SO_CDS,
        "kyBaoCao": {"loaiKy": "QUY", "nam": 2024, "so": 1, "tuNgay": "2024-01-01", "denNgay": "2024-03-31"},
        "donViBaoCao": {"maDinhDanh": "000.00.00.H26", "maDVHC": "26", "tenDonVi": "UBND tỉnh Vĩnh Phúc"},
        "lanGui": 2,
        "thoiDiemLap": "2024-04-01T06:00:00+07:00",
        "duLieu": [
            {
                "maDinhDanh": "000.00.01.H26",
                "tenDonVi": "Sở Thông tin và Truyền thông",
                "phamVi": "DON_VI",
                "chiTieu": [
                    {
                        "ma": "QD766.TDGQ.ON_TIME",
                        "giaTri": 0.956,
                        "tuSo": 956,
                        "mauSo": 1000,
                        "diem": 19.12,
                        "diemToiDa": 20,
                    },
                    {
                        "ma": "QD766.MDSH.E_CERTIFIED_COPY",
                        "giaTri": None,
                        "tuSo": 0,
                        "mauSo": 0,
                        "diem": 2,
                        "diemToiDa": 2,
                    },
                    {"ma": "QD766.MDHL.DOSSIER_SATISFACTION", "giaTri": 0.91, "diem": 6, "diemToiDa": 6},
                    {"ma": build.QD766_TOTAL, "giaTri": 81.5, "diem": 81.5, "diemToiDa": 100, "xepHang": 2},
                    {"ma": build.CDS_TOTAL, "giaTri": 702.25, "diem": 702.25, "diemToiDa": 1000, "xepHang": 1},
                ],
            }
        ],
    }


def test_packaged_schema_is_the_spec():
    if not SPEC.exists():
        pytest.skip("shared specs not mounted")
    assert load_schema() == json.loads(SPEC.read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", [bieu06_doc(), cds_doc()])
def test_valid_documents_pass(doc):
    assert validation_errors(doc) == []


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.pop("lanGui"), "lanGui", "Thiếu trường bắt buộc"),
        (lambda d: d["kyBaoCao"].update(loaiKy="TUAN"), "kyBaoCao.loaiKy", "không thuộc danh sách"),
        (lambda d: d["kyBaoCao"].update(tuNgay="15/02/2024"), "kyBaoCao.tuNgay", "định dạng ngày"),
        (lambda d: d["kyBaoCao"].update(tuNgay="2024-02-30"), "kyBaoCao.tuNgay", "định dạng ngày"),
        (lambda d: d.update(thoiDiemLap="2024-03-15 06:00"), "thoiDiemLap", "định dạng thời điểm"),
        (lambda d: d.update(thoiDiemLap="2024-03-15T06:00:00"), "thoiDiemLap", "định dạng thời điểm"),
        (lambda d: d["donViBaoCao"].update(maDVHC="026"), "donViBaoCao.maDVHC", "Không khớp mẫu"),
        (lambda d: d["duLieu"][1]["chiTieu"][0].update(tuSo=-1), "duLieu[1].chiTieu[0].tuSo", "lớn hơn hoặc bằng 0"),
        (lambda d: d["duLieu"][0].update(ghiChu="x"), "duLieu[0]", "Trường không được phép: 'ghiChu'"),
        (lambda d: d.update(duLieu=[]), "duLieu", "ít nhất 1"),
        (lambda d: d["kyBaoCao"].pop("so"), "kyBaoCao.so", "phải có số tháng/quý"),
        (lambda d: d["kyBaoCao"].update(loaiKy="NAM"), "kyBaoCao.so", "không có số tháng/quý"),
        (lambda d: d["kyBaoCao"].update(so=13), "kyBaoCao.so", "nhỏ hơn hoặc bằng 12"),
        (lambda d: d["kyBaoCao"].update(tuNgay="2024-03-20"), "kyBaoCao.tuNgay", "sau ngày kết thúc"),
        (lambda d: d["duLieu"][0]["chiTieu"][0].update(giaTri="12"), "duLieu[0].chiTieu[0].giaTri", "Sai kiểu"),
    ],
)
def test_invalid_documents_are_explained_in_vietnamese(mutate, field, words):
    doc = bieu06_doc()
    mutate(doc)
    errors = validation_errors(doc)
    assert any(e["truong"] == field and words in e["moTa"] for e in errors), errors


def test_quarter_number_range_is_checked():
    doc = cds_doc()
    doc["kyBaoCao"]["so"] = 5
    assert {"truong": "kyBaoCao.so", "moTa": "Số kỳ phải trong khoảng 1–4"} in validation_errors(doc)


@pytest.mark.parametrize(
    ("report", "ptype", "start", "end", "expected"),
    [
        (BIEU_06, "report_month", date(2023, 12, 15), date(2024, 1, 14), {"loaiKy": "THANG", "nam": 2024, "so": 1}),
        (BIEU_06, "report_quarter", date(2024, 5, 15), date(2024, 8, 14), {"loaiKy": "QUY", "nam": 2024, "so": 3}),
        (BIEU_06, "report_half", date(2023, 12, 15), date(2024, 6, 14), {"loaiKy": "SAU_THANG", "nam": 2024}),
        (BIEU_06, "report_nine_months", date(2023, 12, 15), date(2024, 9, 14), {"loaiKy": "CHIN_THANG", "nam": 2024}),
        (BIEU_06, "report_year", date(2023, 12, 15), date(2024, 12, 14), {"loaiKy": "NAM", "nam": 2024}),
        (CHI_SO_CDS, "month", date(2024, 2, 1), date(2024, 2, 29), {"loaiKy": "THANG", "nam": 2024, "so": 2}),
        (CHI_SO_CDS, "quarter", date(2024, 10, 1), date(2024, 12, 31), {"loaiKy": "QUY", "nam": 2024, "so": 4}),
        (CHI_SO_CDS, "year", date(2024, 1, 1), date(2024, 12, 31), {"loaiKy": "NAM", "nam": 2024}),
    ],
)
def test_ky_bao_cao(report, ptype, start, end, expected):
    ky = Period(report, ptype, start, end).ky_bao_cao
    assert ky == {**expected, "tuNgay": start.isoformat(), "denNgay": end.isoformat()}


def test_due_after_cut_off_or_period_end():
    window = Period(BIEU_06, "report_month", date(2024, 2, 15), date(2024, 3, 14))
    assert not is_due(window, date(2024, 3, 14)) and is_due(window, date(2024, 3, 15))
    month = Period(CHI_SO_CDS, "month", date(2024, 3, 1), date(2024, 3, 31))
    assert not is_due(month, date(2024, 3, 31)) and is_due(month, date(2024, 4, 1))


def _months(first: date, last: date, report=CHI_SO_CDS) -> list[Period]:
    out, d = [], first
    while d <= last:
        nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        out.append(Period(report, "month", d, nxt - timedelta(days=1)))
        d = nxt
    return out


def test_complete_periods_are_the_ones_dim_periods_calls_complete():
    # Data from 10/5 (May holds data and ends before later periods, yet is incomplete): nothing is inferred from
    # the periods themselves, only dim_periods.is_complete counts.
    may, june, july = _months(date(2024, 5, 1), date(2024, 7, 1))
    window = Period(BIEU_06, "report_month", *_w(5))
    got = complete_periods(
        [
            Period(may.report, may.period_type, may.period_start, may.period_end, is_complete=False),
            Period(june.report, june.period_type, june.period_start, june.period_end, is_complete=True),
            Period(july.report, july.period_type, july.period_start, july.period_end),
            Period(window.report, window.period_type, window.period_start, window.period_end, is_complete=True),
        ]
    )
    assert [(p.report, p.period_start) for p in got] == [(CHI_SO_CDS, date(2024, 6, 1)), (BIEU_06, date(2024, 5, 15))]


def _w(m: int) -> tuple[date, date]:
    """Decree 09 monthly window that opens on the 15th of month m (12 = December 2023)."""
    if m == 12:
        return date(2023, 12, 15), date(2024, 1, 14)
    return date(2024, m, 15), date(2024, m + 1, 14)


def test_content_hash_ignores_revision_and_time_and_diff_names_changed_figures():
    a = bieu06_doc()
    b = copy.deepcopy(a)
    b["lanGui"], b["thoiDiemLap"] = 7, "2025-01-01T00:00:00+07:00"
    assert build.content_hash(a) == build.content_hash(b)
    assert build.figure_changes(a, b) == []
    b["duLieu"][1]["chiTieu"][1]["giaTri"] = 99
    b["duLieu"].append({**b["duLieu"][1], "maDinhDanh": "000.12.32.H26", "chiTieu": [{"ma": "X", "giaTri": 1}]})
    assert build.content_hash(a) != build.content_hash(b)
    changes = build.figure_changes(a, b)
    assert {
        "maDinhDanh": "000.12.31.H26",
        "phamVi": "DON_VI",
        "ma": "TIEP_NHAN_TRUC_TUYEN",
        "truong": "giaTri",
        "cu": 4,
        "moi": 99,
    } in changes
    assert {"maDinhDanh": "000.12.32.H26", "phamVi": "DON_VI", "ma": "X", "truong": "giaTri", "cu": None, "moi": 1} in (
        changes
    )
    assert len(changes) == 3  # the changed figure, the new item's name and its figure


def test_numbers_are_stable_json():
    from decimal import Decimal

    assert build._num(Decimal("12.000"), 4) == 12 and isinstance(build._num(Decimal("12.000"), 4), int)
    assert build._num(Decimal("0.95612345678"), 6) == 0.956123
    assert build._num(None, 2) is None


def test_idempotency_key_is_deterministic_per_report_period_unit_revision():
    args = (BIEU_06, "report_month", date(2024, 2, 15), "000.00.00.H26", 1)
    key = runner.idempotency_key(*args)
    assert key == runner.idempotency_key(*args) and key.version == 5
    variants = [
        (CHI_SO_CDS, *args[1:]),
        (args[0], "report_quarter", *args[2:]),
        (*args[:2], date(2024, 3, 15), *args[3:]),
        (*args[:3], "000.00.00.H25", 1),
        (*args[:4], 2),
    ]
    assert len({key, *(runner.idempotency_key(*v) for v in variants)}) == 6


@pytest.mark.parametrize("doc", [bieu06_doc(), cds_doc()])
def test_xlsx_reads_back_as_the_json(doc, tmp_path):
    path = write_xlsx(doc, tmp_path / "out.xlsx", {"Idempotency-Key": "k"})
    report, items = read_items(path)
    assert report == doc["maBaoCao"]
    assert items == doc["duLieu"]


def test_bieu06_workbook_has_the_form_headers(tmp_path):
    from openpyxl import load_workbook

    ws = load_workbook(write_xlsx(bieu06_doc(), tmp_path / "b.xlsx"))["Biểu 06"]
    texts = {c.value for row in ws.iter_rows(max_row=8) for c in row if c.value}
    for header in (
        "Số hồ sơ nhận giải quyết",
        "Số hồ sơ đã giải quyết",
        "Số hồ sơ đang giải quyết",
        "Trực tuyến",
        "Từ kỳ trước chuyển sang",
        "Trước hạn",
        "Đúng hạn",
        "Quá hạn",
        "Trong hạn",
        "Tên đơn vị",
    ):
        assert header in texts
    assert any("Tháng 3 năm 2024" in t for t in texts if isinstance(t, str))


def _resp(status: int, body=None, headers=None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_answers_are_classified():
    assert classify(_resp(201, {"maTiepNhan": "A1"})).outcome == "accepted"
    ok = classify(_resp(200, {"maTiepNhan": "A1"}))
    assert (ok.outcome, ok.receipt) == ("already_accepted", "A1")
    assert classify(_resp(201, {})).outcome == "transient"  # no receipt: same key again is safe
    c = classify(_resp(409, {"loi": [{"truong": "Idempotency-Key", "moTa": "đã dùng"}]}))
    assert c.outcome == "conflict" and "409" in c.error and "đã dùng" in c.error
    v = classify(_resp(422, {"loi": [{"truong": "duLieu[0].chiTieu[0].tuSo", "moTa": "Giá trị phải ≥ 0"}]}))
    assert v.outcome == "invalid" and "duLieu[0].chiTieu[0].tuSo: Giá trị phải ≥ 0" in v.error
    t = classify(_resp(429, {"loi": []}, {"Retry-After": "7"}))
    assert (t.outcome, t.retry_after) == ("transient", 7.0)
    for status in (500, 502, 503, 504):
        assert classify(_resp(status)).outcome == "transient"
    assert classify(_resp(401)).outcome == "unauthorized"
    assert classify(_resp(400, {"loi": [{"truong": "Idempotency-Key", "moTa": "Thiếu"}]})).outcome == "rejected"


def test_retry_after_as_http_date():
    now = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_honours_retry_after_and_grows():
    p = runner.RetryPolicy(backoff_base=1, backoff_max=10)
    assert p.delay(0, 42.0) == 42.0
    assert 0.8 <= p.delay(0, None) <= 1.2 and 6.4 <= p.delay(3, None) <= 9.6 and p.delay(9, None) <= 12


def test_connections_from_json_uri_and_airflow_objects():
    j = ConnFields.parse(
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 8703, "schema": "http", "password": "t0k/en"})
    )
    assert receiver(j) == ("http://127.0.0.1:8703", "t0k/en")
    u = ConnFields.parse("https://:s%40cret@bao-cao.gov.vn:443/https")
    assert receiver(u) == ("https://bao-cao.gov.vn:443", "s@cret")
    w = ConnFields.parse("postgres://chiso_loader:p%40ss@127.0.0.1:5433/chiso")
    assert warehouse_uri(w) == "postgresql://chiso_loader:p%40ss@127.0.0.1:5433/chiso"
    obj = argparse.Namespace(
        conn_type="http", host="https://x.example", port=None, schema=None, login=None, password="k"
    )
    assert receiver(ConnFields.of(obj)) == ("https://x.example", "k")
    with pytest.raises(ValueError, match="token"):
        receiver(ConnFields(host="h"))


def test_cli_registers_exports_subcommands():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["exports", "show", "12", "--json"])
    assert args.id == 12 and args.json and args.func.__name__ == "cmd_show"
    assert parser.parse_args(["exports", "resend", "3"]).func.__name__ == "cmd_resend"
    assert parser.parse_args(["exports", "list", "--status", "pending"]).status == "pending"
    assert parser.parse_args(["exports", "run", "--today", "2024-07-05"]).today == date(2024, 7, 5)
