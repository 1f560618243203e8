"""CHISO_EXECUTOR: what the supervisor hands Airflow, the workers and Redis (no server started here; the stack runs in
tests/e2e/test_celery_stack.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chiso.settings import Settings
from chiso.stack import components
from chiso.stack.credentials import NAMES
from chiso.warehouse import connections


@pytest.fixture
def creds() -> dict[str, str]:
    # A password with every character a URL or redis.conf must quote.
    return {**{name: f"pw-{name}" for name in [*NAMES, "airflow_fernet_key"]}, "redis_password": 'p@ss:w/o"rd \\x'}


def test_local_executor_by_default(monkeypatch, tmp_path, creds):
    monkeypatch.delenv("CHISO_EXECUTOR", raising=False)
    s = Settings(home=tmp_path)
    env = components.airflow_env(s, creds)
    assert s.executor == "local" and env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not [k for k in env if k.startswith("AIRFLOW__CELERY__")]
    assert "--listen" not in components.log_server_argv(s)


def test_celery_executor_broker_and_result_backend(monkeypatch, tmp_path, creds):
    monkeypatch.setenv("CHISO_EXECUTOR", "celery")
    monkeypatch.setenv("CHISO_REDIS_PORT", "6391")
    s = Settings(home=tmp_path)
    env = components.airflow_env(s, creds)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://:p%40ss%3Aw%2Fo%22rd%20%5Cx@127.0.0.1:6391/0"
    # Airflow's own database, as its own role, built where every connection string is.
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + connections.build_uri(
        "127.0.0.1", s.pg_port, "airflow", "airflow", creds["pg_airflow"])
    assert int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) * components.CELERY_WORKERS == int(
        env["AIRFLOW__CORE__PARALLELISM"])


def test_redis_port_moves_with_the_airflow_port(monkeypatch):
    monkeypatch.delenv("CHISO_REDIS_PORT", raising=False)
    monkeypatch.delenv("CHISO_AIRFLOW_PORT", raising=False)
    assert Settings().redis_port == 8795  # not 6379, where Debian's own redis-server service may listen
    monkeypatch.setenv("CHISO_AIRFLOW_PORT", "8180")
    assert Settings().redis_port == 8895


def test_a_wrong_executor_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CHISO_EXECUTOR", "kubernetes")
    with pytest.raises(ValueError, match="CHISO_EXECUTOR phải là local hoặc celery, nhận 'kubernetes'"):
        Settings()


def test_two_workers_as_two_machines(monkeypatch, tmp_path, creds):
    """Distinct node names and loopback addresses; the default queue; no log server of Airflow's own (it would
    listen on every interface): chiso's serves the worker log port on each worker's address."""
    monkeypatch.setenv("CHISO_EXECUTOR", "celery")
    s = Settings(home=tmp_path)
    workers = range(1, components.CELERY_WORKERS + 1)
    argvs = [components.celery_worker_argv(s, n) for n in workers]
    assert len({a[a.index("--celery-hostname") + 1] for a in argvs}) == components.CELERY_WORKERS == 2
    for argv in argvs:
        assert argv[1:3] == ["celery", "worker"] and "--skip-serve-logs" in argv
        assert argv[argv.index("--queues") + 1] == components.CELERY_QUEUE == "default"
    hosts = [components.celery_task_host(s, n) for n in workers]
    assert hosts == ["127.0.0.2", "127.0.0.3"]
    log = components.log_server_argv(s)
    assert [log[i + 1] for i, a in enumerate(log) if a == "--listen"] == [f"{h}:{s.airflow_worker_log_port}"
                                                                          for h in hosts]
    # What a task running on worker n records as its host: Airflow's hostname_callable, in the worker's environment.
    callable_ = components.airflow_env(s, creds)["AIRFLOW__CORE__HOSTNAME_CALLABLE"]
    module, _, name = callable_.rpartition(".")
    for n, host in zip(workers, hosts, strict=True):
        env = components.celery_worker_env(s, creds, n)
        got = subprocess.run([sys.executable, "-c", f"from {module} import {name}; print({name}())"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
        assert got == host


def test_log_server_refuses_a_non_loopback_listen():
    from chiso.stack.log_server import main

    with pytest.raises(SystemExit) as e:
        main(["--port", "8793", "--listen", "0.0.0.0:8793"])
    assert e.value.code == 2


def test_redis_conf_loopback_port_password_and_data_under_home(monkeypatch, tmp_path, creds):
    monkeypatch.setenv("CHISO_REDIS_PORT", "6391")
    s = Settings(home=tmp_path)
    conf = components.redis_conf(s, creds).splitlines()
    assert "bind 127.0.0.1" in conf and "port 6391" in conf and f"dir {tmp_path / 'redis'}" in conf
    assert 'requirepass "p@ss:w/o\\"rd \\\\x"' in conf
    assert components.redis_argv(s) == ["/usr/bin/redis-server", str(tmp_path / "redis" / "redis.conf")]
