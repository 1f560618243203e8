"""The warehouse's roles are separated: the reader sees marts only, the loader cannot build marts."""

import psycopg
import pytest

pytestmark = pytest.mark.postgres  # starts the embedded PostgreSQL (`warehouse`)


def test_reader_cannot_read_raw(warehouse):
    with warehouse.connect("chiso_loader", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw.role_probe (x int)")
    with warehouse.connect("chiso_reader") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM raw.role_probe")


def test_transformer_reads_raw_and_reader_reads_marts(warehouse):
    with warehouse.connect("chiso_loader", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS raw.role_probe2 (x int)")
        conn.execute("INSERT INTO raw.role_probe2 VALUES (1)")
    with warehouse.connect("chiso_transformer", autocommit=True) as conn:
        assert conn.execute("SELECT x FROM raw.role_probe2").fetchone() == (1,)
        conn.execute("CREATE TABLE IF NOT EXISTS marts.role_probe AS SELECT 2 AS y")
    with warehouse.connect("chiso_reader") as conn:
        assert conn.execute("SELECT y FROM marts.role_probe").fetchone() == (2,)


def test_loader_cannot_write_marts(warehouse):
    with warehouse.connect("chiso_loader") as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE marts.not_mine (x int)")
