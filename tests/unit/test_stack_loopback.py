"""Loopback and ports (issue 15, operations.md): every listener of the local stack binds 127.0.0.1 and takes its port
from a setting, so two stacks on one machine never clash. Airflow's own log servers bind every interface (no
setting), so the scheduler and triggerer run without them and chiso.stack.log_server serves their logs on loopback;
the last test starts it and reads a log through it the way Airflow's API server does."""

from __future__ import annotations

import importlib
import ipaddress
import itertools
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chiso.settings import REPO_ROOT, Settings
from chiso.stack import components
from chiso.stack.credentials import NAMES

LOOPBACK = "127.0.0.1"
PORT_VARS = re.compile(r'"(CHISO_\w+_PORT)": "(\d+)"')


def _creds() -> dict[str, str]:
    return {name: secrets.token_urlsafe(48) for name in [*NAMES, "airflow_fernet_key"]}


def _opt(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def listeners(s: Settings) -> list[tuple[str, str, int]]:
    """(what, host, port) of every listener, read from the generated environment and command lines."""
    env = components.airflow_env(s, _creds())
    out = [
        ("airflow api", env["AIRFLOW__API__HOST"], int(env["AIRFLOW__API__PORT"])),
        ("scheduler health check", env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"],
         int(env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"])),
    ]  # fmt: skip
    log = components.log_server_argv(s)
    out += [("airflow log server", _opt(log, "--host")[0], int(p)) for p in _opt(log, "--port")]
    # CHISO_EXECUTOR=celery: the worker log port on each worker's own address, and the broker
    out += [("airflow log server (worker)", *_host_port(listen)) for listen in _opt(log, "--listen")]
    redis = dict(line.split(" ", 1) for line in components.redis_conf(s, _creds()).splitlines() if line)
    out.append(("redis", redis["bind"], int(redis["port"])))
    host, port = _opt(components.superset_argv(s), "--bind")[0].rsplit(":", 1)
    out.append(("superset", host, int(port)))
    docs = components.docs_argv(s, s.home / "data_docs")
    out.append(("data docs", _opt(docs, "--bind")[0], int(docs[docs.index("http.server") + 1])))
    sim = components.simulator_argv(s, _creds())
    for flag in ("--oss-port", "--edoc-port", "--national-port", "--portal-port"):
        out.append((f"simulator {flag}", _opt(sim, "--host")[0], int(_opt(sim, flag)[0])))
    out.append(("postgres", s.host, s.pg_port))  # chiso.stack.postgres starts it with -h host -p pg_port
    return out


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


@pytest.fixture
def clean_ports(monkeypatch):
    for var in list(os.environ):
        if re.fullmatch(r"CHISO_\w+_PORT", var):
            monkeypatch.delenv(var)
    return monkeypatch


@pytest.mark.parametrize("executor", ["local", "celery"])
def test_every_listener_binds_loopback(clean_ports, executor):
    clean_ports.setenv("CHISO_EXECUTOR", executor)
    for what, host, _ in listeners(Settings()):
        # Celery workers have addresses of their own (127.0.0.2, .3: tasks record them), loopback too.
        assert host == LOOPBACK or (executor == "celery" and ipaddress.ip_address(host).is_loopback), what


def test_airflow_serves_no_logs_of_its_own_and_task_hosts_are_loopback(clean_ports):
    s = Settings()
    for component in components.AIRFLOW_COMPONENTS:
        argv = components.airflow_argv(s, component)
        # scheduler and triggerer would start Airflow's log server on every interface
        assert ("--skip-serve-logs" in argv) is (component in ("scheduler", "triggerer")), component
    env = components.airflow_env(s, _creds())
    module, _, name = env["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rpartition(".")
    assert getattr(importlib.import_module(module), name)() == LOOPBACK
    log = components.log_server_argv(s)
    assert [int(p) for p in _opt(log, "--port")] == [
        int(env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]),
        int(env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]),
    ]


def test_airflow_ports_come_from_the_settings(clean_ports):
    s = Settings()
    assert (s.airflow_worker_log_port, s.airflow_trigger_log_port, s.airflow_health_port) == (8793, 8794, 8974)
    clean_ports.setenv("CHISO_AIRFLOW_PORT", "8180")  # a second stack moves them along with its API port
    s = Settings()
    assert (s.airflow_worker_log_port, s.airflow_trigger_log_port, s.airflow_health_port) == (8893, 8894, 9074)
    clean_ports.setenv("CHISO_AIRFLOW_WORKER_LOG_PORT", "18793")
    clean_ports.setenv("CHISO_AIRFLOW_TRIGGER_LOG_PORT", "18794")
    clean_ports.setenv("CHISO_AIRFLOW_HEALTH_PORT", "18974")
    env = components.airflow_env(Settings(), _creds())
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18794"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] == "18974"
    assert env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] == LOOPBACK


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_malformed_port_setting_names_the_variable(clean_ports, value):
    clean_ports.setenv("CHISO_AIRFLOW_HEALTH_PORT", value)
    with pytest.raises(ValueError, match=f"CHISO_AIRFLOW_HEALTH_PORT phải là số cổng 1–65535, nhận '{value}'"):
        Settings()


def test_the_stacks_of_this_repository_never_share_a_port(clean_ports):
    """The stacks this repository runs side by side: `make run` (defaults), the e2e fixture, bench/_stack.py and the
    Celery drill's own stack; each with every listener it can have (CHISO_EXECUTOR=celery)."""
    stacks = {"dev": {}}
    for name, path in (("e2e", "tests/e2e/conftest.py"), ("bench", "bench/_stack.py"),
                       ("celery", "tests/e2e/test_celery_stack.py")):
        stacks[name] = dict(PORT_VARS.findall((REPO_ROOT / path).read_text()))
        assert "CHISO_AIRFLOW_PORT" in stacks[name], path
    clean_ports.setenv("CHISO_EXECUTOR", "celery")
    ports = {}
    for name, env in stacks.items():
        for var in list(os.environ):
            if re.fullmatch(r"CHISO_\w+_PORT", var):
                clean_ports.delenv(var)
        for var, value in env.items():
            clean_ports.setenv(var, value)
        used = [(host, port) for _, host, port in listeners(Settings())]
        assert len(used) == len(set(used)), (name, sorted(used))
        ports[name] = {port for _, port in used}
    for a, b in itertools.combinations(ports, 2):
        assert not ports[a] & ports[b], (a, b, sorted(ports[a] & ports[b]))


# ---------------------------------------------------------------- the log server itself


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net shows them) listening on `port`, IPv4 and IPv6."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                out.add(addr)
    return out


def test_log_server_listens_on_loopback_only_and_serves_airflow_logs(tmp_path):
    s = Settings(home=tmp_path)
    worker, trigger, celery = _free_port(), _free_port(), _free_port()
    env = {
        **components.airflow_env(s, _creds()),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger),
    }
    rel = "dag_id=d/run_id=r/task_id=t/attempt=1.log"
    log_file = s.logs / "airflow" / rel
    log_file.parent.mkdir(parents=True)
    log_file.write_text("xin chào từ nhật ký\n", encoding="utf-8")
    argv = [sys.executable, "-m", "chiso.stack.log_server", "--host", LOOPBACK, "--port", str(worker),
            "--port", str(trigger), "--listen", f"127.0.0.2:{celery}"]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (_listening(worker) and _listening(trigger) and _listening(celery)):
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "log server did not start"
            time.sleep(0.2)
        assert _listening(worker) == _listening(trigger) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::
        assert _listening(celery) == {"0200007F"}  # a Celery worker's own address (CHISO_EXECUTOR=celery)
        assert httpx.get(f"http://127.0.0.2:{celery}/log/{rel}").status_code == 403
        assert httpx.get(f"http://{LOOPBACK}:{worker}/log/{rel}").status_code == 403  # Airflow's JWT check
        # What the API server does for a running task: a token signed with [api] secret_key, from the task's host.
        fetch = (
            "import sys\n"
            "from airflow.utils.log.file_task_handler import _fetch_logs_from_service\n"
            "from chiso.stack.log_server import loopback_hostname\n"
            "for port in sys.argv[1:]:\n"
            f"    r = _fetch_logs_from_service(f'http://{{loopback_hostname()}}:{{port}}/log/{rel}', '{rel}')\n"
            "    print(r.status_code, r.text.strip())\n"
        )
        got = subprocess.run([sys.executable, "-c", fetch, str(worker), str(trigger)], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert got.stdout.splitlines() == ["200 xin chào từ nhật ký"] * 2, got.stderr[-3000:]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
