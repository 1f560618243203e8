"""The linters of `make lint` pass: ruff on Python, SQLFluff on the dbt models."""

import subprocess
import sys
from pathlib import Path

from chiso.settings import REPO_ROOT


def test_ruff_clean():
    r = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "."], cwd=REPO_ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:]


def test_sqlfluff_clean():
    sqlfluff = REPO_ROOT / ".venvs" / "dbt" / "bin" / "sqlfluff"
    r = subprocess.run([str(sqlfluff), "lint", "models"], cwd=REPO_ROOT / "dbt_project",
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:]
