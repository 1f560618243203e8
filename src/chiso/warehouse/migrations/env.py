"""Run by Alembic inside chiso.warehouse.schema.migrate(), which hands over its connection (already holding
the migration lock) and the version table's place."""

from alembic import context

from chiso.warehouse import schema

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the warehouse's migrations run through chiso.warehouse.schema.migrate() (./chiso migrate)")

context.configure(
    connection=connection,
    version_table=schema.VERSION_TABLE,
    version_table_schema=schema.VERSION_SCHEMA,
    # One transaction for the whole upgrade: PostgreSQL's DDL is transactional, so a failing revision leaves the
    # warehouse at the revision it started from.
    transaction_per_migration=False,
    on_version_apply=config.attributes.get("on_version_apply"),
)
with context.begin_transaction():
    context.run_migrations()
