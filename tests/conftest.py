"""Shared fixtures. `warehouse` starts one embedded PostgreSQL for the whole test session (real server,
real roles and grants) on its own port and data folder, so tests never touch the running stack."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from chiso.settings import Settings
from chiso.stack import credentials, postgres

ARTIFACTS = Path(os.environ.get("CHISO_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "var" / "test-artifacts"))


@dataclass
class Warehouse:
    settings: Settings
    creds: dict[str, str]

    def uri(self, role: str = "chiso_loader", db: str = postgres.WAREHOUSE_DB) -> str:
        key = postgres.ROLES.get(role, "pg_superuser")
        user = role if role in postgres.ROLES else postgres.SUPERUSER
        return postgres.uri(self.settings, user, self.creds[key], db)

    def connect(self, role: str = "chiso_loader", **kw) -> psycopg.Connection:
        return psycopg.connect(self.uri(role), **kw)


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Warehouse]:
    home = Path(tempfile.mkdtemp(prefix="chiso-test-"))
    os.chmod(home, 0o755)  # noqa: S103 - the postgres OS user must traverse it
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_TEST_PG_PORT", "5499")))
    creds = credentials.load(home)
    postgres.ensure_running(settings, creds)
    try:
        yield Warehouse(settings, creds)
    finally:
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fresh_schema(warehouse: Warehouse) -> Iterator[Warehouse]:
    """Empty raw/quality/exports/marts and dbt schemas before a test that needs a clean warehouse."""
    with warehouse.connect("postgres", autocommit=True) as conn:
        for schema in ("raw", "quality", "exports"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspowner = 'chiso_transformer'::regrole"
        ).fetchall():
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    postgres.bootstrap(warehouse.settings, warehouse.creds)
    yield warehouse


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
