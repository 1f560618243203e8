"""The unit register across the 2025 reform, without a database: the snapshot checks (overlaps, successors,
cycles) and the validity check of daily rows — the fast check on a page's ISO text never accepts a row the
row-by-row reason refuses, and the reverse."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from chiso.raw.entities import OSS_DOSSIER_DAILY, OSS_UNITS, fast_rows, page_problems, parse_record, row_hash
from chiso.raw.register import UnitRegister, UnitVersion, check_snapshot

OLD, END, NEW = date(2020, 1, 1), date(2025, 6, 30), date(2025, 7, 1)


def v(code: str, start: date = OLD, end: date | None = None, *succ: str, kind: str = "UBND_XA") -> UnitVersion:
    return UnitVersion(code, start, end, kind, succ)


def test_reused_code_is_one_span_and_no_problem():
    reg = [v("X", OLD, END, "X"), v("X", NEW)]
    assert check_snapshot(reg) == {}
    r = UnitRegister(reg)
    assert r.covers("X", "2019-12-31", "2019-12-31") is False
    assert r.covers("X", "2025-06-15", "2025-07-15")  # across the reform: old and new X together
    assert r.problem("X", date(2025, 6, 30)) is None and r.problem("X", date(2025, 7, 1)) is None


def test_snapshot_problems_name_the_units():
    reg = [
        v("G"),  # good
        v("A", OLD, END, "M"),  # successor M not in the register
        v("O", OLD, END),
        v("O", date(2025, 6, 1)),  # overlapping versions
        v("P", OLD, END, "O"),  # successor refused (overlap): cascades
        v("C", NEW, None, "D"),
        v("D", NEW, None, "C"),  # cycle among units still valid
        v("E", OLD, END, "F"),
        v("F", OLD, END, "E"),  # ended units naming each other
        v("S", OLD, END, "S"),
        v("S", NEW),  # reuse: not a cycle
    ]
    got = check_snapshot(reg)
    assert set(got) == {("A", OLD), ("O", OLD), ("O", date(2025, 6, 1)), ("P", OLD), ("C", NEW), ("D", NEW),
                        ("E", OLD), ("F", OLD)}  # fmt: skip
    assert "kế thừa M" in got[("A", OLD)].reason and "không có trong danh mục" in got[("A", OLD)].reason
    overlap = got[("O", OLD)].reason
    assert "2020-01-01 – 2025-06-30" in overlap and "từ 2025-06-01" in overlap and "chồng lấn" in overlap
    assert got[("O", OLD)].field == "hieuLucTu"
    assert "O" in got[("P", OLD)].reason and "bị cách ly" in got[("P", OLD)].reason
    assert "vòng kế thừa C (từ 2025-07-01) → D (từ 2025-07-01) → C" in got[("C", NEW)].reason
    assert got[("E", OLD)].reason.startswith("Vòng kế thừa E → F → E")
    assert all(p.field == "donViKeThua" for k, p in got.items() if k[0] != "O")


def test_inverted_validity_is_refused():
    got = check_snapshot([v("G"), v("I", date(2025, 7, 1), date(2025, 6, 30))])
    assert list(got) == [("I", date(2025, 7, 1))] and got[("I", date(2025, 7, 1))].field == "hieuLucDen"
    assert "ngày hết hiệu lực 2025-06-30 trước ngày bắt đầu hiệu lực 2025-07-01" in got[("I", date(2025, 7, 1))].reason


def test_self_successor_while_still_valid_is_a_cycle():
    got = check_snapshot([v("Q", NEW, None, "Q")])
    assert "Q (từ 2025-07-01) → Q (từ 2025-07-01)" in got[("Q", NEW)].reason


def test_new_commune_without_predecessor_has_its_own_reason():
    r = UnitRegister([v("A", OLD, END, "X"), v("X", NEW), v("N", NEW), v("K", NEW, kind="SO_NGANH")])
    assert r.problem("N", date(2025, 6, 20)) == (
        "Xã mới N không có đơn vị tiền thân nào kế thừa: dữ liệu ngày 2025-06-20 trước ngày hiệu lực 2025-07-01 "
        "bị cách ly"
    )
    assert r.problem("K", date(2025, 6, 20)).startswith("Đơn vị mới K không có đơn vị tiền thân")
    # X has a predecessor (A): its rows before 1/7 belong under A's identifier
    assert r.problem("X", date(2025, 6, 20)) == ("Đơn vị X không có hiệu lực ngày 2025-06-20 (hiệu lực từ 2025-07-01)")
    assert r.problem("A", date(2025, 7, 1)) == (
        "Đơn vị A không có hiệu lực ngày 2025-07-01 (hiệu lực 2020-01-01 – 2025-06-30)"
    )


def test_refused_version_is_named_in_a_daily_reason():
    r = UnitRegister([v("G")], quarantined=[(v("A", OLD, END), "Đơn vị A ... không có trong danh mục")])
    assert "A" not in r and r.quarantine_note("A", date(2025, 7, 2)) == ""
    note = r.quarantine_note("A", date(2025, 6, 2))
    assert "2020-01-01 – 2025-06-30" in note and "bị cách ly khi nạp danh mục" in note


COUNTS = [f.source for f in OSS_DOSSIER_DAILY.fields if f.kind == "count"]


def dossier(day: date, unit: str) -> dict:
    return {"ngay": day.isoformat(), "maDinhDanh": unit, "maThuTuc": "1.001", **dict.fromkeys(COUNTS, 1),
            "thoiDiemCapNhat": "2025-07-02T08:00:00+07:00"}  # fmt: skip


@pytest.mark.parametrize("seed", range(20))
def test_fast_check_agrees_with_row_reasons(seed):
    """Random registers (reused codes, gaps, successors, unknown units) and pages: the typed page's count of
    invalid rows equals the rows the row-by-row check gives a reason for."""
    rnd = random.Random(seed)
    versions, codes = [], [f"000.0{i}.41.H25" for i in range(8)]
    for code in codes[:6]:
        start = date(2025, 6, 1) + timedelta(days=rnd.randrange(0, 40))
        end = None if rnd.random() < 0.4 else start + timedelta(days=rnd.randrange(0, 20))
        versions.append(v(code, start, end, *rnd.sample(codes, rnd.randrange(0, 2))))
        if end is not None and rnd.random() < 0.5:  # a later version: contiguous (reuse) or after a gap
            versions.append(v(code, end + timedelta(days=rnd.choice([1, 1, 5])), None))
    reg = UnitRegister(versions)
    days = [date(2025, 5, 25) + timedelta(days=rnd.randrange(0, 80)) for _ in range(300)]
    records = [dossier(d, rnd.choice(codes)) for d in days]
    rows = fast_rows(OSS_DOSSIER_DAILY, records)
    assert rows is not None
    expected = sum(
        1 for r in records
        if r["maDinhDanh"] not in reg or reg.problem(r["maDinhDanh"], date.fromisoformat(r["ngay"]))
    )  # fmt: skip
    cols = OSS_DOSSIER_DAILY.columns
    ui, di = cols.index("ma_dinh_danh"), cols.index("ngay")
    assert reg.invalid_rows(rows, ui, di) == expected
    lo, hi = min(days).isoformat(), max(days).isoformat()
    assert reg.invalid_rows(rows, ui, di, reg.covered(lo, hi)) == expected
    # page_problems (what makes an extractor re-read a page) counts the same rows; no duplicate keys here
    dup_free = list({(r["ngay"], r["maDinhDanh"]): r for r in records}.values())
    expected_dup_free = sum(
        1 for r in dup_free
        if r["maDinhDanh"] not in reg or reg.problem(r["maDinhDanh"], date.fromisoformat(r["ngay"]))
    )  # fmt: skip
    assert page_problems(OSS_DOSSIER_DAILY, dup_free, known_units=reg) == expected_dup_free


def unit_record(**kw) -> dict:
    rec = {
        "maDonVi": "DV1",
        "maDinhDanh": "000.01.41.H25",
        "tenDonVi": "UBND xã Một",
        "loaiDonVi": "UBND_XA",
        "maDinhDanhCha": None,
        "maDVHC": "25",
        "soCanBo": 10,
        "coChungThucDienTu": True,
        "hieuLucTu": "2020-01-01",
        "hieuLucDen": None,
    }
    rec.update(kw)
    return rec


def test_successors_missing_is_empty_not_drift_and_hashed_only_when_not_empty():
    before = parse_record(OSS_UNITS, unit_record())
    assert before.ok and before.values["don_vi_ke_thua"] == []
    empty = parse_record(OSS_UNITS, unit_record(donViKeThua=[]))
    null = parse_record(OSS_UNITS, unit_record(donViKeThua=None))
    named = parse_record(OSS_UNITS, unit_record(donViKeThua=["000.09.61.H25"]))
    assert empty.ok and null.ok and null.values["don_vi_ke_thua"] == []
    assert row_hash(OSS_UNITS, before.values) == row_hash(OSS_UNITS, empty.values) == row_hash(OSS_UNITS, null.values)
    assert row_hash(OSS_UNITS, named.values) != row_hash(OSS_UNITS, empty.values)
    # the hash of a version without successors is what it was before the column existed
    old_columns = [c for c in OSS_UNITS.columns if c != "don_vi_ke_thua"]
    import hashlib
    import json

    old = json.dumps([str(v) if isinstance(v, date) else v for v in (before.values[c] for c in old_columns)],
                     ensure_ascii=False, separators=(",", ":"))  # fmt: skip
    assert row_hash(OSS_UNITS, before.values) == hashlib.sha256(old.encode()).hexdigest()
    bad = parse_record(OSS_UNITS, unit_record(donViKeThua="000.09.61.H25"))
    assert not bad.ok and "donViKeThua" in bad.problems[0].message
