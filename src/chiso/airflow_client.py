"""A small client of Airflow 3's REST API (/api/v2), used by `chiso pipeline`, status and tests."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

TERMINAL = {"success", "failed"}


@dataclass
class AirflowClient:
    url: str
    user: str
    password: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.url, timeout=self.timeout)
        self._token: str | None = None

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            r = self._http.post("/auth/token", json={"username": self.user, "password": self.password})
            r.raise_for_status()
            self._token = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def request(self, method: str, path: str, **kw) -> httpx.Response:
        r = self._http.request(method, path, headers=self._auth(), **kw)
        if r.status_code == 401:  # token expired: get a new one once
            self._token = None
            r = self._http.request(method, path, headers=self._auth(), **kw)
        return r

    def get(self, path: str, **kw) -> dict:
        r = self.request("GET", path, **kw)
        r.raise_for_status()
        return r.json()

    def health(self) -> dict:
        return self._http.get("/api/v2/monitor/health").json()

    def dag_ids(self) -> list[str]:
        return [d["dag_id"] for d in self.get("/api/v2/dags", params={"limit": 100})["dags"]]

    def import_errors(self) -> list[dict]:
        return self.get("/api/v2/importErrors")["import_errors"]

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> str:
        body: dict = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        r = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        if r.status_code >= 400:
            raise RuntimeError(f"cannot trigger {dag_id}: {r.status_code} {r.text}")
        return r.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of a run, page by page (the API caps a page at 100; the transform has more)."""
        out: list[dict] = []
        while True:
            page = self.get(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100, "offset": len(out)}
            )
            out += page["task_instances"]
            if not page["task_instances"] or len(out) >= page.get("total_entries", 0):
                return out

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        tis = self.task_instances(dag_id, run_id)
        return [t["task_id"] for t in tis if t["state"] in ("failed", "upstream_failed")]

    def runs(self, dag_id: str, limit: int = 100) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": limit, "order_by": "-run_after"})[
            "dag_runs"
        ]

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while True:
            missing = set(dag_ids) - set(self.dag_ids())
            if not missing:
                return
            if time.monotonic() > deadline:
                errors = "; ".join(f"{e['filename']}: {e['stack_trace'][-300:]}" for e in self.import_errors())
                raise TimeoutError(f"DAGs not parsed: {sorted(missing)}. Import errors: {errors or 'none'}")
            time.sleep(2)

    def wait(self, dag_id: str, run_id: str, timeout: float = 3600, on_poll=None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if on_poll:
                on_poll(state)
            if state in TERMINAL:
                return state
            time.sleep(3)
        raise TimeoutError(f"{dag_id} run {run_id} still running after {timeout:.0f}s")
