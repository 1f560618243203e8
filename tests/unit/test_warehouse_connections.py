"""One module builds every warehouse connection string; the migrations' head is what the load paths expect."""

from __future__ import annotations

import logging

import pytest

from chiso.settings import Settings
from chiso.stack import components, postgres
from chiso.warehouse import connections, schema

CREDS = {
    "pg_superuser": "su pw",
    "pg_loader": "p@ss/wo:rd%",
    "pg_transformer": "t#x?y",
    "pg_reader": "r&=",
    "pg_airflow": "a@b",
    "pg_superset": "s:t",
}


@pytest.fixture
def s(tmp_path) -> Settings:
    return Settings(home=tmp_path, pg_port=5433)


@pytest.mark.parametrize(
    ("role", "uri"),
    [
        ("superuser", "postgresql://postgres:su%20pw@127.0.0.1:5433/chiso"),
        ("loader", "postgresql://chiso_loader:p%40ss%2Fwo%3Ard%25@127.0.0.1:5433/chiso"),
        ("transformer", "postgresql://chiso_transformer:t%23x%3Fy@127.0.0.1:5433/chiso"),
        ("reader", "postgresql://chiso_reader:r%26%3D@127.0.0.1:5433/chiso"),
        ("chiso_loader", "postgresql://chiso_loader:p%40ss%2Fwo%3Ard%25@127.0.0.1:5433/chiso"),
        ("postgres", "postgresql://postgres:su%20pw@127.0.0.1:5433/chiso"),
    ],
)
def test_each_role_uri(s, role, uri):
    assert connections.uri(s, CREDS, role) == uri


def test_the_password_round_trips_through_libpq_parsing(s):
    from psycopg.conninfo import conninfo_to_dict

    parsed = conninfo_to_dict(connections.uri(s, CREDS, "loader"))
    assert (parsed["user"], parsed["password"], parsed["host"], parsed["port"], parsed["dbname"]) == (
        "chiso_loader", "p@ss/wo:rd%", "127.0.0.1", "5433", "chiso",
    )  # fmt: skip


def test_unknown_role_is_refused(s):
    with pytest.raises(ValueError, match="unknown warehouse role"):
        connections.uri(s, CREDS, "airflow")


def test_no_password_in_repr_str_or_logs(s, caplog):
    t = connections.target(s, CREDS, "loader")
    assert "p@ss" not in repr(t) and "p%40ss" not in repr(t)
    assert str(t) == "postgresql://chiso_loader:***@127.0.0.1:5433/chiso"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("connecting to %s", t)
    assert "p%40ss" not in caplog.text and "***" in caplog.text
    assert connections.redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_build_uri_drivers_and_plain_forms():
    assert connections.build_uri("h", None, "db", "u", "p") == "postgresql://u:p@h/db"
    assert connections.build_uri(None, 5432, None) == "postgresql://127.0.0.1:5432/chiso"
    assert connections.build_uri("h", 1, "d", "u", None, driver="psycopg2") == "postgresql+psycopg2://u@h:1/d"
    assert connections.plain_uri("postgres://u:p@h/d") == "postgresql://u:p@h/d"
    assert connections.with_driver("postgresql+psycopg2://u:p@h/d") == "postgresql+psycopg://u:p@h/d"


def test_stack_callers_go_through_the_module(s):
    assert postgres.uri(s, "airflow", CREDS["pg_airflow"], "airflow") == "postgresql://airflow:a%40b@127.0.0.1:5433/airflow"
    conns = components.connections(s, {**CREDS, "oss_client_secret": "x", "edoc_api_key": "x", "national_token": "x"})
    assert '"password": "p@ss/wo:rd%"' in conns["AIRFLOW_CONN_WAREHOUSE_DB"]
    assert '"login": "chiso_loader"' in conns["AIRFLOW_CONN_WAREHOUSE_DB"]


def test_head_constant_is_the_scripts_head_and_history_is_linear():
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(schema.alembic_config())
    assert scripts.get_heads() == [schema.HEAD]
    order = [r.revision for r in scripts.walk_revisions("base", "heads")][::-1]
    assert order == sorted(order) and order[0] == "0001"


def test_not_at_head_message_names_the_command():
    msg = str(schema.SchemaNotAtHead(None))
    assert msg.startswith("Kho dữ liệu chưa ở phiên bản lược đồ mới nhất")
    assert schema.HEAD in msg and msg.endswith("chạy ./chiso migrate")


def test_schema_sql_lives_only_with_the_migrations():
    """No module applies DDL files of its own any more: the only SQL files are the migrations' and the
    superuser's grants."""
    from chiso.settings import REPO_ROOT

    src = REPO_ROOT / "src" / "chiso"
    found = {str(p.relative_to(src)) for p in src.rglob("*.sql")}
    assert found == {
        "stack/warehouse_grants.sql",
        *(f"warehouse/migrations/sql/{n}" for n in ("0001_raw.sql", "0001_quality.sql", "0001_exports.sql")),
    }


def test_cli_has_migrate():
    from chiso.cli import build_parser

    args = build_parser().parse_args(["migrate", "--uri", "postgresql://u@h/d"])
    assert args.func.__name__ == "cmd_migrate" and args.uri == "postgresql://u@h/d"
