"""Failure drills of scale.md: what was killed (PID, when), the time to recover, the outcome against an undisturbed run.

Runs the drill tests themselves (each kills a real process by PID with SIGKILL and compares row for row with an
undisturbed run; see their docstrings) with CHISO_DRILLS_REPORT set, so each writes its figures, and prints them
with each test's wall time. Ports: CHISO_TEST_PG_PORT (default 5544, the `warehouse` fixture's PostgreSQL) and
CHISO_TEST_DRILL_PG_PORT (5545, the PostgreSQL the drills kill). Exit status 1 when a drill fails.

`--stack` also runs the two drills that need the whole stack, on CHISO_EXECUTOR=celery's own stack
(tests/e2e/test_celery_stack.py, ~15 min): a Celery worker killed during a transform, and the scheduler killed
during a backfill.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DRILLS = [
    "tests/integration/test_drills.py",
    "tests/dbt/test_dbt_drill.py",
    "tests/integration/test_extract_simulator.py::"
    "test_backfill_then_daily_runs_land_late_corrections_despite_faults_and_token_expiry",
]
TITLES = {
    "postgres_killed_during_load": "PostgreSQL killed (SIGKILL) and restarted during a load",
    "postgres_killed_during_dbt_build": "PostgreSQL killed (SIGKILL) and restarted during a dbt build",
    "national_receiver_down": "the national receiver down for an hour, then back, during an export",
    "drop_folder_unreadable": "the drop folder's reader side: read-only folders, an unreadable file and folder",
    "faults_tokens_corrections": "20 % source faults + token expiry + late corrections during a 90-day backfill",
    "celery_worker_killed_during_transform": "a Celery worker killed during a transform (CHISO_EXECUTOR=celery)",
    "scheduler_killed_during_backfill": "the scheduler killed and restarted during a backfill (whole stack, Celery)",
}
STACK_DRILLS = ["tests/e2e/test_celery_stack.py"]
TESTS = {
    "postgres_killed_during_load": "test_postgres_killed_during_a_load_converges_to_the_undisturbed_raw",
    "postgres_killed_during_dbt_build": "test_postgres_killed_during_dbt_build_rebuild_gives_the_undisturbed_marts",
    "national_receiver_down": "test_receiver_killed_during_an_export_gets_every_document_once_in_revision_order",
    "drop_folder_unreadable": "test_unreadable_drop_folder_names_each_file_and_the_other_days_load",
    "faults_tokens_corrections": "test_backfill_then_daily_runs_land_late_corrections_despite_faults_and_token_expiry",
    "celery_worker_killed_during_transform":
        "test_a_worker_killed_mid_transform_the_retry_runs_on_the_other_with_the_same_marts",
    "scheduler_killed_during_backfill":
        "test_scheduler_killed_during_a_backfill_it_completes_and_nothing_is_loaded_twice",
}


def main() -> int:
    stack = "--stack" in sys.argv[1:]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="chiso-drills-") as tmp:
        figures, junit = Path(tmp) / "drills.jsonl", Path(tmp) / "junit.xml"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "CHISO_DRILLS_REPORT": str(figures),
            "CHISO_TEST_PG_PORT": os.environ.get("CHISO_TEST_PG_PORT", "5544"),
            "CHISO_TEST_DRILL_PG_PORT": os.environ.get("CHISO_TEST_DRILL_PG_PORT", "5545"),
        }
        tests = [*DRILLS, *(STACK_DRILLS if stack else [])]
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                            *tests], cwd=REPO, env=env, capture_output=True, text=True)
        outcomes = {}
        for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own pytest run's file
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            outcomes[case.get("name")] = ("FAILED" if failed else "skipped" if skipped else "passed",
                                          float(case.get("time", 0)))
        reports = {}
        if figures.exists():
            for line in figures.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                reports[rec.pop("drill")] = rec
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the start (times stretch with it); each drill "
          "kills a real process by PID (SIGKILL) unless it says otherwise, and compares with an undisturbed run of "
          "the same work\n")
    for drill, title in TITLES.items():
        state, seconds = outcomes.get(TESTS[drill], ("not run", 0.0))
        print(f"== {title}\n   test {TESTS[drill]}: {state}, wall time {seconds:.0f}s")
        for k, v in reports.get(drill, {}).items():
            print(f"   {k:8} {v}")
        print()
    if not stack:
        print("(the two whole-stack drills were not run: `--stack`)")
    if r.returncode:
        print("\n[pytest]\n" + r.stdout[-4000:])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
