"""docker-compose.yml cannot run here (no Docker engine): check it statically against the local stack."""

import re
from pathlib import Path

import pytest
import yaml

from chiso.assets import CONN_EDOC, CONN_ESIGN, CONN_NATIONAL, CONN_NATIONAL_PORTAL, CONN_ONE_STOP_SHOP, CONN_WAREHOUSE
from chiso.settings import REPO_ROOT
from chiso.stack import components

COMPOSE = REPO_ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env(service: dict) -> dict:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_every_airflow_component_of_the_local_stack_is_a_service(compose):
    commands = {tuple(s.get("command") or ()) for s in compose["services"].values()}
    for component in components.AIRFLOW_COMPONENTS:
        assert ("airflow", component) in commands, component
    assert ("airflow", "celery", "worker") in commands


def test_celery_executor_with_broker_and_separate_postgres(compose):
    services = compose["services"]
    env = _env(services["airflow-scheduler"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "redis://" in env["AIRFLOW__CELERY__BROKER_URL"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_every_connection_of_sources_md_is_configured(compose):
    env = _env(compose["services"]["airflow-worker"])
    for conn_id in (CONN_ONE_STOP_SHOP, CONN_EDOC, CONN_ESIGN, CONN_NATIONAL, CONN_NATIONAL_PORTAL, CONN_WAREHOUSE):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env


def test_no_default_passwords(compose):
    """Secrets only as ${VAR:?…} (required, no fallback); no literal secret in any service."""
    text = COMPOSE.read_text()
    for m in re.finditer(r"\$\{(\w*(PASSWORD|SECRET|KEY)\w*)([^}]*)\}", text):
        assert m.group(3).startswith(":?"), f"{m.group(1)} has a default: {m.group(0)}"
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if re.search(r"(PASSWORD|SECRET|_KEY)$|^AIRFLOW_CONN_", key) and "ESIGN" not in key:
                assert "${" in value, f"{name}.{key} is a literal"
            for m in re.finditer(r"//[^:/@]+:([^@]*)@", value):
                assert m.group(1).startswith("${"), f"{name}.{key} embeds a literal password"


def test_roles_match_the_local_stack(compose):
    """dbt as transformer, loads as loader, Superset's metadata as its own role — as in components.py."""
    env = _env(compose["services"]["airflow-worker"])
    assert env["CHISO_DBT_USER"] == "chiso_transformer"
    assert env["AIRFLOW_CONN_WAREHOUSE_DB"].startswith("postgres://chiso_loader:")
    assert _env(compose["services"]["superset"])["SUPERSET_METADATA_URI"].startswith("postgresql+psycopg2://superset:")


def test_schema_migrated_by_its_owner_before_anything_uses_it(compose):
    """`chiso migrate` (as `chiso up` does locally) after the superuser's roles and grants, as chiso_loader, and
    before Airflow and Superset start."""
    services = compose["services"]
    migrate = services["warehouse-migrate"]
    assert migrate["command"] == ["chiso", "migrate"]
    assert migrate["depends_on"] == {"warehouse-init": {"condition": "service_completed_successfully"}}
    env = _env(migrate)
    assert "CHISO_SECRET_PG_LOADER" in env and "CHISO_SECRET_PG_SUPERUSER" not in env
    for name in ("airflow-init", "superset-init"):
        assert services[name]["depends_on"] == {"warehouse-migrate": {"condition": "service_completed_successfully"}}


def test_settings_shared_with_the_local_stack(compose, tmp_path):
    """The Airflow settings the local stack sets (except machine-local paths/ports) are set in compose too."""
    from chiso.settings import Settings

    local = components.airflow_env(Settings(home=tmp_path), dict.fromkeys(_all_cred_names(), "x"))
    env = _env(compose["services"]["airflow-scheduler"])
    for key in ("AIRFLOW__CORE__LOAD_EXAMPLES", "AIRFLOW__CORE__DEFAULT_TIMEZONE",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP"):
        assert env[key] == local[key], key
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"):
        assert key in env and key in local


def _all_cred_names():
    from chiso.stack.credentials import NAMES

    return [*NAMES, "airflow_fernet_key"]


def test_dockerfiles_use_the_committed_lock_files(compose):
    for name in ("airflow", "superset"):
        text = (REPO_ROOT / "docker" / f"{name}.Dockerfile").read_text()
        for lock in re.findall(r"requirements/(\w+\.lock\.txt)", text):
            assert (REPO_ROOT / "requirements" / lock).exists()
        for copied in re.findall(r"^COPY (\S+) /opt/chiso/\S*$", text, flags=re.M):
            assert (REPO_ROOT / copied).exists(), copied
    assert Path(REPO_ROOT / compose["services"]["superset-init"]["build"]["dockerfile"]).exists()
