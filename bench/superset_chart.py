"""p95 latency of the ranking chart's data endpoint (`GET /api/v1/chart/{id}/data/`, saved query context).

Runs against the Superset of the current settings (CHISO_HOME, CHISO_SUPERSET_PORT, …), e.g. the running
`chiso up` stack:  .venvs/airflow/bin/python bench/superset_chart.py [--calls 50] [--chart "Bảng xếp hạng"]
Each call passes force=true so Superset's result cache does not answer: the time covers the SQL on the marts.
Exit status 1 when p95 exceeds the goal.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from chiso.settings import Settings
from chiso.stack import credentials
from chiso.stack.superset_setup import api

GOAL_MS = 300.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--chart", default="Bảng xếp hạng")
    ap.add_argument("--cached", action="store_true", help="let Superset's cache answer (no force)")
    args = ap.parse_args()

    s = Settings()
    client = api(s, credentials.load(s.home))
    charts = [c for c in client.list_all("chart", ("id", "slice_name")) if c["slice_name"] == args.chart]
    if len(charts) != 1:
        print(f"chart {args.chart!r} found {len(charts)} times", file=sys.stderr)
        return 2
    path = f"/api/v1/chart/{charts[0]['id']}/data/"
    params = {} if args.cached else {"force": "true"}
    client.http.get(path, params=params).raise_for_status()  # warm-up: connection pool, metadata
    times, rows = [], 0
    for _ in range(args.calls):
        t = time.perf_counter()
        r = client.http.get(path, params=params)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        rows = sum(q["rowcount"] for q in r.json()["result"])
    p95 = statistics.quantiles(times, n=100, method="inclusive")[94]
    print(f"chart {args.chart!r}: {args.calls} calls, {rows} rows, median {statistics.median(times):.1f} ms, "
          f"p95 {p95:.1f} ms, goal {GOAL_MS:.0f} ms, ratio {p95 / GOAL_MS:.2f}")
    return 0 if p95 <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
