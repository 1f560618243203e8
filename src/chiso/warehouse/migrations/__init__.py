"""Alembic environment of the warehouse (raw, quality, exports), configured in code: no alembic.ini.

`chiso.warehouse.schema.migrate()` runs it. Revisions are ordered (versions/0001_…, 0002_…); a schema change is
a new revision, never an edit of an applied one. SQL a revision executes lives in sql/ beside it.

A new revision: copy the newest file in versions/, bump `revision`/`down_revision`, and bump
chiso.warehouse.schema.HEAD (tests/unit/test_warehouse_connections.py checks it is the scripts' head).
"""

from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).with_name("sql")


def execute_sql_file(name: str) -> None:
    """Run one of sql/*.sql inside the migration's transaction. Through the driver's own cursor: the files hold
    many statements, which psycopg sends as one simple query only when no parameters are involved."""
    from alembic import op

    ddl = (SQL_DIR / name).read_text(encoding="utf-8")
    op.get_bind().connection.driver_connection.execute(ddl)
