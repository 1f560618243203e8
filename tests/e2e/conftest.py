"""The end-to-end fixture: the real local stack (`chiso up`), on its own ports and data folder so it never
disturbs a developer's running stack, with the pipeline run once for a short window.

Set CHISO_E2E_KEEP=1 to leave it running after the tests (and reuse it next time)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chiso.settings import REPO_ROOT

E2E_HOME = Path(os.environ.get("CHISO_E2E_HOME", REPO_ROOT / "var" / "e2e-stack"))
# The merged Phú Thọ across the 1/7/2025 reform (reform.md): June under the old units, July under the new.
E2E_PROVINCE = os.environ.get("CHISO_E2E_PROVINCE", "25")
E2E_START = os.environ.get("CHISO_E2E_START", "2025-06-10")
E2E_END = os.environ.get("CHISO_E2E_END", "2025-07-31")
E2E_ENV = {
    "CHISO_HOME": str(E2E_HOME),
    "CHISO_PG_PORT": "5533",
    "CHISO_OSS_PORT": "8801",
    "CHISO_EDOC_PORT": "8802",
    "CHISO_NATIONAL_PORT": "8803",
    "CHISO_PORTAL_PORT": "8804",
    "CHISO_AIRFLOW_PORT": "8180",
    "CHISO_SUPERSET_PORT": "8188",
    "CHISO_DOCS_PORT": "8189",
    "CHISO_DEMO_START": E2E_START,
    "CHISO_DEMO_END": E2E_END,
    "CHISO_PROVINCE": E2E_PROVINCE,
}


# Every test here is marked e2e (and postgres, dbt, superset) by tests/conftest.py FOLDER_NEEDS.


def chiso(
    *args: str, timeout: float = 3600, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`./chiso ARGS` on the e2e stack (or on the stack of `env`, e.g. test_celery_stack's own)."""
    env = {**os.environ, **(E2E_ENV if env is None else env)}
    r = subprocess.run([str(REPO_ROOT / "chiso"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"chiso {' '.join(args)} exited {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


@pytest.fixture(scope="session")
def live_stack() -> Iterator[dict]:
    # A failing `up --pipeline` (a failed run) must still stop the stack: nothing outlives the session.
    try:
        chiso("up", "--pipeline")
        status = json.loads(chiso("status", "--json").stdout)
        yield status
    finally:
        if not os.environ.get("CHISO_E2E_KEEP"):
            chiso("down", check=False)


@pytest.fixture(scope="session")
def loader_uri(live_stack) -> str:
    """The warehouse as its owner chiso_loader, from the stack's secrets file: `status` shows no loader password."""
    from chiso.settings import Settings
    from chiso.stack import credentials
    from chiso.warehouse import connections

    s = Settings(home=E2E_HOME, pg_port=int(E2E_ENV["CHISO_PG_PORT"]))
    return connections.uri(s, credentials.load(E2E_HOME), "loader")


@pytest.fixture(scope="session")
def airflow(live_stack):
    from chiso.airflow_client import AirflowClient

    a = live_stack["airflow"]
    return AirflowClient(a["url"], a["user"], a["password"])


@pytest.fixture(scope="session")
def superset_admin(live_stack):
    from chiso.stack.superset_setup import SupersetApi

    s = live_stack["superset"]
    return SupersetApi(s["url"], s["user"], s["password"])
