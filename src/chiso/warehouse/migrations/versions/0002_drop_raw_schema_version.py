"""Drop raw.schema_version, the digest table of the hand-rolled raw.loader.ensure_schema().

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

chiso_meta.alembic_version records the schema's revision now; the digest table would only tell a reader of a
pre-Alembic warehouse a stale story. It never existed in a warehouse created by the migrations.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS raw.schema_version")
