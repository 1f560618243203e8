"""The transform DAG run vs one `dbt build` of the same project on the same data (goal: dbt part ≤ 1.3x).

A throwaway stack loads the window (default the demo window; CHISO_BENCH_START / CHISO_BENCH_END), then, on
the same data: `dbt build --full-refresh` outside Airflow (the physical limit), the transform_warehouse run with
`{"full_refresh": true}` (one watched `dbt build` plus the GX gates before and after), and the direct build once
more. The ratio that has the goal is the DAG's dbt part (the producer's `dbt build` starting to the last model or
test task ending; those tasks wait in the triggerer from the run's start, so their own starts say nothing) over
the mean of the two direct builds; the whole run, GX gates included, is printed beside it.
"""

from __future__ import annotations

import os
import sys
import tempfile

from _stack import REPO, BenchStack, timed

START = os.environ.get("CHISO_BENCH_START", "2024-01-01")
END = os.environ.get("CHISO_BENCH_END", "2025-06-30")
GOAL = 1.3


def direct_build(stack: BenchStack) -> float:
    with tempfile.TemporaryDirectory() as target:
        return timed([str(REPO / ".venvs" / "dbt" / "bin" / "dbt"), "build", "--full-refresh", "--quiet",
                      "--project-dir", str(REPO / "dbt_project"), "--profiles-dir", str(REPO / "dbt_project"),
                      "--target-path", target], stack.dbt_env())


def main() -> int:
    with BenchStack("transform_overhead", START, END) as stack:
        up = timed([str(REPO / "chiso"), "up", "--pipeline"], stack.env)
        print(f"window {START} … {END}: stack up and pipeline in {up:.0f}s")
        first = direct_build(stack)
        run = stack.run_dag("transform_warehouse", {"full_refresh": True})
        second = direct_build(stack)
    if run["state"] != "success":
        print(f"transform run {run['run_id']} ended {run['state']}")
        return 1
    tasks = run["tasks"]
    producer = tasks["dbt.dbt_producer_watcher"]
    dbt_part = max(t["end"] for k, t in tasks.items() if k.startswith("dbt.") and t["end"] is not None) \
        - producer["start"]
    gates = sum(tasks[t]["end"] - tasks[t]["start"] for t in ("check_raw", "check_staging", "check_marts"))
    direct = (first + second) / 2
    watched = sum(1 for k in tasks if k.startswith("dbt.") and "producer" not in k)
    print(f"dbt build --full-refresh outside Airflow: {first:.1f}s, {second:.1f}s (mean {direct:.1f}s)")
    print(f"transform_warehouse run: {run['seconds']:.1f}s = GX gates {gates:.1f}s + dbt part {dbt_part:.1f}s "
          f"(producer dbt build {producer['end'] - producer['start']:.1f}s; {watched} model/test tasks watched)")
    ratio = dbt_part / direct
    print(f"ratio dbt part / dbt build: {ratio:.2f}x (goal <= {GOAL}x) {'MET' if ratio <= GOAL else 'NOT MET'}")
    print(f"ratio whole run (GX gates included) / dbt build: {run['seconds'] / direct:.2f}x")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
