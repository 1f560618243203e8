"""One day of the pipeline, extract → quality → transform → export, with its 7-day lookback (goal ≤ 2 min).

A throwaway stack loads a history (default 2024-01-01 … 2024-06-30; CHISO_BENCH_START / CHISO_BENCH_END), then
`chiso pipeline` runs the next day together with the six days before it, as the daily extract re-reads them
(late corrections, rows that vanished). Printed: each stage's time, from the pipeline's own report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta

from _stack import REPO, BenchStack

START = os.environ.get("CHISO_BENCH_START", "2024-01-01")
END = os.environ.get("CHISO_BENCH_END", "2024-06-30")
LOOKBACK_DAYS = 7
GOAL = 120.0


def main() -> int:
    day = date.fromisoformat(END) + timedelta(days=1)
    first = day - timedelta(days=LOOKBACK_DAYS - 1)
    with BenchStack("daily_pipeline", START, END) as stack:
        stack.chiso("up", "--pipeline")
        print(f"history {START} … {END} loaded; the day {day} with its lookback {first} … {day}:")
        t0 = time.monotonic()
        r = subprocess.run([str(REPO / "chiso"), "pipeline", "--start", first.isoformat(), "--end", day.isoformat()],
                           env=stack.env, capture_output=True, text=True, cwd=REPO)
        seconds = time.monotonic() - t0
    for line in r.stdout.splitlines():
        if line.startswith("[pipeline"):
            print("  " + line)
    if r.returncode:
        print(f"pipeline failed (exit {r.returncode})\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        return 1
    print(f"daily pipeline, extract → export: {seconds:.0f}s (goal <= {GOAL:.0f}s) "
          f"{'MET' if seconds <= GOAL else 'NOT MET'}")
    return 0 if seconds <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
