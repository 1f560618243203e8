"""Environment and command lines of every component of the local stack.

Kept apart from the supervisor's control flow so docker-compose.yml can be checked against the same
settings (tests/unit/test_compose.py).
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from chiso.assets import (
    CONN_EDOC,
    CONN_ESIGN,
    CONN_NATIONAL,
    CONN_NATIONAL_PORTAL,
    CONN_ONE_STOP_SHOP,
    CONN_WAREHOUSE,
)
from chiso.settings import Settings
from chiso.stack import postgres
from chiso.stack.log_server import TASK_HOST_VAR
from chiso.warehouse import connections as connections_  # `connections` is this module's AIRFLOW_CONN_* builder

SIM_CLIENT_ID = "chiso-warehouse"
AIRFLOW_ADMIN = "admin"
SUPERSET_ADMIN = "admin"
SUPERSET_VIEWER = "sotttt"


def _conn_json(conn_type: str, **fields) -> str:
    return json.dumps({"conn_type": conn_type, **{k: v for k, v in fields.items() if v is not None}})


def connections(s: Settings, creds: dict[str, str]) -> dict[str, str]:
    """AIRFLOW_CONN_* defaults pointing at the simulator and the embedded warehouse.

    A value already in the environment wins: that is how a deployment points the DAGs at real systems.
    """
    loader = connections_.target(s, creds, "loader")
    defaults = {
        CONN_ONE_STOP_SHOP: _conn_json(
            "http", host=s.host, port=s.oss_port, schema="http",
            login=SIM_CLIENT_ID, password=creds["oss_client_secret"],
        ),
        CONN_EDOC: _conn_json("http", host=s.host, port=s.edoc_port, schema="http", password=creds["edoc_api_key"]),
        CONN_ESIGN: _conn_json("fs", extra={"path": str(s.esign_drop)}),
        CONN_NATIONAL: _conn_json(
            "http", host=s.host, port=s.national_port, schema="http", password=creds["national_token"]
        ),
        # Public, no credentials. The root is the province committee's identifier, which the simulator accepts as
        # well as its portal department id (the real portal wants the id: set it in AIRFLOW_CONN_NATIONAL_PORTAL_API).
        # The simulator computes a period on its first read (a year: about a minute), hence the long timeout.
        CONN_NATIONAL_PORTAL: _conn_json(
            "http", host=s.host, port=s.portal_port, schema="http",
            extra={"root_department_id": f"000.00.00.H{s.province}", "timeout": 300},
        ),
        CONN_WAREHOUSE: _conn_json(
            "postgres", host=loader.host, port=loader.port, schema=loader.dbname,
            login=loader.user, password=loader.password,
        ),
    }
    env = {}
    for conn_id, value in defaults.items():
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        env[var] = os.environ.get(var) or value
    return env


def dbt_env(s: Settings, creds: dict[str, str]) -> dict[str, str]:
    return {
        "CHISO_PG_HOST": s.host,
        "CHISO_PG_PORT": str(s.pg_port),
        "CHISO_PG_DB": postgres.WAREHOUSE_DB,
        "CHISO_DBT_USER": "chiso_transformer",
        "CHISO_DBT_PASSWORD": creds["pg_transformer"],
        "CHISO_DBT_EXECUTABLE": str(s.venv_bin("dbt") / "dbt"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def airflow_home(s: Settings) -> Path:
    return s.home / "airflow"


def airflow_env(s: Settings, creds: dict[str, str]) -> dict[str, str]:
    home = airflow_home(s)
    env = {
        **os.environ,
        "PATH": f"{s.venv_bin('airflow')}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW_HOME": str(home),
        "CHISO_HOME": str(s.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(s.repo / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # 2 cores: a few parallel tasks, not the default 32 worker processes (~1 GB).
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
        # The triggerer records its heartbeat about every 30 s here, and the health check's default threshold is
        # 30 s, so a slightly late heartbeat flipped `chiso status` to unhealthy for a moment (seen under load).
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "90",
        "AIRFLOW__CORE__FERNET_KEY": creds["airflow_fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{s.host}:{s.airflow_port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": connections_.build_uri(
            s.host, s.pg_port, "airflow", "airflow", creds["pg_airflow"], driver="psycopg2"
        ),
        "AIRFLOW__API__HOST": s.host,
        "AIRFLOW__API__PORT": str(s.airflow_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://{s.host}:{s.airflow_port}",
        "AIRFLOW__API__SECRET_KEY": creds["airflow_secret_key"],
        # Shared by api-server and workers: task JWTs must verify across processes.
        "AIRFLOW__API_AUTH__JWT_SECRET": creds["airflow_jwt_secret"],
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        # Every listener on loopback, each port a setting (operations.md): the scheduler's health check here; the
        # log servers are chiso.stack.log_server (Airflow's own bind every interface), reached at the hostname
        # task instances record.
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": s.host,
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(s.airflow_health_port),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(s.logs / "airflow"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(s.airflow_worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(s.airflow_trigger_log_port),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "chiso.stack.log_server.loopback_hostname",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|chiso)\..*",
        "GX_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "AIRFLOW__CORE__MP_START_METHOD": "fork",
        "CHISO_DBT_PROJECT_DIR": str(s.repo / "dbt_project"),
    }
    if s.executor == "celery":
        env.update(celery_env(s, creds))
    env.update(dbt_env(s, creds))
    env.update(connections(s, creds))
    return env


# ---------------------------------------------------------------- CHISO_EXECUTOR=celery

REDIS = "redis"
REDIS_SERVER = "/usr/bin/redis-server"  # Debian's package, installed by `make` (target `redis`)
CELERY_WORKERS = 2
CELERY_QUEUE = "default"
# Each worker process runs this many tasks at once: two workers fill [core] parallelism (4).
CELERY_CONCURRENCY = 2


def broker_url(s: Settings, creds: dict[str, str]) -> str:
    return f"redis://:{quote(creds['redis_password'], safe='')}@{s.host}:{s.redis_port}/0"


def celery_env(s: Settings, creds: dict[str, str]) -> dict[str, str]:
    """Airflow's settings for the CeleryExecutor; docker-compose.yml sets the same (tests/unit/test_compose.py)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url(s, creds),
        # Task states in Airflow's own database, through the one connection builder.
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + connections_.build_uri(
            s.host, s.pg_port, "airflow", "airflow", creds["pg_airflow"]
        ),
        "AIRFLOW__CELERY__DEFAULT_QUEUE": CELERY_QUEUE,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(CELERY_CONCURRENCY),
        # A worker that dies (its machine, here its process tree) stops its tasks' heartbeats: after this long
        # the scheduler fails them and their retries go to a live worker (default: 5 minutes).
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
    }


def celery_worker_name(n: int) -> str:
    """Supervisor name (pid file, log) of Celery worker n (1-based)."""
    return f"airflow-celery-worker-{n}"


def celery_hostname(n: int) -> str:
    """Celery's node name of worker n is celery@<this>."""
    return f"chiso-worker-{n}"


def celery_task_host(s: Settings, n: int) -> str:
    """Worker n's own loopback address (127.0.0.2, 127.0.0.3 for 127.0.0.1): tasks record it as their host, as on
    separate machines, and the log server answers there for the logs of its running tasks."""
    return str(ipaddress.ip_address(s.host) + n)


def celery_worker_argv(s: Settings, n: int) -> list[str]:
    # --skip-serve-logs: Airflow's log server would listen on every interface; chiso.stack.log_server serves the
    # workers' logs on their loopback addresses instead (log_server_argv).
    return [
        str(s.venv_bin("airflow") / "airflow"), "celery", "worker", "--celery-hostname", celery_hostname(n),
        "--queues", CELERY_QUEUE, "--concurrency", str(CELERY_CONCURRENCY), "--skip-serve-logs",
    ]


def celery_worker_env(s: Settings, creds: dict[str, str], n: int) -> dict[str, str]:
    return {**airflow_env(s, creds), TASK_HOST_VAR: celery_task_host(s, n)}


def redis_dir(s: Settings) -> Path:
    return s.home / "redis"


def redis_conf(s: Settings, creds: dict[str, str]) -> str:
    """redis.conf of the broker: loopback, its port, the generated password (in a 0600 file, not on a command line
    where `ps` shows it), data under CHISO_HOME; appendonly so queued tasks survive a restart of Redis."""
    return "\n".join([
        f"bind {s.host}",
        f"port {s.redis_port}",
        f"requirepass {_redis_quoted(creds['redis_password'])}",
        f"dir {redis_dir(s)}",
        "daemonize no",
        'logfile ""',
        'save ""',
        "appendonly yes",
        "",
    ])


def _redis_quoted(value: str) -> str:
    """A redis.conf string argument (an operator's CHISO_SECRET_REDIS_PASSWORD may hold spaces or quotes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def redis_argv(s: Settings) -> list[str]:
    return [REDIS_SERVER, str(redis_dir(s) / "redis.conf")]


AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Components whose own log server would listen on every interface: chiso.stack.log_server serves their logs.
SERVES_LOGS = ("scheduler", "triggerer")
LOG_SERVER = "airflow-log-server"


def airflow_argv(s: Settings, component: str) -> list[str]:
    argv = [str(s.venv_bin("airflow") / "airflow"), component]
    return [*argv, "--skip-serve-logs"] if component in SERVES_LOGS else argv


def log_server_argv(s: Settings) -> list[str]:
    """Airflow's log-serving app on loopback, on the worker and triggerer log ports (one process); with Celery also
    on each worker's address, where the API server asks for the log of a task running there."""
    argv = [
        str(s.venv_bin("airflow") / "python"), "-m", "chiso.stack.log_server", "--host", s.host,
        "--port", str(s.airflow_worker_log_port), "--port", str(s.airflow_trigger_log_port),
    ]
    if s.executor == "celery":
        for n in range(1, CELERY_WORKERS + 1):
            argv += ["--listen", f"{celery_task_host(s, n)}:{s.airflow_worker_log_port}"]
    return argv


def superset_home(s: Settings) -> Path:
    return s.home / "superset"


def superset_env(s: Settings, creds: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{s.venv_bin('superset')}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "SUPERSET_HOME": str(superset_home(s)),
        "SUPERSET_CONFIG_PATH": str(s.repo / "superset" / "superset_config.py"),
        "FLASK_APP": "superset",
        "SUPERSET_SECRET_KEY": creds["superset_secret_key"],
        "SUPERSET_METADATA_URI": connections_.build_uri(
            s.host, s.pg_port, "superset", "superset", creds["pg_superset"], driver="psycopg2"
        ),
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
    }


def superset_argv(s: Settings) -> list[str]:
    return [
        str(s.venv_bin("superset") / "gunicorn"),
        "--bind", f"{s.host}:{s.superset_port}",
        "--workers", "2", "--worker-class", "gthread", "--threads", "4",
        "--timeout", "120", "--limit-request-line", "0", "--limit-request-field_size", "0",
        "superset.app:create_app()",
    ]


def docs_argv(s: Settings, root: Path) -> list[str]:
    """The Data Docs folder served read-only over HTTP."""
    return [sys.executable, "-m", "http.server", str(s.docs_port), "--bind", s.host, "--directory", str(root)]


def simulator_argv(s: Settings, creds: dict[str, str]) -> list[str]:
    return [
        str(s.venv_bin("airflow") / "python"), "-m", "chiso_simulator", "serve",
        "--oss-port", str(s.oss_port), "--edoc-port", str(s.edoc_port), "--national-port", str(s.national_port),
        "--portal-port", str(s.portal_port),
        "--host", s.host, "--drop-dir", str(s.esign_drop), "--seed", str(s.sim_seed), "--province", s.province,
        "--drop-start", s.demo_start.isoformat(),
        # what the simulated national system accepted survives a restart of the stack, as the real one would
        "--national-store", str(s.home / "simulator" / "national_received.jsonl"),
    ]


def simulator_env(s: Settings, creds: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "CHISO_SIM_CLIENT_ID": SIM_CLIENT_ID,
        "CHISO_SIM_CLIENT_SECRET": creds["oss_client_secret"],
        "CHISO_SIM_API_KEY": creds["edoc_api_key"],
        "CHISO_SIM_NATIONAL_TOKEN": creds["national_token"],
        **sim_clock(s),
    }


def sim_clock(s: Settings, now: datetime | None = None) -> dict[str, str]:
    """CHISO_SIM_TODAY and CHISO_SIM_CLOCK for the simulator, the operator's own values first."""
    if os.environ.get("CHISO_SIM_TODAY"):
        return {"CHISO_SIM_TODAY": os.environ["CHISO_SIM_TODAY"],
                "CHISO_SIM_CLOCK": os.environ.get("CHISO_SIM_CLOCK", "running")}
    today = sim_today(s, now)
    return {"CHISO_SIM_TODAY": today, "CHISO_SIM_CLOCK": "frozen" if "T" in today else "running"}


def sim_today(s: Settings, now: datetime | None = None) -> str:
    """The simulated world's "now": the day after the demo window, so scheduled daily runs of the real date find
    nothing new instead of mixing 2026 data into the demo. A window that ended before yesterday starts the clock
    at noon of that day: the e-signature report of the window's last day is delivered between 01:00 and 03:00
    the next morning, and at the real time of day (say 01:25) it would not be there yet — the last day, and so
    its month, would never be complete. That clock stands still (sim_clock): a replayed past where late corrections
    of the window's last days would otherwise land while the pipeline runs, between the one-stop-shop extract and
    the national portal's read of the same days, and the two would differ by what arrived in between. A window
    ending yesterday keeps the real, running time: today's delivery and corrections are real."""
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    day = s.demo_end + timedelta(days=1)
    if day < (now or datetime.now(tz)).astimezone(tz).date():
        return datetime.combine(day, time(12), tz).isoformat()
    return day.isoformat()
