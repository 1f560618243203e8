"""The linters of `make lint` pass: ruff on Python, SQLFluff on the dbt models."""

import subprocess
import sys
from pathlib import Path

import early

from chiso.settings import REPO_ROOT


def test_ruff_clean():
    r = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "."], cwd=REPO_ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:]


@early.job  # the slowest check of the fast lane (~50 s on one core): started when the session starts
def sqlfluff_lint() -> subprocess.CompletedProcess:
    sqlfluff = REPO_ROOT / ".venvs" / "dbt" / "bin" / "sqlfluff"
    return early.run([str(sqlfluff), "lint", "models"], cwd=REPO_ROOT / "dbt_project", timeout=900)


def test_sqlfluff_clean():
    r = early.result(sqlfluff_lint)
    assert r.returncode == 0, r.stdout[-3000:]
