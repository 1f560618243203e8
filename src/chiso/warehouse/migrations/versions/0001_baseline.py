"""Baseline: the raw, quality and exports tables as the hand-rolled ensure_schema() functions left them.

Revision ID: 0001
Revises:
Create Date: 2026-12-03

The SQL is idempotent (IF NOT EXISTS / ADD COLUMN IF NOT EXISTS / CREATE OR REPLACE VIEW). That is what lets a
pre-Alembic warehouse adopt it: migrate() applies it there too, which completes whatever an older
ensure_schema() never created (exports only appeared once the exporter had run; older raw DDL lacked columns),
then records 0001.
"""

from chiso.warehouse.migrations import execute_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # raw first: quality's freshness view (chiso.quality.store.sync_freshness) reads raw.load_audit.
    for name in ("0001_raw.sql", "0001_quality.sql", "0001_exports.sql"):
        execute_sql_file(name)
