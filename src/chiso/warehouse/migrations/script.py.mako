"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain SQL as the schema owner (chiso_loader); ALTERs that rewrite big raw tables deserve a comment here.
    ${upgrades if upgrades else 'op.execute("SELECT 1")'}
