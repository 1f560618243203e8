"""The warehouse's schema has one owner: chiso.warehouse.schema.migrate() (ordered Alembic revisions). A fresh
warehouse and a pre-Alembic one (made by the old ensure_schema functions) both end at head; migrating again is a
no-op, concurrent starts upgrade once, and the load paths refuse a warehouse not at head, naming the command."""

from __future__ import annotations

import re
import threading
import time

import psycopg
import pytest

from chiso.export.runner import list_submissions
from chiso.quality.freshness import freshness
from chiso.raw.entities import OSS_UNITS
from chiso.raw.loader import SourceRow, load_batch
from chiso.stack import postgres
from chiso.warehouse import schema
from chiso.warehouse.schema import HEAD, MIGRATIONS_DIR, SchemaNotAtHead, migrate

pytestmark = pytest.mark.postgres  # the embedded PostgreSQL (`warehouse`)

SQL = MIGRATIONS_DIR / "sql"
BASELINE = ("0001_raw.sql", "0001_quality.sql", "0001_exports.sql")
REVISIONS = ["0001", "0002"]
# The old raw.loader.ensure_schema() recorded its DDL's digest here; revision 0002 drops it.
OLD_DIGEST_TABLE = "CREATE TABLE IF NOT EXISTS raw.schema_version (digest text PRIMARY KEY, applied_at timestamptz)"


def _declared(kind: str) -> set[str]:
    pattern = {"table": r"CREATE TABLE IF NOT EXISTS (\w+\.\w+)", "view": r"CREATE OR REPLACE VIEW (\w+\.\w+)"}[kind]
    return {m for f in BASELINE for m in re.findall(pattern, (SQL / f).read_text(encoding="utf-8"))}


def _relations(wh, kind: str) -> set[str]:
    with wh.connect("postgres") as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('raw', 'quality', 'exports')"
            if kind == "table"
            else "SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname IN ('raw', 'quality', 'exports')"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.fixture
def empty(warehouse):
    """Roles, grants and empty schemas (as after `provision`), never migrated; migrated back to head after."""
    with warehouse.connect("postgres", autocommit=True) as conn:
        for name in ("raw", "quality", "exports", "chiso_meta"):
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    postgres.provision(warehouse.settings, warehouse.creds)
    yield warehouse
    postgres.bootstrap(warehouse.settings, warehouse.creds)


def _pre_alembic(wh, files=BASELINE) -> None:
    """What the old ensure_schema functions left: the DDL applied by hand, its digest table, no version table."""
    with wh.connect(autocommit=True) as conn:
        for f in files:
            conn.execute((SQL / f).read_text(encoding="utf-8"))
        conn.execute(OLD_DIGEST_TABLE)
        conn.execute("INSERT INTO raw.schema_version VALUES ('old-digest', now())")


def test_fresh_warehouse_migrates_to_head_with_every_table(empty):
    r = migrate(empty.uri())
    assert (r.before, r.after, r.applied, r.adopted) == (None, HEAD, REVISIONS, False)
    assert _declared("table") <= _relations(empty, "table")
    assert _declared("view") <= _relations(empty, "view")
    assert "raw.schema_version" not in _relations(empty, "table")
    with empty.connect() as conn:
        assert schema.current_revision(conn) == HEAD
        schema.require_head(conn)
    # Created by their owner, so the default privileges of warehouse_grants.sql apply: dbt reads them.
    with empty.connect("chiso_transformer") as conn:
        assert conn.execute("SELECT count(*) FROM raw.load_audit").fetchone() == (0,)
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('raw', 'quality', 'exports')"
        ).fetchall()
    assert owners == [("chiso_loader",)]


def test_migrating_twice_is_a_no_op(empty):
    migrate(empty.uri())
    again = migrate(empty.uri())
    assert (again.before, again.after, again.applied, again.adopted) == (HEAD, HEAD, [], False)


def test_concurrent_migrations_upgrade_once(empty):
    """Both calls queue behind the migration lock (held here until both wait); one upgrades, the other finds
    nothing to do."""
    results, errors = [], []

    def run():
        try:
            results.append(migrate(empty.uri()))
        except Exception as exc:  # reported below
            errors.append(exc)

    with empty.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtext(%s))", (schema.LOCK_KEY,))
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            waiting = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()[0]
            if waiting == 2:
                break
            time.sleep(0.05)
        assert waiting == 2
        holder.execute("SELECT pg_advisory_unlock(hashtext(%s))", (schema.LOCK_KEY,))
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.applied for r in results) == [[], REVISIONS]
    assert {r.after for r in results} == {HEAD}


def test_pre_alembic_warehouse_is_adopted_at_the_baseline_and_keeps_its_rows(empty):
    """The exports tables only appeared once the old exporter had run: here it never had."""
    _pre_alembic(empty, files=("0001_raw.sql", "0001_quality.sql"))
    batch = "00000000-0000-0000-0000-0000000000b1"
    with empty.connect(autocommit=True) as conn:
        conn.execute(
            "INSERT INTO raw.load_audit (batch_id, source, entity, run_id, status, finished_at, rows_received)"
            " VALUES (%s, 'one_stop_shop', 'units', 'old', 'succeeded', now(), 1)",
            (batch,),
        )
        conn.execute(
            "INSERT INTO raw.oss_units (ma_dinh_danh, ten_don_vi, loai_don_vi, hieu_luc_tu, _batch_id, _row_hash)"
            " VALUES ('000.00.00.H26', 'UBND tỉnh', 'UBND_TINH', '2020-01-01', %s, 'h')",
            (batch,),
        )
        with pytest.raises(SchemaNotAtHead):
            schema.require_head(conn)
    r = migrate(empty.uri())
    assert (r.before, r.after, r.applied, r.adopted) == (None, HEAD, REVISIONS, True)
    assert "raw.schema_version" not in _relations(empty, "table")  # revision 0002
    assert {"exports.submissions", "exports.submission_attempts"} <= _relations(empty, "table")
    with empty.connect() as conn:
        assert conn.execute("SELECT batch_id::text, run_id FROM raw.load_audit").fetchall() == [(batch, "old")]
        assert conn.execute("SELECT ma_dinh_danh, ten_don_vi FROM raw.oss_units_latest").fetchall() == [
            ("000.00.00.H26", "UBND tỉnh")
        ]
    assert migrate(empty.uri()).applied == []


def _units_page():
    record = {"maDonVi": "DV01", "maDinhDanh": "000.00.00.H26", "tenDonVi": "UBND tỉnh", "loaiDonVi": "UBND_TINH",
              "maDinhDanhCha": None, "maDVHC": "26", "soCanBo": 40, "coChungThucDienTu": True,
              "hieuLucTu": "2020-01-01", "hieuLucDen": None, "donViKeThua": []}  # fmt: skip
    return [SourceRow("GET /api/v1/don-vi dòng 1", record)]


def test_load_paths_refuse_a_warehouse_not_at_head(empty):
    """Never migrated (tables made by hand), then one revision behind: the loader, the exporter and the quality
    store fail at once with the command to run, and the loader writes no audit row."""
    _pre_alembic(empty)
    uri = empty.uri()
    for expected in ("chưa có phiên bản", "0001"):
        if expected == "0001":  # as if the code were one release ahead of the warehouse
            migrate(uri)
            with empty.connect(autocommit=True) as conn:
                conn.execute("UPDATE chiso_meta.alembic_version SET version_num = '0001'")
        with pytest.raises(SchemaNotAtHead) as exc:
            load_batch(uri, OSS_UNITS, [_units_page()])
        message = str(exc.value)
        assert message.startswith("Kho dữ liệu chưa ở phiên bản lược đồ mới nhất")
        assert expected in message and HEAD in message and "./chiso migrate" in message
        with pytest.raises(SchemaNotAtHead):
            list_submissions(uri)
        with pytest.raises(SchemaNotAtHead):
            freshness(uri)
        with empty.connect() as conn:
            assert conn.execute("SELECT count(*) FROM raw.load_audit").fetchone() == (0,)
    r = migrate(uri)
    assert (r.before, r.applied) == ("0001", ["0002"])
    assert load_batch(uri, OSS_UNITS, [_units_page()]).status == "succeeded"


def test_require_head_leaves_a_transaction_usable(empty):
    """The check runs inside the caller's transaction too (a savepoint): a missing version table is no error
    that poisons it."""
    with empty.connect() as conn:
        assert schema.current_revision(conn) is None
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_cli_migrate(empty, capsys):
    """`./chiso migrate` as the owner: upgrades and syncs the freshness view; again: nothing to apply; without
    the superuser's chiso_meta schema it says what to run first."""
    from chiso.cli import main

    assert main(["migrate", "--uri", empty.uri()]) == 0
    assert "trống → 0002 (0001, 0002)" in capsys.readouterr().out
    with empty.connect() as conn:
        assert conn.execute("SELECT count(*) > 0 FROM quality.source_freshness").fetchone() == (True,)
    assert main(["migrate", "--uri", empty.uri()]) == 0
    assert "0002 → 0002 (không có gì cần áp dụng)" in capsys.readouterr().out
    with empty.connect("postgres", autocommit=True) as conn:
        conn.execute("DROP SCHEMA chiso_meta CASCADE")
    assert main(["migrate", "--uri", empty.uri()]) == 2
    assert "Chưa có schema chiso_meta" in capsys.readouterr().err
