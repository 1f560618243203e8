"""Each role of the warehouse does its job and nothing else (scale.md, Security; warehouse_grants.sql):

* chiso_loader writes raw, quality and exports (it owns them) and reads marts (exports, checks); it cannot write
  marts nor read or write what dbt builds before them (staging, intermediate, seeds);
* chiso_transformer (dbt) reads raw, quality and exports and owns what it builds; it cannot write what it reads;
* chiso_reader (Superset, the read-only URI of `chiso status`) reads marts and nothing else, and writes nothing,
  not even a temporary table;
* the metadata roles of Airflow and Superset cannot even connect to the warehouse database.

Every statement below really runs on the embedded PostgreSQL, as the role named."""

import psycopg
import pytest

pytestmark = pytest.mark.postgres  # starts the embedded PostgreSQL (`warehouse`)

DBT_SCHEMAS = ("staging", "intermediate", "seeds")


@pytest.fixture(scope="module")
def probes(warehouse):
    """One probe table in each schema, made by the schema's owner, with a row."""
    with warehouse.connect("chiso_loader", autocommit=True) as conn:
        for schema in ("raw", "quality", "exports"):
            conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.role_probe (x int)")
            conn.execute(f"INSERT INTO {schema}.role_probe VALUES (1)")
    with warehouse.connect("chiso_transformer", autocommit=True) as conn:
        for schema in ("marts", *DBT_SCHEMAS):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")  # as dbt does on its first build
            conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.role_probe (x int)")
            conn.execute(f"INSERT INTO {schema}.role_probe VALUES (1)")
    yield warehouse
    with warehouse.connect("postgres", autocommit=True) as conn:  # the session's warehouse, shared by other tests
        for schema in ("raw", "quality", "exports", "marts", *DBT_SCHEMAS):
            conn.execute(f"DROP TABLE IF EXISTS {schema}.role_probe, {schema}.role_probe_new")


def _writes(schema: str) -> list[str]:
    table = f"{schema}.role_probe"
    return [
        f"INSERT INTO {table} VALUES (2)",
        f"UPDATE {table} SET x = 3",
        f"DELETE FROM {table}",
        f"TRUNCATE {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE {table} ADD COLUMN y int",
        f"CREATE TABLE {schema}.not_mine (x int)",
    ]


REFUSED = [
    *[("chiso_loader", sql) for sql in _writes("marts")],
    *[("chiso_loader", f"SELECT * FROM {s}.role_probe") for s in DBT_SCHEMAS],
    *[("chiso_loader", sql) for s in DBT_SCHEMAS for sql in _writes(s)[:1]],
    *[("chiso_transformer", sql) for s in ("raw", "quality", "exports") for sql in _writes(s)],
    *[("chiso_reader", f"SELECT * FROM {s}.role_probe") for s in ("raw", "quality", "exports", *DBT_SCHEMAS)],
    *[("chiso_reader", "SELECT * FROM chiso_meta.alembic_version")],
    *[("chiso_reader", sql) for s in ("marts", "raw") for sql in _writes(s)],
    ("chiso_reader", "CREATE TABLE public.not_mine (x int)"),
    ("chiso_reader", "CREATE TEMP TABLE not_mine (x int)"),
    ("chiso_reader", "CREATE SCHEMA not_mine"),
    ("chiso_loader", "CREATE SCHEMA not_mine"),
]
ALLOWED = [
    *[("chiso_loader", f"INSERT INTO {s}.role_probe VALUES (2)") for s in ("raw", "quality", "exports")],
    ("chiso_loader", "SELECT count(*) FROM marts.role_probe"),
    ("chiso_loader", "CREATE TEMP TABLE batch (x int)"),  # each load stages its batch in a TEMP table
    *[("chiso_transformer", f"SELECT count(*) FROM {s}.role_probe") for s in ("raw", "quality", "exports")],
    *[("chiso_transformer", f"INSERT INTO {s}.role_probe VALUES (2)") for s in ("marts", *DBT_SCHEMAS)],
    ("chiso_reader", "SELECT count(*) FROM marts.role_probe"),
]


@pytest.mark.parametrize(("role", "sql"), REFUSED, ids=[f"{r}: {s}" for r, s in REFUSED])
def test_role_refused_outside_its_job(probes, role, sql):
    with probes.connect(role) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)  # rolled back on leaving: nothing a test does here stays


@pytest.mark.parametrize(("role", "sql"), ALLOWED, ids=[f"{r}: {s}" for r, s in ALLOWED])
def test_role_does_its_job(probes, role, sql):
    with probes.connect(role) as conn:
        conn.execute(sql)
        conn.rollback()


def test_reader_sees_what_the_transformer_builds(probes):
    """Default privileges: a marts table dbt makes later is readable by the reader (and the loader) at once."""
    with probes.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS marts.role_probe_new")
        conn.execute("CREATE TABLE marts.role_probe_new AS SELECT 2 AS y")
    for role in ("chiso_reader", "chiso_loader"):
        with probes.connect(role) as conn:
            assert conn.execute("SELECT y FROM marts.role_probe_new").fetchone() == (2,)


@pytest.mark.parametrize("role", ["superset", "airflow"])
def test_metadata_roles_cannot_reach_the_warehouse(probes, role):
    """Superset's and Airflow's own database roles: refused at connection to the warehouse database."""
    uri = probes.uri(role, db="chiso")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(uri).close()
    with psycopg.connect(probes.uri(role, db=role)) as conn:  # their own database works
        assert conn.execute("SELECT current_user").fetchone() == (role,)
