"""`chiso up | down | status`: start, stop and check every component of the local stack."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from chiso.settings import Settings
from chiso.stack import broker, credentials, postgres, process
from chiso.stack import components as comp
from chiso.warehouse import connections

SIMULATOR = "simulator"
SUPERSET = "superset"
DOCS = "docs"
AIRFLOW_PREFIX = "airflow-"


class Background:
    """A start step run in a thread; join() waits for it and raises what it raised."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread by join()
            self.error = e

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def say(msg: str) -> None:
    print(f"[chiso {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _run(argv: list[str], *, env: dict, log: Path, what: str, timeout: float = 900) -> None:
    """Run a one-shot setup command, appending its output to a log; fail naming the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as f:
        r = subprocess.run(argv, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    if r.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{what} failed (exit {r.returncode}); see {log}\n{tail}")


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _stamp_ok(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def _lock_key(s: Settings, env_name: str) -> str:
    return (s.repo / "requirements" / f"{env_name}.lock.txt").read_text()


class Stack:
    def __init__(self, s: Settings | None = None) -> None:
        self.s = s or Settings()
        self.creds = credentials.load(self.s.home)

    # ---------- start ----------
    def up(self, superset_in_background: bool = False) -> Background:
        """Start every component. Superset (whose first start takes a minute) starts beside the others once
        PostgreSQL is up; with superset_in_background the call returns before it is ready: join the result."""
        t0 = time.monotonic()
        s = self.s
        for d in (s.logs, s.run_dir, s.esign_drop, s.artifacts):
            d.mkdir(parents=True, exist_ok=True)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("PostgreSQL", self._up_postgres),
            ("Superset", self._up_superset),
            ("trình mô phỏng hệ thống nguồn (simulator)", self._up_simulator),
            *([("Redis (Celery broker)", self._up_redis)] if s.executor == "celery" else []),
            ("Airflow", self._up_airflow),
            ("Data Docs", self._up_docs),
        ]

        def step(i: int, name: str, fn: Callable[[], None]) -> None:
            t = time.monotonic()
            say(f"[{i}/{len(steps)}] {name} …")
            fn()
            say(f"[{i}/{len(steps)}] {name} sẵn sàng ({time.monotonic() - t:.1f}s)")

        superset = None
        for i, (name, fn) in enumerate(steps, 1):
            if fn == self._up_superset:
                superset = Background(lambda i=i, name=name, fn=fn: step(i, name, fn))
            else:
                step(i, name, fn)
        if not superset_in_background:
            superset.join()
        note = " (Superset still starting)" if superset_in_background else ""
        say(f"stack ready in {time.monotonic() - t0:.1f}s{note}")
        return superset

    def _up_postgres(self) -> None:
        postgres.ensure_running(self.s, self.creds)

    def _up_simulator(self) -> None:
        s = self.s
        url = f"http://{s.host}:{s.oss_port}/health"
        if process.read_pid(s.run_dir, SIMULATOR) and _http_ok(url):
            return
        process.stop(s.run_dir, SIMULATOR)
        process.spawn(
            SIMULATOR, comp.simulator_argv(s, self.creds), run_dir=s.run_dir, log_dir=s.logs,
            env=comp.simulator_env(s, self.creds), cwd=s.repo,
        )
        process.wait_until(lambda: _http_ok(url), timeout=120, what="simulator")

    def _up_redis(self) -> None:
        s = self.s
        if process.read_pid(s.run_dir, comp.REDIS) and self._redis_healthy():
            return
        process.stop(s.run_dir, comp.REDIS)
        if not os.access(comp.REDIS_SERVER, os.X_OK):
            raise RuntimeError(f"{comp.REDIS_SERVER} not found: CHISO_EXECUTOR=celery needs Debian's redis-server "
                               "(`make redis` installs it)")
        conf = comp.redis_dir(s) / "redis.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.unlink(missing_ok=True)
        # The password is in this file: readable by its owner only, from its first byte.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(comp.redis_conf(s, self.creds))
        process.spawn(comp.REDIS, comp.redis_argv(s), run_dir=s.run_dir, log_dir=s.logs,
                      env={"PATH": "/usr/bin:/bin"}, cwd=comp.redis_dir(s))
        process.wait_until(self._redis_healthy, timeout=30, what="Redis")

    def _redis_healthy(self) -> bool:
        return broker.redis_ping(self.s.host, self.s.redis_port, self.creds["redis_password"])

    def _workers_answering(self) -> set[str]:
        if not self._redis_healthy():
            return set()
        return broker.workers_answering(comp.broker_url(self.s, self.creds))

    def _up_airflow(self) -> None:
        s = self.s
        env = comp.airflow_env(s, self.creds)
        home = comp.airflow_home(s)
        home.mkdir(parents=True, exist_ok=True)
        (home / "passwords.json").write_text(json.dumps({comp.AIRFLOW_ADMIN: self.creds["airflow_admin"]}))
        stamp = home / ".migrated"
        key = _lock_key(s, "airflow")
        if not _stamp_ok(stamp, key):
            say("    airflow db migrate (first start only)")
            _run(comp.airflow_argv(s, "db") + ["migrate"], env=env, log=s.logs / "airflow-setup.log",
                 what="airflow db migrate")
            stamp.write_text(key)
        from chiso.dbt_config import parse_project

        parse_project(env)
        for c in comp.AIRFLOW_COMPONENTS:
            name = AIRFLOW_PREFIX + c
            if process.read_pid(s.run_dir, name):
                continue
            process.spawn(name, comp.airflow_argv(s, c), run_dir=s.run_dir, log_dir=s.logs, env=env, cwd=s.repo)
            if c == "api-server":
                # Tasks talk to the API server (Airflow 3's execution API): a scheduler up before it would queue
                # the day's scheduled runs (due at 01:00) into tasks that fail at start and wait out a retry delay.
                process.wait_until(self._airflow_api_answering, timeout=300, what="Airflow API server")
        if not process.read_pid(s.run_dir, comp.LOG_SERVER):
            process.spawn(comp.LOG_SERVER, comp.log_server_argv(s), run_dir=s.run_dir, log_dir=s.logs, env=env,
                          cwd=s.repo)
        if s.executor == "celery":
            self._up_celery_workers()
        process.wait_until(self._airflow_healthy, timeout=300, what="Airflow")

    def _up_celery_workers(self) -> None:
        s = self.s
        names = [comp.celery_worker_name(n) for n in range(1, comp.CELERY_WORKERS + 1)]
        for n, name in enumerate(names, 1):
            if not process.read_pid(s.run_dir, name):
                process.spawn(name, comp.celery_worker_argv(s, n), run_dir=s.run_dir, log_dir=s.logs,
                              env=comp.celery_worker_env(s, self.creds, n), cwd=s.repo)
        nodes = {f"celery@{comp.celery_hostname(n)}" for n in range(1, comp.CELERY_WORKERS + 1)}

        def ready() -> bool:
            for name in names:
                if not process.read_pid(s.run_dir, name):
                    log = (s.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited; see {s.logs / name}.log\n{log}")
            return nodes <= self._workers_answering()

        process.wait_until(ready, timeout=300, what="Celery workers", interval=2)

    def _airflow_api_answering(self) -> bool:
        try:
            h = httpx.get(f"http://{self.s.host}:{self.s.airflow_port}/api/v2/monitor/health", timeout=3).json()
        except (httpx.HTTPError, ValueError):
            return False
        return (h.get("metadatabase") or {}).get("status") == "healthy"

    def _airflow_healthy(self) -> bool:
        try:
            h = httpx.get(f"http://{self.s.host}:{self.s.airflow_port}/api/v2/monitor/health", timeout=3).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((h.get(p) or {}).get("status") == "healthy" for p in parts)

    def _up_superset(self) -> None:
        from chiso.stack import superset_setup

        s = self.s
        env = comp.superset_env(s, self.creds)
        comp.superset_home(s).mkdir(parents=True, exist_ok=True)
        stamp = comp.superset_home(s) / ".initialised"
        key = _lock_key(s, "superset")
        if not _stamp_ok(stamp, key):
            say("    superset db upgrade + init (first start only, ~1-2 min)")
            sup = str(s.venv_bin("superset") / "superset")
            log = s.logs / "superset-setup.log"
            _run([sup, "db", "upgrade"], env=env, log=log, what="superset db upgrade")
            _run([sup, "init"], env=env, log=log, what="superset init")
            stamp.write_text(key)
        superset_setup.ensure_users(s, self.creds, env)
        url = f"http://{s.host}:{s.superset_port}/health"
        if not (process.read_pid(s.run_dir, SUPERSET) and _http_ok(url)):
            process.stop(s.run_dir, SUPERSET)
            process.spawn(SUPERSET, comp.superset_argv(s), run_dir=s.run_dir, log_dir=s.logs, env=env, cwd=s.repo)
            process.wait_until(lambda: _http_ok(url), timeout=180, what="Superset")
        say("    importing dashboards from superset/ (assets importer, overwrite)")
        superset_setup.import_assets(s, self.creds)

    def _up_docs(self) -> None:
        s = self.s
        root = s.home / "data_docs"
        root.mkdir(parents=True, exist_ok=True)
        url = f"http://{s.host}:{s.docs_port}/"
        if process.read_pid(s.run_dir, DOCS) and _http_ok(url):
            return
        process.stop(s.run_dir, DOCS)
        process.spawn(DOCS, comp.docs_argv(s, root), run_dir=s.run_dir, log_dir=s.logs, env={"PATH": "/usr/bin:/bin"})
        process.wait_until(lambda: _http_ok(url), timeout=30, what="Data Docs server")

    # ---------- stop ----------
    def down(self) -> None:
        s = self.s
        # Whatever the executor now: a stack started with CHISO_EXECUTOR=celery stops whole without it.
        workers = [comp.celery_worker_name(n) for n in range(1, comp.CELERY_WORKERS + 1)]
        airflow = (*workers, comp.LOG_SERVER, *(AIRFLOW_PREFIX + c for c in reversed(comp.AIRFLOW_COMPONENTS)))
        for name in (DOCS, SUPERSET, *airflow, SIMULATOR, comp.REDIS):
            process.stop(s.run_dir, name)
        postgres.stop(s)
        pid = postgres.postmaster_pid(s)
        if pid and process.pid_alive(pid):
            raise RuntimeError(f"PostgreSQL (pid {pid}) did not stop")
        say("stack stopped")

    # ---------- status ----------
    def _celery_status(self) -> dict[str, dict]:
        s = self.s
        out = {"redis": {"healthy": self._redis_healthy(), "pid": process.read_pid(s.run_dir, comp.REDIS),
                         "port": s.redis_port}}
        answering = broker.workers_answering(comp.broker_url(s, self.creds)) if out["redis"]["healthy"] else set()
        for n in range(1, comp.CELERY_WORKERS + 1):
            pid = process.read_pid(s.run_dir, comp.celery_worker_name(n))
            node = f"celery@{comp.celery_hostname(n)}"
            out[f"celery_worker_{n}"] = {
                "healthy": pid is not None and node in answering, "pid": pid, "node": node,
                "task_host": comp.celery_task_host(s, n),  # what its task instances record as their hostname
            }
        return out

    def status(self) -> dict:
        s = self.s
        pg_pid = postgres.postmaster_pid(s)
        comps: dict[str, dict] = {
            "postgres": {"healthy": postgres.is_ready(s), "pid": pg_pid, "port": s.pg_port},
            "simulator": {
                "healthy": _http_ok(f"http://{s.host}:{s.oss_port}/health"),
                "pid": process.read_pid(s.run_dir, SIMULATOR),
                "urls": {
                    "one_stop_shop": f"http://{s.host}:{s.oss_port}",
                    "edoc": f"http://{s.host}:{s.edoc_port}",
                    "national_report": f"http://{s.host}:{s.national_port}",
                    "esign_drop": str(s.esign_drop),
                },
            },
            "airflow": {
                "healthy": self._airflow_healthy() and process.read_pid(s.run_dir, comp.LOG_SERVER) is not None,
                "pids": {
                    **{c: process.read_pid(s.run_dir, AIRFLOW_PREFIX + c) for c in comp.AIRFLOW_COMPONENTS},
                    "log-server": process.read_pid(s.run_dir, comp.LOG_SERVER),
                },
            },
            "superset": {
                "healthy": _http_ok(f"http://{s.host}:{s.superset_port}/health"),
                "pid": process.read_pid(s.run_dir, SUPERSET),
            },
            "data_docs": {
                "healthy": _http_ok(f"http://{s.host}:{s.docs_port}/"),
                "pid": process.read_pid(s.run_dir, DOCS),
                "url": f"http://{s.host}:{s.docs_port}/",
            },
        }
        comps["airflow"]["pid"] = comps["airflow"]["pids"]["api-server"]
        if s.executor == "celery":
            comps.update(self._celery_status())
        c = self.creds
        return {
            "healthy": all(v["healthy"] for v in comps.values()),
            "components": comps,
            # The logins the operator uses (operations.md): the UIs', the loader's warehouse URI and the read-only
            # marts URI. The transformer and the superuser appear without their password: this output is printed,
            # pasted into tickets and logged; theirs stay in the secrets file (mode 0600), for the code that needs them.
            "warehouse": {
                "uri": postgres.uri(s, "chiso_loader", c["pg_loader"]),
                "transformer_uri": connections.redact(postgres.uri(s, "chiso_transformer", c["pg_transformer"])),
                "marts_reader_uri": postgres.uri(s, "chiso_reader", c["pg_reader"]),
                "admin_uri": connections.redact(postgres.uri(s, postgres.SUPERUSER, c["pg_superuser"])),
                "secrets_file": str(s.home / "secrets.json"),
            },
            "airflow": {
                "url": f"http://{s.host}:{s.airflow_port}", "user": comp.AIRFLOW_ADMIN, "password": c["airflow_admin"],
            },
            "superset": {
                "url": f"http://{s.host}:{s.superset_port}",
                "user": comp.SUPERSET_ADMIN, "password": c["superset_admin"],
                "viewer_user": comp.SUPERSET_VIEWER, "viewer_password": c["superset_viewer"],
            },
            "data_docs": {"url": f"http://{s.host}:{s.docs_port}/"},
            "logs": str(s.logs),
            "artifacts": str(s.artifacts),
        }
