"""A fresh clone to the dashboards: `make run` as a new user runs it, for two windows in one bench run:

  merged   the product's demo: the merged Phú Thọ (25) from 2025-01-01 to yesterday    goal ≤ 10 min
  legacy   the first version's demo: Vĩnh Phúc (26) alone, 2024-01-01 … 2025-06-30     goal ≤ 5 min

Each clones the committed HEAD into a temporary folder, runs `make run` there on its own ports (its venvs are
built by `make` from the lock files, with uv's cache as this machine has it), and reports the phases `make run`
printed: venvs, stack start, extract, transform, export. CHISO_BENCH_WINDOWS=merged|legacy picks one;
CHISO_BENCH_START / CHISO_BENCH_END change the merged run's window.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _stack import PORTS, REPO

WINDOWS = {
    "merged": ({}, 600.0),
    "legacy": ({"CHISO_PROVINCE": "26", "CHISO_DEMO_START": "2024-01-01", "CHISO_DEMO_END": "2025-06-30"}, 300.0),
}


def main() -> int:
    names = [w for w in os.environ.get("CHISO_BENCH_WINDOWS", "merged,legacy").split(",") if w]
    failed = 0
    for name in names:
        settings, goal = WINDOWS[name]
        print(f"== {name}")
        failed += run_once(settings, goal, name == "merged")
    return 1 if failed else 0


def run_once(settings: dict[str, str], goal: float, window_from_env: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="chiso-fresh-") as tmp:
        clone = Path(tmp) / "chiso"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        os.chmod(tmp, 0o755)  # noqa: S103 - the postgres OS user must traverse the data folder
        env = {**os.environ, **PORTS}
        for k in ("CHISO_HOME", "CHISO_VENVS"):
            env.pop(k, None)
        env.update(settings)
        if window_from_env and os.environ.get("CHISO_BENCH_START"):
            env["CHISO_DEMO_START"] = os.environ["CHISO_BENCH_START"]
        if window_from_env and os.environ.get("CHISO_BENCH_END"):
            env["CHISO_DEMO_END"] = os.environ["CHISO_BENCH_END"]
        t0 = time.monotonic()
        r = subprocess.run(["make", "run"], cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - t0
        subprocess.run([str(clone / "chiso"), "down"], cwd=clone, env=env, capture_output=True)
    out = r.stdout
    window = re.search(r"for (\d{4}-\d\d-\d\d) … (\d{4}-\d\d-\d\d)", out)
    print(f"fresh clone of {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True, text=True).stdout.strip()}"  # noqa: E501
          f", window {window.group(1)} … {window.group(2)}" if window else "")
    for line in out.splitlines():
        if re.search(r"stack ready|\[pipeline|syncing venv", line):
            print("  " + line)
    if r.returncode:
        print(f"make run failed (exit {r.returncode})\n{out[-3000:]}\n{r.stderr[-3000:]}")
        return 1
    print(f"make run, fresh clone to dashboards: {seconds:.0f}s (goal <= {goal:.0f}s) "
          f"{'MET' if seconds <= goal else 'NOT MET'}")
    return 0 if seconds <= goal else 1


if __name__ == "__main__":
    sys.exit(main())
