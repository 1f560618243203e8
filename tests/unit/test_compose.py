"""docker-compose.yml cannot run here (no Docker engine): check it statically against the local stack."""

import re
from pathlib import Path

import pytest
import yaml

from chiso.assets import CONN_EDOC, CONN_ESIGN, CONN_NATIONAL, CONN_NATIONAL_PORTAL, CONN_ONE_STOP_SHOP, CONN_WAREHOUSE
from chiso.settings import REPO_ROOT, Settings
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


# ---------------------------------------------------------------- the Celery side, as CHISO_EXECUTOR=celery runs it

SECRET = re.compile(r"\$\{\w+:\?[^}]*\}")


def _shape(url: str, secret: str) -> tuple:
    """What must match between the two stacks' URLs: scheme, user, a password from the secrets, database; not the
    host and port (loopback here, a service name there)."""
    from urllib.parse import urlsplit

    parts = urlsplit(SECRET.sub("SECRET", url).replace(secret, "SECRET"))
    return parts.scheme, parts.username, parts.password, parts.path


def _local_celery(tmp_path, monkeypatch) -> tuple[dict, dict]:
    monkeypatch.setenv("CHISO_EXECUTOR", "celery")
    creds = {name: f"pw-{name}" for name in _all_cred_names()}
    return components.airflow_env(Settings(home=tmp_path), creds), creds


def test_celery_settings_match_the_local_celery_stack(compose, tmp_path, monkeypatch):
    """Every key the supervisor sets for Celery is set in compose's x-airflow-common, to the same value (broker and
    result backend: the same kind of URL, password from the environment)."""
    local, creds = _local_celery(tmp_path, monkeypatch)
    celery = components.celery_env(Settings(home=tmp_path), creds)
    env = _env(compose["services"]["airflow-worker"])
    assert set(celery) <= set(env), set(celery) - set(env)
    for key in celery:
        assert local[key] == celery[key], key  # what airflow_env hands to every component
        if key == "AIRFLOW__CELERY__BROKER_URL":
            assert _shape(env[key], creds["redis_password"]) == _shape(local[key], creds["redis_password"]) == (
                "redis", "", "SECRET", "/0")
        elif key == "AIRFLOW__CELERY__RESULT_BACKEND":
            assert _shape(env[key], creds["pg_airflow"]) == _shape(local[key], creds["pg_airflow"]) == (
                "db+postgresql", "airflow", "SECRET", "/airflow")
        else:
            assert env[key] == local[key], key
    for service in ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        assert _env(compose["services"][service])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", service


def test_celery_workers_and_redis_match_the_local_celery_stack(compose, tmp_path, monkeypatch):
    local, creds = _local_celery(tmp_path, monkeypatch)
    services = compose["services"]
    assert services["airflow-worker"]["deploy"]["replicas"] == components.CELERY_WORKERS
    # redis.conf directives of the local server vs the compose server's command line (--name value ...)
    conf = components.redis_conf(Settings(home=tmp_path), creds)
    conf = dict(line.split(" ", 1) for line in conf.splitlines() if line)
    argv = services["redis"]["command"]
    assert argv[0] == "redis-server"
    flags = dict(zip((a.removeprefix("--") for a in argv[1::2]), argv[2::2], strict=True))
    assert set(flags) == {"requirepass", "appendonly", "save"}
    assert SECRET.fullmatch(flags["requirepass"]) and conf["requirepass"] == f'"{creds["redis_password"]}"'
    assert (flags["appendonly"], flags["save"]) == (conf["appendonly"], conf["save"].strip('"'))


def test_redis_version_matches_debian_s(compose):
    """compose's image is the minor version Debian's redis-server has (what `make` installs for the local stack)."""
    import shutil
    import subprocess

    if not shutil.which(components.REDIS_SERVER):
        pytest.skip("redis-server not installed (make redis)")
    out = subprocess.run([components.REDIS_SERVER, "--version"], capture_output=True, text=True, check=True).stdout
    local = re.search(r"v=(\d+\.\d+)\.", out).group(1)
    assert compose["services"]["redis"]["image"] == f"redis:{local}"

