"""deploy/helm/values.yaml (Airflow's official Helm chart) cannot be installed here (no Kubernetes): it is checked
against the chart's own values.schema.json, vendored beside it, and kept in step with docker-compose.yml, which
describes the same deployment (scale.md, "Where it runs")."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from chiso.assets import CONN_EDOC, CONN_ESIGN, CONN_NATIONAL, CONN_NATIONAL_PORTAL, CONN_ONE_STOP_SHOP, CONN_WAREHOUSE
from chiso.settings import REPO_ROOT

HELM = REPO_ROOT / "deploy" / "helm"
SOURCES_CONNECTIONS = (CONN_ONE_STOP_SHOP, CONN_EDOC, CONN_ESIGN, CONN_NATIONAL, CONN_NATIONAL_PORTAL, CONN_WAREHOUSE)
# compose's AIRFLOW__* settings the chart sets itself, from the Secret or value named here (or derives).
CHART_MANAGED = {
    "AIRFLOW__CORE__EXECUTOR": "executor",
    "AIRFLOW__CORE__FERNET_KEY": "fernetKeySecretName",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "data.metadataSecretName",
    "AIRFLOW__CELERY__BROKER_URL": "data.brokerUrlSecretName",
    # db+ and sql_alchemy_conn, the chart's (and Airflow's) default: compose sets that very URL
    "AIRFLOW__CELERY__RESULT_BACKEND": "data.metadataSecretName",
    "AIRFLOW__API__SECRET_KEY": "apiSecretKeySecretName",
    "AIRFLOW__API_AUTH__JWT_SECRET": "jwtSecretName",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": None,  # the chart points it at its API server Service
}


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((HELM / "values.yaml").read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((HELM / "values.schema.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def _get(values: dict, dotted: str):
    node = values
    for part in dotted.split("."):
        node = node[part]
    return node


def _env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def _helm_env(values: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in values["env"]}


def _helm_secret_env(values: dict) -> dict[str, tuple[str, str]]:
    return {e["envName"]: (e["secretName"], e["secretKey"]) for e in values["secret"]}


def _is_secret(value: str) -> bool:
    """A compose value that carries a required variable (`${X:?…}`): a secret, or built from one."""
    return "${" in value


def _unknown_keys(node, schema: dict, where: str = "") -> list[str]:
    """Keys the chart does not know. The schema itself lets unknown top-level keys through (a typo would be
    silently ignored by the chart), so every object whose schema lists its properties is checked here."""
    if not isinstance(node, dict) or "properties" not in schema or "$ref" in schema:
        return []
    extra = schema.get("additionalProperties")
    out = []
    for key, value in node.items():
        if key in schema["properties"]:
            out += _unknown_keys(value, schema["properties"][key], f"{where}{key}.")
        elif not isinstance(extra, dict):
            out.append(f"{where}{key}")
    return out


# ---------------------------------------------------------------- the chart's schema


def test_values_valid_against_the_charts_schema(values, schema):
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)]
    assert not errors, errors
    assert not _unknown_keys(values, schema)


def test_the_schema_check_catches_mistakes(values, schema):
    """The same checks refuse a wrong type, a value outside an enum-like field and a misspelt key."""
    validator = jsonschema.Draft7Validator(schema)
    wrong_type = copy.deepcopy(values)
    wrong_type["workers"]["celery"]["replicas"] = "two"
    assert not validator.is_valid(wrong_type)
    bad_env = copy.deepcopy(values)
    bad_env["env"].append({"name": "X"})  # an env item needs a value
    assert not validator.is_valid(bad_env)
    typo = copy.deepcopy(values)
    typo["worker"] = {"replicas": 2}
    assert validator.is_valid(typo)  # the schema lets it through...
    assert _unknown_keys(typo, schema) == ["worker"]  # ...the walk does not


def test_vendored_schema_is_the_charts():
    """The README names the chart version and apache/airflow commit the schema was taken from."""
    readme = (HELM / "README.md").read_text()
    schema = json.loads((HELM / "values.schema.json").read_text())
    assert "1.19.0" in readme and re.search(r"\b[0-9a-f]{40}\b", readme)
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    assert {"executor", "workers", "redis", "data", "config", "secret"} <= set(schema["properties"])


# ---------------------------------------------------------------- in step with docker-compose.yml


def test_same_executor_image_and_airflow_version(values, compose):
    airflow = compose["x-airflow-common"]
    assert values["executor"] == airflow["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    image = values["images"]["airflow"]
    assert f"{image['repository']}:{image['tag']}" == airflow["image"]
    lock = (REPO_ROOT / "requirements" / "airflow.lock.txt").read_text()
    assert f"apache-airflow=={values['airflowVersion']}\n" in lock
    dockerfile = (REPO_ROOT / airflow["build"]["dockerfile"]).read_text()
    assert f"--uid {values['uid']} airflow" in dockerfile


def test_dags_baked_in_the_image(values, compose):
    dockerfile = (REPO_ROOT / compose["x-airflow-common"]["build"]["dockerfile"]).read_text()
    folder = re.search(r"AIRFLOW__CORE__DAGS_FOLDER=(\S+)", dockerfile).group(1)
    assert "COPY dags " + folder in dockerfile
    assert values["dags"]["mountPath"] == folder
    assert not values["dags"]["gitSync"]["enabled"] and not values["dags"]["persistence"]["enabled"]


def test_every_airflow_service_of_compose_is_a_chart_component(values, compose):
    commands = {tuple(s["command"]) for s in compose["services"].values() if s.get("command", [""])[0] == "airflow"}
    component = {
        ("airflow", "api-server"): "apiServer", ("airflow", "scheduler"): "scheduler",
        ("airflow", "dag-processor"): "dagProcessor", ("airflow", "triggerer"): "triggerer",
        ("airflow", "celery", "worker"): "workers", ("airflow", "db", "migrate"): "migrateDatabaseJob",
    }  # fmt: skip
    assert commands == set(component)
    for command, key in component.items():
        assert values[key].get("enabled", True) is True, command
    assert values["workers"]["celery"]["replicas"] == 2


def test_every_airflow_setting_of_compose_is_set_alike(values, compose):
    """compose's AIRFLOW__<SECTION>__<KEY>: the same value in the chart's airflow.cfg, or set by the chart from the
    Secret the values name; no airflow.cfg setting compose does not have (besides the auth manager, below)."""
    env = _env(compose["x-airflow-common"])
    config = values["config"]
    seen = set()
    for key, value in env.items():
        m = re.fullmatch(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", key)
        if not m:
            continue
        if key in CHART_MANAGED:
            if CHART_MANAGED[key]:
                assert _get(values, CHART_MANAGED[key]), key
            continue
        section, option = m.group(1).lower(), m.group(2).lower()
        seen.add((section, option))
        if key == "AIRFLOW__API__BASE_URL":  # compose: ${AIRFLOW_BASE_URL:-http://localhost:8080}
            value = re.fullmatch(r"\$\{AIRFLOW_BASE_URL:-(.+)\}", value).group(1)
        assert not _is_secret(value), f"{key} is a secret: set it from a Kubernetes Secret"
        assert str(config[section][option]) == value, key
    extra = {(s, o) for s, options in config.items() for o in options} - seen
    assert extra == {("core", "auth_manager"), ("metrics", "statsd_on")}


def test_auth_manager_is_airflows_default_as_in_compose(values):
    """compose leaves the auth manager to Airflow (simple auth manager); the chart would set FAB's."""
    spec = importlib.util.find_spec("airflow")
    template = Path(spec.submodule_search_locations[0]) / "config_templates" / "config.yml"
    default = yaml.safe_load(template.read_text())["core"]["options"]["auth_manager"]["default"]
    assert values["config"]["core"]["auth_manager"] == default
    assert values["createUserJob"]["enabled"] is False  # the chart's FAB user job, with a default password


def test_environment_and_connections_as_in_compose(values, compose):
    """Every other variable of compose's Airflow containers: same value in `env`, or from a Secret when compose
    takes it from a required variable. Every connection of sources.md is there."""
    env = {k: v for k, v in _env(compose["x-airflow-common"]).items() if not k.startswith("AIRFLOW__")}
    plain, from_secret = _helm_env(values), _helm_secret_env(values)
    assert set(plain) | set(from_secret) == set(env)
    for key, value in env.items():
        if _is_secret(value):
            assert key in from_secret, key
        else:
            assert plain[key] == value, key
    for conn_id in SOURCES_CONNECTIONS:
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in plain | from_secret, conn_id
    assert from_secret["CHISO_DBT_PASSWORD"] == ("chiso-postgres-roles", "pg-transformer")


def test_volumes_as_in_compose(values, compose):
    mounts = {m["mountPath"]: m for m in values["volumeMounts"]}
    for volume in compose["x-airflow-common"]["volumes"]:
        _, path, *mode = volume.split(":")
        assert path in mounts, volume
        assert bool(mounts[path].get("readOnly")) == (mode == ["ro"]), volume
    secret_file = compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert mounts[secret_file]["readOnly"] and "secret" in {
        k for v in values["volumes"] if v["name"] == mounts[secret_file]["name"] for k in v
    }


def test_warehouse_init_and_migrate_run_before_airflow_as_in_compose(values, compose):
    """compose's warehouse-init (superuser: roles, grants) then warehouse-migrate (chiso_loader, no superuser
    password) run as init containers of the chart's migration job, which every Airflow component waits for."""
    containers = {c["name"]: c for c in values["migrateDatabaseJob"]["extraInitContainers"]}
    assert list(containers) == ["warehouse-init", "warehouse-migrate"]
    for name, container in containers.items():
        service = compose["services"][name]
        assert container["command"] == service["command"], name
        env = {e["name"]: e for e in container["env"]}
        secrets = {k for k, e in env.items() if "valueFrom" in e}
        assert secrets == {k for k in _env(service) if k.startswith("CHISO_SECRET_")}, name
        for key, e in env.items():
            if "value" in e:
                assert e["value"] == _env(service)[key], (name, key)
        assert container["image"] == "{{ .Values.images.airflow.repository }}:{{ .Values.images.airflow.tag }}"
    assert "CHISO_SECRET_PG_SUPERUSER" not in {e["name"] for e in containers["warehouse-migrate"]["env"]}


def test_redis_broker_as_in_compose(values, compose):
    assert compose["services"]["redis"]["image"].split(":")[1].split(".")[0] == values["images"]["redis"]["tag"][0]
    assert values["redis"]["enabled"] and values["redis"]["passwordSecretName"]
    assert values["data"]["brokerUrlSecretName"]


# ---------------------------------------------------------------- no secret, nothing public


def _walk(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}{k}.")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}{i}.")
    else:
        yield path[:-1], node


def test_no_secret_in_the_values(values):
    """Passwords, keys and connection strings only by Secret name; none of the chart's literal-secret values."""
    for key in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"):
        assert values.get(key) is None, key
    assert "password" not in values["redis"] and "metadataConnection" not in values["data"]
    assert "brokerUrl" not in values["data"]
    for path, value in _walk(values):
        leaf = path.rsplit(".", 1)[-1]
        reference = leaf.lower().endswith(("secretname", "secretkey"))
        if re.search(r"(?i)password|secret|token|fernet|jwt", leaf) and not reference:
            assert str(value).startswith("/run/secrets/"), f"{path}: a secret's value, not a reference to one"
        assert not re.search(r"://[^/\s:@]+:[^@\s]+@", str(value)), f"{path} embeds a password"
    for name in _helm_env(values):
        assert not re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", name) and not name.startswith("AIRFLOW_CONN_") or (
            name == "AIRFLOW_CONN_ESIGN_DROP"), f"{name} belongs in a Secret"
    for name, (secret, key) in _helm_secret_env(values).items():
        assert secret.startswith("chiso-") and key, name


def test_nothing_exposed_outside_the_cluster(values):
    """No Ingress, no NodePort or LoadBalancer, and none of the chart's services compose does not have."""
    for path, value in _walk(values):
        if path.endswith("service.type"):
            assert value == "ClusterIP", path
    assert all(not ingress["enabled"] for ingress in values["ingress"].values())
    for extra in ("flower", "statsd", "pgbouncer", "postgresql", "webserver"):
        assert values[extra]["enabled"] is False, extra
    assert values["allowPodLaunching"] is False and values["allowJobLaunching"] is False
