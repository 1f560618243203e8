"""Append-only raw loader against the real embedded PostgreSQL: versions, tombstones, quarantine,
idempotency, failure atomicity and stale audits."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from chiso.raw import loader
from chiso.raw.entities import EDOC_DOCUMENTS_DAILY, OSS_PROCEDURES, OSS_UNITS
from chiso.raw.loader import LoadError, SourceRow, load_batch

pytestmark = pytest.mark.postgres

D1, D2 = date(2024, 5, 1), date(2024, 5, 2)
UNITS = ["000.00.12.H26", "000.00.13.H26", "000.00.14.H26"]


def doc(day: date | str, org: str, n: int = 5, **kw) -> dict:
    rec = {
        "report_date": day if isinstance(day, str) else day.isoformat(),
        "org_code": org,
        "incoming_total": n,
        "incoming_electronic": n,
        "outgoing_total": n,
        "outgoing_electronic": n,
        "outgoing_signed": n,
        "outgoing_via_axis": 0,
        "paper_parallel": 0,
        "work_files_total": 1,
        "work_files_online": 1,
        "updated_at": "2024-05-03T08:00:00+07:00",
    }
    rec.update(kw)
    return rec


def unit(code: str, name: str = "UBND", **kw) -> dict:
    rec = {
        "maDonVi": "X" + code[-6:],
        "maDinhDanh": code,
        "tenDonVi": name,
        "loaiDonVi": "SO_NGANH",
        "maDinhDanhCha": None,
        "maDVHC": "26",
        "soCanBo": 40,
        "coChungThucDienTu": False,
        "hieuLucTu": "2020-01-01",
        "hieuLucDen": None,
    }
    rec.update(kw)
    return rec


def pages(records: list, size: int = 2) -> list[list[SourceRow]]:
    out = []
    for i in range(0, len(records), size):
        out.append([SourceRow(f"trang={i // size + 1} dòng {j + 1}", r) for j, r in enumerate(records[i : i + size])])
    return out


def load_docs(wh, records, start=D1, end=D2, **kw):
    return load_batch(wh.uri(), EDOC_DOCUMENTS_DAILY, pages(records), window_start=start, window_end=end, **kw)


def q(wh, query, *args):
    with wh.connect() as conn:
        return conn.execute(query, args).fetchall()


def test_versions_idempotency_and_tombstones(fresh_schema):
    wh = fresh_schema
    first = [doc(D1, u) for u in UNITS] + [doc(D2, u) for u in UNITS]
    r1 = load_docs(wh, first)
    assert (r1.status, r1.rows_received, r1.rows_new_versions, r1.rows_quarantined) == ("succeeded", 6, 6, 0)
    # Same window again: nothing new, nothing deleted.
    r2 = load_docs(wh, first)
    assert (r2.rows_new_versions, r2.rows_unchanged, r2.rows_deleted) == (0, 6, 0)
    assert r2.checksum == r1.checksum
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily") == [(6,)]
    # A late correction on D1 and a vanished row on D2.
    second = [doc(D1, UNITS[0], n=9)] + [doc(D1, u) for u in UNITS[1:]] + [doc(D2, u) for u in UNITS[:2]]
    r3 = load_docs(wh, second)
    assert (r3.rows_new_versions, r3.rows_unchanged, r3.rows_deleted) == (1, 4, 1)
    latest = q(
        wh,
        "SELECT report_date, org_code, incoming_total FROM raw.edoc_documents_daily_latest ORDER BY 1, 2",
    )
    expected = sorted((date.fromisoformat(r["report_date"]), r["org_code"], r["incoming_total"]) for r in second)
    assert latest == expected
    # The tombstone keeps the key with zero counts; every version is kept.
    assert q(
        wh,
        "SELECT incoming_total, _row_hash FROM raw.edoc_documents_daily WHERE _is_deleted",
    ) == [(0, "deleted")]
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily") == [(8,)]
    # Loading again is still a no-op; a reappearing key gets a new live version.
    assert load_docs(wh, second).rows_new_versions == 0
    r5 = load_docs(wh, first)
    assert (r5.rows_new_versions, r5.rows_deleted) == (2, 0)
    audits = q(wh, "SELECT status, count(*) FROM raw.load_audit GROUP BY 1")
    assert audits == [("succeeded", 5)]


def test_tombstones_stay_inside_window(fresh_schema):
    wh = fresh_schema
    load_docs(wh, [doc(D1, u) for u in UNITS] + [doc(D2, u) for u in UNITS])
    r = load_docs(wh, [doc(D2, u) for u in UNITS], start=D2, end=D2)
    assert (r.rows_new_versions, r.rows_deleted) == (0, 0)
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily_latest") == [(6,)]


def test_bad_rows_are_quarantined_and_good_rows_land(fresh_schema):
    wh = fresh_schema
    load_batch(wh.uri(), OSS_UNITS, pages([unit(u) for u in UNITS]))
    records = [
        doc(D1, UNITS[0]),
        doc(D1, UNITS[1], outgoing_signed=-3),  # negative count
        doc(D1, "999.99.99.H99"),  # unknown unit
        doc("2024-13-01", UNITS[2]),  # unparseable date
        {k: v for k, v in doc(D2, UNITS[0]).items() if k != "org_code"},  # missing key
        doc(D2, UNITS[1]),
        doc(D2, UNITS[1]),  # identical duplicate: one kept
        doc(D2, UNITS[2], n=1),
        doc(D2, UNITS[2], n=2),  # conflicting duplicate: none kept
        doc(date(2024, 6, 1), UNITS[0]),  # outside the requested window
    ]
    r = load_docs(wh, records)
    assert r.status == "succeeded"
    assert r.rows_received == 10
    assert r.rows_new_versions == 2
    assert r.rows_quarantined == 8
    rows = q(wh, "SELECT record_ref, field, reason, payload FROM raw.quarantine ORDER BY quarantine_id")
    by_field = {}
    for ref, fld, reason, payload in rows:
        by_field.setdefault(fld, []).append((ref, reason, payload))
    assert "âm" in by_field["outgoing_signed"][0][1] and by_field["outgoing_signed"][0][0] == "trang=1 dòng 2"
    assert any("không có trong danh mục đơn vị" in x[1] for x in by_field["org_code"])
    assert any("thiếu trường 'org_code'" in x[1].lower() for x in by_field["org_code"])
    assert any("ngày hợp lệ" in x[1] for x in by_field["report_date"])
    assert any("ngoài khoảng" in x[1] for x in by_field["report_date"])
    dups = [x for x in by_field["report_date"] if "Trùng khóa" in x[1]]
    assert len(dups) == 3 and sum("cùng nội dung" in x[1] for x in dups) == 1
    assert q(wh, "SELECT org_code FROM raw.edoc_documents_daily_latest ORDER BY 1") == [
        (UNITS[0],),
        (UNITS[1],),
    ]
    # A bad row without a usable key suppresses tombstones (it might be any key).
    assert r.rows_deleted == 0 and any("không tạo bản ghi xóa" in n for n in r.notes)


def test_quarantined_key_is_not_tombstoned(fresh_schema):
    wh = fresh_schema
    load_docs(wh, [doc(D1, u) for u in UNITS])
    r = load_docs(wh, [doc(D1, UNITS[0]), doc(D1, UNITS[1]), doc(D1, UNITS[2], paper_parallel=-1)])
    assert (r.rows_deleted, r.rows_quarantined) == (0, 1)
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily_latest") == [(3,)]


def test_schema_drift_on_every_row_fails_loudly(fresh_schema):
    wh = fresh_schema
    renamed = []
    for u in UNITS:
        rec = doc(D1, u)
        rec["outgoing_signed_total"] = rec.pop("outgoing_signed")
        renamed.append(rec)
    with pytest.raises(LoadError, match="outgoing_signed") as ei:
        load_docs(wh, renamed)
    assert "outgoing_signed_total" in str(ei.value)
    ((status, error),) = q(wh, "SELECT status, error FROM raw.load_audit")
    assert status == "failed" and "'outgoing_signed'" in error
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily") == [(0,)]
    assert q(wh, "SELECT count(*) FROM raw.quarantine") == [(0,)]


def test_failure_midway_leaves_no_versions_and_rerun_is_clean(fresh_schema, monkeypatch):
    wh = fresh_schema
    load_docs(wh, [doc(D1, u) for u in UNITS])
    changed = [doc(D1, u, n=7) for u in UNITS[:2]]

    def boom(batch):
        raise RuntimeError("killed")

    monkeypatch.setattr(loader, "before_commit", boom)
    with pytest.raises(RuntimeError, match="killed"):
        load_docs(wh, changed)
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily") == [(3,)]
    assert q(wh, "SELECT status FROM raw.load_audit ORDER BY started_at") == [("succeeded",), ("failed",)]
    monkeypatch.setattr(loader, "before_commit", lambda batch: None)
    r = load_docs(wh, changed)
    assert (r.rows_new_versions, r.rows_deleted) == (2, 1)
    assert q(wh, "SELECT sum(incoming_total) FROM raw.edoc_documents_daily_latest") == [(14,)]


def test_source_error_midway_fails_batch(fresh_schema):
    wh = fresh_schema

    def broken_pages():
        yield [SourceRow("trang=1 dòng 1", doc(D1, UNITS[0]))]
        raise ConnectionError("nguồn ngắt kết nối")

    with pytest.raises(ConnectionError):
        load_batch(wh.uri(), EDOC_DOCUMENTS_DAILY, broken_pages(), window_start=D1, window_end=D1)
    assert q(wh, "SELECT status, rows_received FROM raw.load_audit") == [("failed", 1)]
    assert q(wh, "SELECT count(*) FROM raw.edoc_documents_daily") == [(0,)]


def test_stale_running_audit_is_marked_failed(fresh_schema):
    wh = fresh_schema
    load_docs(wh, [doc(D1, UNITS[0])])
    with wh.connect() as conn:  # a loader that died without a word
        conn.execute(
            "INSERT INTO raw.load_audit (batch_id, source, entity, status)"
            " VALUES (gen_random_uuid(), 'edoc', 'documents_daily', 'running')"
        )
    load_docs(wh, [doc(D1, UNITS[0])])
    rows = q(wh, "SELECT status, error FROM raw.load_audit WHERE run_id IS NULL")
    assert rows[0][0] == "failed" and "gián đoạn" in rows[0][1]


def test_live_loader_is_waited_for_not_marked_stale(fresh_schema):
    wh = fresh_schema
    load_docs(wh, [doc(D1, UNITS[0])])
    lock = "SELECT pg_advisory_lock(hashtext('chiso.raw.edoc_documents_daily'))"
    with wh.connect(autocommit=True) as other:  # a live loader: holds the entity lock, audit running
        other.execute(lock)
        other.execute(
            "INSERT INTO raw.load_audit (batch_id, source, entity, status, run_id)"
            " VALUES ('00000000-0000-0000-0000-000000000001', 'edoc', 'documents_daily', 'running', 'live')"
        )
        done = threading.Event()
        t = threading.Thread(target=lambda: (load_docs(wh, [doc(D1, UNITS[0])]), done.set()))
        t.start()
        assert not done.wait(1.0), "a second loader must wait for the entity lock"
        assert q(wh, "SELECT status FROM raw.load_audit WHERE run_id = 'live'") == [("running",)]
        other.execute("UPDATE raw.load_audit SET status = 'succeeded' WHERE run_id = 'live'")
        other.execute("SELECT pg_advisory_unlock(hashtext('chiso.raw.edoc_documents_daily'))")
        t.join(30)
    assert done.is_set()
    assert q(wh, "SELECT status FROM raw.load_audit WHERE run_id = 'live'") == [("succeeded",)]


def test_snapshot_tombstones_and_empty_snapshot_refused(fresh_schema):
    wh = fresh_schema
    procs = [
        {
            "maThuTuc": f"1.00{i}",
            "tenThuTuc": f"Thủ tục {i}",
            "linhVuc": "Hộ tịch",
            "capThucHien": "XA",
            "mucDoDVC": "TOAN_TRINH",
            "coPhiLePhi": True,
            "tichHopThanhToan": False,
            "doiTuongCongDan": True,
            "ketNoiDuLieuDanCu": True,
            "ngayHieuLucVanBan": "2023-01-01",
            "ngayQuyetDinhCongBo": "2022-12-01",
            "ngayCongKhai": "2022-12-05",
            "noiDungDayDu": True,
            "donViThucHien": [UNITS[0]] if i == 1 else [],
        }
        for i in range(3)
    ]
    load_batch(wh.uri(), OSS_PROCEDURES, pages(procs))
    r = load_batch(wh.uri(), OSS_PROCEDURES, pages(procs[:2]))
    assert r.rows_deleted == 1
    rows = q(wh, "SELECT ma_thu_tuc, don_vi_thuc_hien FROM raw.oss_procedures_latest ORDER BY 1")
    assert rows == [("1.000", []), ("1.001", [UNITS[0]])]
    with pytest.raises(LoadError, match="0 bản ghi"):
        load_batch(wh.uri(), OSS_PROCEDURES, [])
    assert q(wh, "SELECT count(*) FROM raw.oss_procedures_latest") == [(2,)]


def test_temp_table_path_when_role_may_create_temp_tables(fresh_schema):
    wh = fresh_schema
    with wh.connect("postgres", autocommit=True) as su:
        su.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_loader")
    try:
        r1 = load_docs(wh, [doc(D1, u) for u in UNITS])
        r2 = load_docs(wh, [doc(D1, u) for u in UNITS[:2]])
        assert (r1.rows_new_versions, r2.rows_deleted) == (3, 1)
        assert q(wh, "SELECT count(*) FROM pg_tables WHERE schemaname = 'raw' AND tablename LIKE '\\_load%%'") == [(0,)]
    finally:
        with wh.connect("postgres", autocommit=True) as su:
            su.execute("REVOKE TEMPORARY ON DATABASE chiso FROM chiso_loader")


@pytest.mark.parametrize(
    "field, value",
    [
        ("updated_at", "2024-05-03T08:00:00+07:00"),
        ("updated_at", "2024-02-30T08:00:00+07:00"),
        ("updated_at", "2024-05-03T24:00:00+07:00"),
        ("updated_at", "2024-05-03T23:59:60+07:00"),
        ("updated_at", "2024-05-03T23:59:59+24:00"),
        ("updated_at", "2024-05-03T23:59:59+05:61"),
        ("updated_at", "2024-05-03T23:59:59-00:00"),
        ("updated_at", "2024-05-03T23:59:59-05:30"),
        ("updated_at", "2024-05-03T08:00:00+07:00\n"),
        ("report_date", "2024-02-30"),
        ("org_code", "000.00.12.H26\n000.00.13.H26"),
        ("org_code", " 000.00.12.H26"),
    ],
)
def test_fast_path_column_checks_never_accept_what_the_row_path_refuses(field, value):
    """_fast_values_valid checks a column's distinct values in one regex call: a page it types must be one the
    row-by-row parse accepts whole (a refused page simply takes that path)."""
    from chiso.raw.entities import fast_rows, parse_record

    recs = [doc(D1, UNITS[0]), doc(D1, UNITS[1], **{field: value}), doc(D1, UNITS[2])]
    typed = fast_rows(EDOC_DOCUMENTS_DAILY, recs)
    row_ok = all(parse_record(EDOC_DOCUMENTS_DAILY, r).ok for r in recs)
    if typed is not None:
        assert row_ok
        assert typed[1][EDOC_DOCUMENTS_DAILY.columns.index(
            next(f.column for f in EDOC_DOCUMENTS_DAILY.fields if f.source == field))] == value
    if value == "2024-05-03T08:00:00+07:00":
        assert typed is not None


def test_batches_of_one_extraction_share_a_connection_and_a_failure_leaves_no_lock(fresh_schema, monkeypatch):
    wh = fresh_schema
    with loader.Connections(wh.uri()) as db:
        load_batch(db, EDOC_DOCUMENTS_DAILY, pages([doc(D1, u) for u in UNITS]), window_start=D1, window_end=D1)
        pid = db.get().info.backend_pid
        load_batch(db, EDOC_DOCUMENTS_DAILY, pages([doc(D2, u) for u in UNITS]), window_start=D2, window_end=D2)
        assert db.get().info.backend_pid == pid  # one backend for the extraction's batches

        def boom(batch):
            raise RuntimeError("killed")

        monkeypatch.setattr(loader, "before_commit", boom)
        with pytest.raises(RuntimeError, match="killed"):
            load_batch(db, EDOC_DOCUMENTS_DAILY, pages([doc(D1, UNITS[0], n=9)]), window_start=D1, window_end=D1)
        # the failed batch rolled back and released its session locks: the next batch goes ahead
        assert q(wh, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == [(0,)]
        monkeypatch.setattr(loader, "before_commit", lambda batch: None)
        r = load_batch(db, EDOC_DOCUMENTS_DAILY, pages([doc(D1, UNITS[0], n=9)]), window_start=D1, window_end=D1)
        assert (r.rows_new_versions, r.rows_deleted) == (1, 2)
    assert q(wh, "SELECT status FROM raw.load_audit ORDER BY started_at") == [
        ("succeeded",), ("succeeded",), ("failed",), ("succeeded",)
    ]
    assert q(wh, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'chiso-loader'") == [(0,)]


def test_a_register_given_by_the_extractor_is_the_one_checked(fresh_schema):
    """No register loaded in the warehouse, one given: the batch checks units against it (not against nothing)."""
    from chiso.raw.register import UnitRegister, UnitVersion

    wh = fresh_schema
    given = UnitRegister([UnitVersion(UNITS[0], date(2020, 1, 1), None)])
    r = load_docs(wh, [doc(D1, UNITS[0]), doc(D1, UNITS[1])], end=D1, units=given)
    assert (r.rows_new_versions, r.rows_quarantined) == (1, 1)
    assert q(wh, "SELECT record_ref LIKE %s FROM raw.quarantine", "%dòng 2") == [(True,)]
