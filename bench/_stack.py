"""A throwaway local stack for the benches that need Airflow (own data folder and ports, like the e2e fixture).

Not a bench itself (chiso.bench skips files starting with `_`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

PORTS = {
    "CHISO_PG_PORT": "5543",
    "CHISO_OSS_PORT": "8901",
    "CHISO_EDOC_PORT": "8902",
    "CHISO_NATIONAL_PORT": "8903",
    "CHISO_PORTAL_PORT": "8904",
    "CHISO_AIRFLOW_PORT": "8280",
    "CHISO_SUPERSET_PORT": "8288",
    "CHISO_DOCS_PORT": "8289",
}


def ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class BenchStack:
    """`chiso up` in its own folder; `with BenchStack(...) as s:` stops it (and removes the folder) after."""

    def __init__(self, name: str, start: str, end: str, repo: Path = REPO) -> None:
        self.repo = repo
        self.home = Path(os.environ.get("CHISO_BENCH_HOME", REPO / "var" / "bench")) / name
        self.env = {**os.environ, **PORTS, "CHISO_HOME": str(self.home), "CHISO_DEMO_START": start,
                    "CHISO_DEMO_END": end}

    def chiso(self, *args: str, timeout: float = 7200, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(self.repo / "chiso"), *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout, cwd=self.repo)
        if check and r.returncode:
            raise RuntimeError(f"chiso {' '.join(args)} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r

    def __enter__(self) -> BenchStack:
        self.chiso("down", check=False)
        shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True)
        os.chmod(self.home, 0o755)  # noqa: S103 - the postgres OS user must traverse it
        return self

    def __exit__(self, *exc) -> None:
        self.chiso("down", check=False)
        if not os.environ.get("CHISO_BENCH_KEEP"):
            shutil.rmtree(self.home, ignore_errors=True)

    def status(self) -> dict:
        return json.loads(self.chiso("status", "--json", check=False).stdout)

    def airflow(self):
        from chiso.airflow_client import AirflowClient

        a = self.status()["airflow"]
        return AirflowClient(a["url"], a["user"], a["password"])

    def dbt_env(self) -> dict[str, str]:
        from chiso.settings import Settings
        from chiso.stack import components, credentials

        s = Settings(home=self.home, pg_port=int(PORTS["CHISO_PG_PORT"]))
        return {**os.environ, **components.dbt_env(s, credentials.load(self.home))}

    def run_dag(self, dag_id: str, conf: dict | None = None) -> dict:
        """Trigger a run, wait, and return its timeline: run span and each task's start/end (seconds from start)."""
        client = self.airflow()
        run_id = client.trigger(dag_id, conf or {}, run_id=f"bench__{time.strftime('%Y%m%dT%H%M%S')}")
        state = client.wait(dag_id, run_id, timeout=7200)
        return timeline(client, dag_id, run_id) | {"state": state}


def timeline(client, dag_id: str, run_id: str) -> dict:
    run = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    tis = {"task_instances": client.task_instances(dag_id, run_id)}  # every page: the API caps one at 100
    t0 = ts(run["start_date"])
    tasks = {}
    for t in tis["task_instances"]:
        s, e = ts(t.get("start_date")), ts(t.get("end_date"))
        tasks[t["task_id"]] = {"state": t["state"], "try": t["try_number"],
                               "start": (s - t0).total_seconds() if s else None,
                               "end": (e - t0).total_seconds() if e else None}
    return {"run_id": run_id, "seconds": (ts(run["end_date"]) - t0).total_seconds(), "tasks": tasks}


def span(tasks: dict, prefix: str) -> float:
    """Seconds from the first start to the last end of the tasks whose id starts with prefix."""
    sel = [t for k, t in tasks.items() if k.startswith(prefix) and t["start"] is not None and t["end"] is not None]
    return max(t["end"] for t in sel) - min(t["start"] for t in sel)


def timed(cmd: list[str], env: dict, cwd: Path = REPO) -> float:
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    return time.monotonic() - t0
