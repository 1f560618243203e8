"""The unit register across the 2025 reform through the real loader and a real PostgreSQL: each bad register input
is quarantined with a Vietnamese reason naming the unit while the good units still load; daily rows (dossiers,
petitions, documents, signatures) whose unit has no version valid on their date are quarantined while the other
rows load; a reused identifier loads on both sides of the reform. The last test goes through the real source
interfaces (HTTP apps, drop folder) and the real extractors."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from chiso.raw import loader
from chiso.raw.entities import (
    EDOC_DOCUMENTS_DAILY,
    ESIGN_HEADERS,
    ESIGN_SIGNATURES_DAILY,
    OSS_DOSSIER_DAILY,
    OSS_PETITION_DAILY,
    OSS_UNITS,
    parse_record,
    row_hash,
)
from chiso.raw.loader import RecordPage, SourceRow, load_batch
from chiso.warehouse.schema import MIGRATIONS_DIR, migrate

pytestmark = pytest.mark.postgres
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

OLD_END, REFORM = "2025-06-30", "2025-07-01"
PROV = "000.00.00.H25"
A, B, G = "000.01.41.H25", "000.02.41.H25", "000.03.41.H25"  # old communes (G carries on, never ends)
X, N = "000.01.61.H25", "000.02.61.H25"  # new communes: X succeeds A and B; N has no predecessor


def unit(code: str, start: str = "2020-01-01", end: str | None = None, succ: tuple = (), **kw) -> dict:
    rec = {
        "maDonVi": f"DV{code[4:6]}{code[7:9]}",
        "maDinhDanh": code,
        "tenDonVi": f"UBND xã {code}",
        "loaiDonVi": "UBND_XA",
        "maDinhDanhCha": PROV,
        "maDVHC": "25",
        "soCanBo": 12,
        "coChungThucDienTu": True,
        "hieuLucTu": start,
        "hieuLucDen": end,
        "donViKeThua": list(succ),
    }
    rec.update(kw)
    return rec


BASE = [
    unit(PROV, end=OLD_END, succ=(PROV,), loaiDonVi="UBND_TINH", maDinhDanhCha=None),
    unit(PROV, start=REFORM, loaiDonVi="UBND_TINH", maDinhDanhCha=None),
    unit(A, end=OLD_END, succ=(X,)),
    unit(B, end=OLD_END, succ=(X,)),
    unit(G),
    unit(X, start=REFORM),
]


def load_units(wh, records: list[dict]):
    return load_batch(wh.uri(), OSS_UNITS, [[SourceRow(f"GET /api/v1/don-vi dòng {i}", r) for i, r in
                                            enumerate(records, 1)]])  # fmt: skip


def q(wh, query: str, *args) -> list[tuple]:
    with wh.connect() as conn:
        return conn.execute(query, args).fetchall()


def quarantine(wh, batch_id: str) -> dict[str, tuple[str, str]]:
    """record -> (field, reason) of a batch's quarantine, keyed by the record's unit identifier and date/start."""
    out = {}
    for fld, reason, payload in q(
        wh, "SELECT field, reason, payload FROM raw.quarantine WHERE batch_id = %s ORDER BY quarantine_id", batch_id
    ):
        code = payload.get("maDinhDanh") or payload.get("org_code") or payload.get("Mã định danh")
        when = payload.get("hieuLucTu") or payload.get("ngay") or payload.get("report_date") or payload.get("Ngày")
        out[f"{code} {when}"] = (fld, reason)
    return out


def stored_units(wh) -> set[tuple[str, str]]:
    return {(c, f.isoformat()) for c, f in q(wh, "SELECT ma_dinh_danh, hieu_luc_tu FROM raw.oss_units_latest")}


BASE_KEYS = {(r["maDinhDanh"], r["hieuLucTu"]) for r in BASE}


# ---------------------------------------------------------------- daily records of the four daily entities

DOSSIER_COUNTS = [f.source for f in OSS_DOSSIER_DAILY.fields if f.kind == "count"]
PETITION_COUNTS = [f.source for f in OSS_PETITION_DAILY.fields if f.kind == "count"]
DOCUMENT_COUNTS = [f.source for f in EDOC_DOCUMENTS_DAILY.fields if f.kind == "count"]


def daily(entity, day: str, code: str) -> dict:
    if entity is OSS_DOSSIER_DAILY:
        return {"ngay": day, "maDinhDanh": code, "maThuTuc": "1.001", **dict.fromkeys(DOSSIER_COUNTS, 2),
                "thoiDiemCapNhat": "2025-07-05T08:00:00+07:00"}  # fmt: skip
    if entity is OSS_PETITION_DAILY:
        return {"ngay": day, "maDinhDanh": code, **dict.fromkeys(PETITION_COUNTS, 1),
                "thoiDiemCapNhat": "2025-07-05T08:00:00+07:00"}  # fmt: skip
    if entity is EDOC_DOCUMENTS_DAILY:
        return {"report_date": day, "org_code": code, **dict.fromkeys(DOCUMENT_COUNTS, 3),
                "updated_at": "2025-07-05T08:00:00+07:00"}  # fmt: skip
    y, m, d = day.split("-")
    return dict(zip(ESIGN_HEADERS, [code, f"{d}/{m}/{y}", "1", "20", "0", "1", "0", "1.204", "3", "2"], strict=True))


DAILY = [OSS_DOSSIER_DAILY, OSS_PETITION_DAILY, EDOC_DOCUMENTS_DAILY, ESIGN_SIGNATURES_DAILY]


def load_daily(wh, entity, records: list[dict], start: str, end: str):
    """As the extractors hand pages over: a RecordPage per request (typed at once when it can be), or the rows of
    an e-signature file with their provenance."""
    if entity is ESIGN_SIGNATURES_DAILY:
        extra = {"source_file": "2025/07/chu_ky_so_test.csv", "file_version": 1}
        pages = [[SourceRow(f"2025/07/chu_ky_so_test.csv dòng {i}", r, extra) for i, r in enumerate(records, 2)]]
        kw = {"tombstone_extra": extra}
    else:
        pages, kw = [RecordPage("GET /test trang=1", records)], {}
    return load_batch(
        wh.uri(), entity, pages, window_start=date.fromisoformat(start), window_end=date.fromisoformat(end), **kw
    )


def live_daily(wh, entity) -> set[tuple[str, str]]:
    unit_col = entity.unit_column
    rows = q(wh, f"SELECT {unit_col}, {entity.date_column} FROM raw.{entity.name}_latest")  # noqa: S608
    return {(u, d.isoformat()) for u, d in rows}


# ---------------------------------------------------------------- register: one test per bad input


def test_successor_not_in_register_is_quarantined_and_its_rows_say_why(fresh_schema):
    wh = fresh_schema
    missing = "000.09.61.H25"
    r = load_units(wh, [*BASE, unit(N, start=REFORM), unit("000.05.41.H25", end=OLD_END, succ=(X, missing))])
    assert (r.status, r.rows_received, r.rows_new_versions, r.rows_quarantined) == ("succeeded", 8, 7, 1)
    ((key, (fld, reason)),) = quarantine(wh, r.batch_id).items()
    assert key == "000.05.41.H25 2020-01-01" and fld == "donViKeThua"
    assert reason == (
        "Đơn vị 000.05.41.H25 (hiệu lực 2020-01-01 – 2025-06-30) có đơn vị kế thừa 000.09.61.H25 (donViKeThua) "
        "nhưng 000.09.61.H25 không có trong danh mục đơn vị; phiên bản này không được nạp vào danh mục"
    )
    assert stored_units(wh) == BASE_KEYS | {(N, REFORM)}
    # The unit's daily rows are then refused too, and their reason says the register refused the unit.
    d = load_daily(wh, OSS_DOSSIER_DAILY, [daily(OSS_DOSSIER_DAILY, "2025-06-10", c) for c in (A, "000.05.41.H25")],
                   "2025-06-01", "2025-06-30")  # fmt: skip
    assert (d.rows_new_versions, d.rows_quarantined) == (1, 1)
    ((fld, reason),) = quarantine(wh, d.batch_id).values()
    assert fld == "maDinhDanh"
    assert reason == (
        "Mã định danh '000.05.41.H25' (trường 'maDinhDanh') không có trong danh mục đơn vị — phiên bản hiệu lực "
        "2020-01-01 – 2025-06-30 của đơn vị này bị cách ly khi nạp danh mục đơn vị, nên số liệu hằng ngày của nó "
        "cũng bị cách ly (lý do: Đơn vị 000.05.41.H25 (hiệu lực 2020-01-01 – 2025-06-30) có đơn vị kế thừa "
        "000.09.61.H25 (donViKeThua) nhưng 000.09.61.H25 không có trong danh mục đơn vị; phiên bản này không được "
        "nạp vào danh mục)"
    )


def test_succession_cycle_is_quarantined_and_reuse_is_not_a_cycle(fresh_schema):
    wh = fresh_schema
    c1, c2, c3 = "000.11.61.H25", "000.12.61.H25", "000.13.61.H25"
    e1, e2 = "000.11.41.H25", "000.12.41.H25"
    records = [
        *BASE,  # holds PROV(old) -> PROV(new): a reused identifier, not a cycle
        unit(c1, start=REFORM, succ=(c2,)),
        unit(c2, start=REFORM, succ=(c3,)),
        unit(c3, start=REFORM, succ=(c1,)),  # c1 -> c2 -> c3 -> c1, all still valid
        unit(e1, end=OLD_END, succ=(e2,)),
        unit(e2, end=OLD_END, succ=(e1,)),  # two old communes naming each other
    ]
    for attempt in ("direct", "staged"):  # first load writes once; the second versions against what is stored
        r = load_units(wh, records)
        assert r.rows_quarantined == 5, attempt
        got = quarantine(wh, r.batch_id)
        assert set(got) == {f"{c} {REFORM}" for c in (c1, c2, c3)} | {f"{e} 2020-01-01" for e in (e1, e2)}
        assert all(fld == "donViKeThua" for fld, _ in got.values())
        assert (
            f"vòng kế thừa {c1} (từ 2025-07-01) → {c2} (từ 2025-07-01) → {c3} (từ 2025-07-01) → {c1}"
            in (got[f"{c1} {REFORM}"][1])
        )
        assert got[f"{c2} {REFORM}"][1].startswith(f"Đơn vị {c2} (hiệu lực từ 2025-07-01) nằm trong vòng kế thừa {c2}")
        assert got[f"{e1} 2020-01-01"][1].startswith(f"Vòng kế thừa {e1} → {e2} → {e1} (donViKeThua)")
        assert stored_units(wh) == BASE_KEYS
    assert r.rows_new_versions == 0 and r.rows_unchanged == len(BASE)


def test_overlapping_versions_are_quarantined_naming_both_ranges(fresh_schema):
    wh = fresh_schema
    o = "000.07.41.H25"
    p = "000.08.41.H25"
    r = load_units(
        wh,
        [
            *BASE,
            unit(o, end=OLD_END),
            unit(o, start="2025-06-01", succ=()),  # overlaps the first from 1/6 to 30/6
            unit(p, end=OLD_END, succ=(o,)),  # names o: its successor is refused, so is it
        ],
    )
    assert (r.rows_new_versions, r.rows_quarantined) == (len(BASE), 3)
    got = quarantine(wh, r.batch_id)
    assert got[f"{o} 2020-01-01"] == (
        "hieuLucTu",
        f"Đơn vị {o}: phiên bản hiệu lực 2020-01-01 – 2025-06-30 chồng lấn thời gian với phiên bản hiệu lực "
        "từ 2025-06-01 của cùng mã định danh (một mã định danh chỉ có một phiên bản hiệu lực mỗi ngày); "
        "các phiên bản chồng lấn bị cách ly, phiên bản này không được nạp vào danh mục",
    )
    assert "phiên bản hiệu lực từ 2025-06-01 chồng lấn" in got[f"{o} 2025-06-01"][1]
    assert "2020-01-01 – 2025-06-30 của cùng mã định danh" in got[f"{o} 2025-06-01"][1]
    fld, reason = got[f"{p} 2020-01-01"]
    assert fld == "donViKeThua" and f"đơn vị kế thừa {o}" in reason and "bị cách ly trong lần nạp này" in reason
    assert stored_units(wh) == BASE_KEYS


def test_a_version_stored_before_stays_when_its_new_version_is_refused(fresh_schema):
    """A refused version is like any quarantined row: the key is seen (no tombstone), its last good version
    stays. Here A was stored open-ended; the new snapshot ends it naming a successor that does not exist."""
    wh = fresh_schema
    load_units(wh, [unit(A), unit(G)])
    r = load_units(wh, [unit(A, end=OLD_END, succ=("000.09.61.H25",)), unit(G)])
    assert (r.rows_new_versions, r.rows_deleted, r.rows_quarantined) == (0, 0, 1)
    assert q(wh, "SELECT hieu_luc_den FROM raw.oss_units_latest WHERE ma_dinh_danh = %s", A) == [(None,)]


# ---------------------------------------------------------------- daily rows against the register's validity


@pytest.mark.parametrize("entity", DAILY, ids=lambda e: e.name)
def test_rows_outside_their_units_validity_are_quarantined_others_load(fresh_schema, entity):
    wh = fresh_schema
    load_units(wh, [*BASE, unit(N, start=REFORM)])
    records = [
        daily(entity, "2025-06-30", A),  # A's last day
        daily(entity, "2025-07-01", A),  # A ended the day before
        daily(entity, "2025-06-30", X),  # X (successor of A and B) starts on 1/7
        daily(entity, "2025-07-01", X),
        daily(entity, "2025-06-30", G),
        daily(entity, "2025-07-01", G),
        daily(entity, "2025-06-30", N),  # N: a new commune that nothing succeeds, with history before its start
        daily(entity, "2025-07-01", N),
        daily(entity, "2025-07-01", "999.99.99.H99"),  # unknown identifier: its reason as before
    ]
    src = next(f.source for f in entity.fields if f.column == entity.unit_column)
    for attempt in ("direct", "staged"):  # the second load versions against the first
        r = load_daily(wh, entity, records, "2025-06-30", "2025-07-01")
        assert (r.status, r.rows_received, r.rows_quarantined) == ("succeeded", 9, 4), attempt
        got = quarantine(wh, r.batch_id)
        assert {fld for fld, _ in got.values()} == {src}
        assert {reason for _, reason in got.values()} == {
            f"Đơn vị {A} không có hiệu lực ngày 2025-07-01 (hiệu lực 2020-01-01 – 2025-06-30)",
            f"Đơn vị {X} không có hiệu lực ngày 2025-06-30 (hiệu lực từ 2025-07-01)",
            f"Xã mới {N} không có đơn vị tiền thân nào kế thừa: dữ liệu ngày 2025-06-30 trước ngày hiệu lực "
            "2025-07-01 bị cách ly",
            f"Mã định danh '999.99.99.H99' (trường '{src}') không có trong danh mục đơn vị",
        }, attempt
        assert live_daily(wh, entity) == {
            (A, "2025-06-30"),
            (X, "2025-07-01"),
            (G, "2025-06-30"),
            (G, "2025-07-01"),
            (N, "2025-07-01"),
        }, attempt
    assert r.rows_new_versions == 0 and r.rows_deleted == 0


def test_reused_identifier_loads_on_both_sides_on_the_fast_path(fresh_schema, monkeypatch):
    """Old X valid to 30/6 naming X, new X from 1/7: X's rows on both sides load, nothing is quarantined, and the
    typed pages stay typed (the row-by-row path is not taken)."""
    wh = fresh_schema
    r = load_units(wh, [unit(X, end=OLD_END, succ=(X,)), unit(X, start=REFORM), unit(G)])
    assert (r.rows_new_versions, r.rows_quarantined) == (3, 0)
    assert q(wh, "SELECT hieu_luc_tu, don_vi_ke_thua FROM raw.oss_units_latest WHERE ma_dinh_danh = %s ORDER BY 1",
             X) == [(date(2020, 1, 1), [X]), (date(2025, 7, 1), [])]  # fmt: skip

    def row_by_row(*a, **kw):
        raise AssertionError("a typed page took the row-by-row path")

    for entity in DAILY:
        records = [daily(entity, day, c) for day in ("2025-06-29", "2025-06-30", "2025-07-01", "2025-07-02")
                   for c in (X, G)]  # fmt: skip
        with monkeypatch.context() as m:
            if entity is not ESIGN_SIGNATURES_DAILY:  # e-signature files have no typed path
                m.setattr(loader._Batch, "_parse_rows", row_by_row)
            b = load_daily(wh, entity, records, "2025-06-29", "2025-07-02")
        assert (b.rows_new_versions, b.rows_quarantined) == (8, 0), entity.name
        assert {(u, d) for u, d in live_daily(wh, entity) if u == X} == {
            (X, d) for d in ("2025-06-29", "2025-06-30", "2025-07-01", "2025-07-02")
        }
    assert q(wh, "SELECT count(*) FROM raw.quarantine") == [(0,)]


# ---------------------------------------------------------------- the column in existing warehouses


def test_existing_warehouse_gains_the_column_and_keeps_its_versions(fresh_schema):
    """A warehouse created before donViKeThua (and before the migrations): adopting it at the baseline adds the
    column in place (the latest view shows it), the versions stored then read '{}' and keep their hash, so the
    same register loads as unchanged; a changed successor list is a new version; a register server from before
    the reform (no donViKeThua) is no drift."""
    wh = fresh_schema
    ddl = (MIGRATIONS_DIR / "sql" / "0001_raw.sql").read_text(encoding="utf-8")
    old_ddl = "\n".join(line for line in ddl.splitlines() if "don_vi_ke_thua" not in line)
    assert old_ddl != ddl
    pre_reform = [{k: v for k, v in unit(c).items() if k != "donViKeThua"} for c in (A, B, G)]
    with wh.connect(autocommit=True) as conn:
        conn.execute("DROP TABLE raw.oss_units CASCADE")  # and its latest view
        conn.execute(old_ddl)
        conn.execute("DROP TABLE chiso_meta.alembic_version")  # the code of that time had no migrations
        assert "don_vi_ke_thua" not in [c.name for c in conn.execute("SELECT * FROM raw.oss_units_latest").description]
        batch = "00000000-0000-0000-0000-0000000000aa"
        for rec in pre_reform:
            values = parse_record(OSS_UNITS, rec).values
            conn.execute(
                "INSERT INTO raw.oss_units (ma_don_vi, ma_dinh_danh, ten_don_vi, loai_don_vi, ma_dinh_danh_cha,"
                " ma_dvhc, so_can_bo, co_chung_thuc_dien_tu, hieu_luc_tu, hieu_luc_den, _batch_id, _row_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*(values[c] for c in OSS_UNITS.columns if c != "don_vi_ke_thua"), batch,
                 row_hash(OSS_UNITS, values)),
            )  # fmt: skip
    assert migrate(wh.uri()).adopted
    assert migrate(wh.uri()).applied == []  # idempotent
    with wh.connect(autocommit=True) as conn:
        cols = [c.name for c in conn.execute("SELECT * FROM raw.oss_units_latest").description]
    assert "don_vi_ke_thua" in cols
    assert q(wh, "SELECT DISTINCT don_vi_ke_thua FROM raw.oss_units") == [([],)]
    same = load_units(wh, pre_reform)  # the pre-reform server again: no field, no drift, nothing new
    assert (same.status, same.rows_new_versions, same.rows_unchanged, same.rows_quarantined) == ("succeeded", 0, 3, 0)
    ended = load_units(wh, [unit(A, end=OLD_END, succ=(G,)), unit(B), unit(G)])
    assert (ended.rows_new_versions, ended.rows_unchanged) == (1, 2)
    assert q(wh, "SELECT hieu_luc_den, don_vi_ke_thua FROM raw.oss_units_latest WHERE ma_dinh_danh = %s", A) == [
        (date(2025, 6, 30), [G])
    ]
    renamed = load_units(wh, [unit(A, end=OLD_END, succ=(B, G)), unit(B), unit(G)])
    assert renamed.rows_new_versions == 1  # only the successor list changed


# ---------------------------------------------------------------- GX: the register suite


def test_register_suite_catches_successor_problems_stored_behind_the_loaders_back(fresh_schema, tmp_path):
    from chiso.quality import validate

    wh = fresh_schema
    load_units(wh, [*BASE, unit(N, start=REFORM)])

    def run(run_id):
        out = validate("raw_oss_units", warehouse_uri=wh.uri(), run_id=run_id, window=None, home=tmp_path,
                       build_docs=False)  # fmt: skip
        return {r.name: r for r in out.results if not r.success}

    assert run("clean") == {}
    with wh.connect(autocommit=True) as conn:  # written directly: the loader would refuse these
        b = "00000000-0000-0000-0000-0000000000bb"
        for code, start, end, succ in [
            ("000.21.41.H25", "2020-01-01", OLD_END, ["000.99.61.H25"]),  # successor not in the register
            ("000.22.61.H25", REFORM, None, ["000.23.61.H25"]),  # cycle among units still valid
            ("000.23.61.H25", REFORM, None, ["000.22.61.H25"]),
            ("000.24.41.H25", "2020-01-01", OLD_END, ["000.24.41.H25", "000.24.41.H25", "x y"]),  # malformed
        ]:
            conn.execute(
                "INSERT INTO raw.oss_units (ma_dinh_danh, ten_don_vi, loai_don_vi, hieu_luc_tu, hieu_luc_den,"
                " don_vi_ke_thua, _batch_id, _row_hash) VALUES (%s, 'x', 'UBND_XA', %s, %s, %s, %s, 'h')",
                (code, start, end, succ, b),
            )
    failed = run("faults")
    assert set(failed) == {
        "successor_valid_after_end",
        "succession_acyclic",
        "successor_only_when_ended",
        "successor_list_well_formed",
    }
    assert failed["succession_acyclic"].severity == "critical"
    assert failed["successor_only_when_ended"].severity == "warning"
    assert "000.99.61.H25" in failed["successor_valid_after_end"].message_vi
    assert failed["successor_valid_after_end"].severity == "critical"
    assert "000.22.61.H25" in failed["succession_acyclic"].message_vi
    assert failed["successor_list_well_formed"].severity == "warning"


# ---------------------------------------------------------------- through the source interfaces


def test_reform_register_through_the_source_interfaces(fresh_schema, tmp_path):
    """The register (a reused identifier, a new commune with history before its start, an old commune with a row
    after its end) served by the one-stop-shop and e-document HTTP apps and the e-signature drop folder, read by
    the real extractors: the reused identifier's rows load on both sides of the reform, the two out-of-validity
    rows of each daily feed are quarantined with their reasons, everything else loads."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbt"))
    try:
        from handmade_source import HandMadeSource, serve
    finally:
        sys.path.pop(0)
    from chiso.extract import edoc, esign, one_stop_shop
    from chiso_simulator.engine import ESIGN_COUNTS, TZ
    from chiso_simulator.esign_drop import write_esign_drop

    wh = fresh_schema
    r = "000.04.41.H25"  # an old commune whose identifier a new commune takes on 1/7
    register = [*BASE, unit(N, start=REFORM), unit(r, end=OLD_END, succ=(r,)), unit(r, start=REFORM)]
    procedure = {
        "maThuTuc": "1.001", "tenThuTuc": "Đăng ký khai sinh", "linhVuc": "Hộ tịch", "capThucHien": "XA",
        "mucDoDVC": "TOAN_TRINH", "coPhiLePhi": False, "tichHopThanhToan": False, "doiTuongCongDan": True,
        "ketNoiDuLieuDanCu": True, "ngayHieuLucVanBan": "2023-01-01", "ngayQuyetDinhCongBo": "2022-12-01",
        "ngayCongKhai": "2022-12-05", "noiDungDayDu": True, "donViThucHien": [],
    }  # fmt: skip
    source = HandMadeSource(datetime(2025, 7, 10, 9, tzinfo=TZ), register, [procedure])
    days = ("2025-06-29", "2025-06-30", "2025-07-01", "2025-07-02")
    good = [(d, c) for d in days for c in (r, G)] + [(d, X) for d in days[2:]] + [(d, A) for d in days[:2]]
    bad = [("2025-07-01", A), ("2025-06-30", N)]
    for d, c in good + bad:
        for system, entity in (("dossier", OSS_DOSSIER_DAILY), ("petition", OSS_PETITION_DAILY),
                               ("edoc", EDOC_DOCUMENTS_DAILY)):  # fmt: skip
            source.put(system, daily(entity, d, c))
        source.put("esign", {"report_date": d, "ma_dinh_danh": c, **dict.fromkeys(ESIGN_COUNTS, 1)})
    start, end = date(2025, 6, 29), date(2025, 7, 2)
    uri = wh.uri()
    with serve(source, tmp_path / "drop") as s:
        write_esign_drop(source, tmp_path / "drop", start, end, now=source.now())
        summaries = {
            "one_stop_shop": one_stop_shop.extract(s.oss, uri, start, end, run_id="t", page_size=2),
            "edoc": edoc.extract(s.edoc, uri, start, end, run_id="t", page_size=2),
            "esign": esign.extract(s.esign, uri, start, end, run_id="t"),
        }
    for name, summary in summaries.items():
        assert all(b["status"] == "succeeded" for b in summary["batches"]), summary
        assert not summary["rejected_files"], summary
        quarantined: dict[str, int] = {}
        for b in summary["batches"]:  # e-signatures: one batch per file (day)
            quarantined[b["entity"]] = quarantined.get(b["entity"], 0) + b["rows_quarantined"]
        assert quarantined == {e: 0 if e in ("units", "procedures") else len(bad) for e in quarantined}, name
    assert stored_units(wh) == BASE_KEYS | {(N, REFORM), (r, "2020-01-01"), (r, REFORM)}
    want = {(c, d) for d, c in good}
    for entity in DAILY:
        assert live_daily(wh, entity) == want, entity.name
        reasons = [x for (x,) in q(wh, "SELECT reason FROM raw.quarantine WHERE entity = %s", entity.entity)]
        assert sorted(reasons) == [
            f"Xã mới {N} không có đơn vị tiền thân nào kế thừa: dữ liệu ngày 2025-06-30 trước ngày hiệu lực "
            "2025-07-01 bị cách ly",
            f"Đơn vị {A} không có hiệu lực ngày 2025-07-01 (hiệu lực 2020-01-01 – 2025-06-30)",
        ], entity.name
