"""Who owns the warehouse's schema: `migrate()` applies the ordered Alembic revisions of
chiso/warehouse/migrations once at start (`chiso up`, `./chiso migrate`, docker-compose's warehouse-migrate);
the load paths only check, with one query, that the warehouse is at the revision their code expects."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from chiso.settings import Settings
from chiso.warehouse import connections

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The version table has a schema of its own (created by warehouse_grants.sql, owned by chiso_loader): readers of
# raw/quality/exports never see it, and emptying those schemas (tests) does not fake a migrated warehouse.
VERSION_SCHEMA = "chiso_meta"
VERSION_TABLE = "alembic_version"
# The newest revision this code expects (a constant, so the load paths' check reads no migration scripts).
HEAD = "0002"
LOCK_KEY = "chiso.warehouse.migrate"  # advisory lock (hashtext) serialising concurrent migrate() calls
MIGRATE_COMMAND = "./chiso migrate"


class SchemaNotAtHead(RuntimeError):
    """The warehouse's schema is not at the revision this code was written for."""

    def __init__(self, found: str | None) -> None:
        self.found = found
        super().__init__(
            f"Kho dữ liệu chưa ở phiên bản lược đồ mới nhất (đang ở {found or 'chưa có phiên bản'},"
            f" cần {HEAD}): chạy {MIGRATE_COMMAND}"
        )


class MigrationError(RuntimeError):
    pass


@dataclass
class MigrationResult:
    before: str | None  # revision found (None: never migrated)
    after: str | None
    applied: list[str] = field(default_factory=list)  # revisions this call applied, in order
    adopted: bool = False  # a pre-Alembic warehouse (tables, no version table) taken over at the baseline


def alembic_config():
    """Alembic's Config built in code: the scripts ship inside the package, no alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def script_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: psycopg.Connection) -> str | None:
    """The recorded revision (None when the warehouse was never migrated). One query; outside autocommit inside
    a savepoint/transaction of its own, so a missing table leaves the caller's transaction usable."""
    query = f"SELECT version_num FROM {VERSION_SCHEMA}.{VERSION_TABLE}"
    try:
        if conn.autocommit:  # the load paths: no BEGIN/COMMIT round trips around the one statement
            row = conn.execute(query).fetchone()
        else:
            with conn.transaction():
                row = conn.execute(query).fetchone()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return None
    return row[0] if row else None


def require_head(conn: psycopg.Connection) -> None:
    """Fail at once, naming the command to run, unless the warehouse is at HEAD. Takes no lock."""
    found = current_revision(conn)
    if found != HEAD:
        raise SchemaNotAtHead(found)


def _owner_uri(where: str | connections.Target | Settings, creds: dict[str, str] | None) -> str:
    if isinstance(where, Settings):
        if creds is None:
            from chiso.stack import credentials

            creds = credentials.load(where.home)
        return connections.uri(where, creds, "loader")
    if isinstance(where, connections.Target):
        return where.uri()
    return connections.plain_uri(where)


def migrate(where: str | connections.Target | Settings, creds: dict[str, str] | None = None) -> MigrationResult:
    """Upgrade the warehouse to HEAD as the owner of its schemas (chiso_loader: a URI, a Target, or Settings +
    credentials). Concurrent calls are safe: an advisory lock lets one upgrade while the others wait and then
    find nothing to do."""
    from alembic import command
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    uri = _owner_uri(where, creds)
    applied: list[str] = []
    engine = create_engine(connections.with_driver(uri), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": LOCK_KEY})
            conn.commit()  # a session lock: it outlives the transactions below
            try:
                has_meta, has_version, has_tables = conn.execute(
                    text(
                        "SELECT to_regnamespace(:s) IS NOT NULL, to_regclass(:v) IS NOT NULL,"
                        " to_regclass('raw.load_audit') IS NOT NULL"
                    ),
                    {"s": VERSION_SCHEMA, "v": f"{VERSION_SCHEMA}.{VERSION_TABLE}"},
                ).one()
                before = (
                    conn.execute(text(f"SELECT version_num FROM {VERSION_SCHEMA}.{VERSION_TABLE}")).scalar()
                    if has_version
                    else None
                )
                conn.commit()
                if not has_meta:
                    raise MigrationError(
                        f"Chưa có schema {VERSION_SCHEMA} trong kho dữ liệu: chạy phần khởi tạo vai trò và quyền"
                        " (chiso up, hoặc dịch vụ warehouse-init của docker-compose) trước khi chạy"
                        f" {MIGRATE_COMMAND}"
                    )
                adopted = has_tables and before is None
                if adopted:
                    log.warning("pre-Alembic warehouse (tables, no version table): adopting it at the baseline")
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                cfg.attributes["on_version_apply"] = lambda *, step, **_: applied.append(step.up_revision_id)
                command.upgrade(cfg, "head")
                conn.commit()
                after = conn.execute(text(f"SELECT version_num FROM {VERSION_SCHEMA}.{VERSION_TABLE}")).scalar()
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()
    if applied:
        log.info("warehouse schema %s -> %s (%s)", before or "-", after, ", ".join(applied))
    return MigrationResult(before, after, applied, adopted)
