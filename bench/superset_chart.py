"""p95 latency of the ranking chart's data endpoint (`POST /api/v1/chart/data`) as the dashboard calls it.

Runs against the Superset of the current settings (CHISO_HOME, CHISO_SUPERSET_PORT, …), e.g. the running
`chiso up` stack after `make run` (the demo window):  .venvs/airflow/bin/python bench/superset_chart.py
The query is the chart's saved query context plus the filters the dashboard applies when it opens (the default
values of its native filters: CDS ranking, month, departments, the latest period), logged in as the viewer.
Two series of --calls each, measured in the same run: `force=true` (Superset's result cache bypassed: the SQL
on the marts runs every time) and cached (what a reader gets after the first view). The goal (300 ms) is judged
on the uncached series. Exit status 1 when its p95 exceeds the goal.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time

import yaml

from chiso.settings import Settings
from chiso.stack import components as comp
from chiso.stack import credentials
from chiso.stack.superset_setup import SupersetApi, api

GOAL_MS = 300.0
DASHBOARD = "xep_hang_chuyen_doi_so.yaml"


def dashboard_filters(s: Settings, client: SupersetApi, qc: dict) -> list[dict]:
    """The dashboard's native filter defaults as query filters; a `defaultToFirstItem` filter takes the first
    of its options in the filter's sort order, restricted by the filters before it (as the filter bar does)."""
    doc = yaml.safe_load((s.repo / "superset" / "assets" / "dashboards" / DASHBOARD).read_text(encoding="utf-8"))
    filters: list[dict] = []
    for nf in doc["metadata"]["native_filter_configuration"]:
        column = nf["targets"][0]["column"]["name"]
        value = (nf.get("defaultDataMask", {}).get("filterState") or {}).get("value")
        if not value and nf.get("controlValues", {}).get("defaultToFirstItem"):
            options = {
                **qc, "force": False, "result_type": "full",
                "queries": [{"columns": [column], "metrics": [], "filters": copy.deepcopy(filters),
                             "orderby": [[column, bool(nf["controlValues"].get("sortAscending", True))]],
                             "row_limit": 1}],
            }
            r = client.http.post("/api/v1/chart/data", json=options)
            r.raise_for_status()
            data = r.json()["result"][0]["data"]
            value = [data[0][column]] if data else None
        if value:
            filters.append({"col": column, "op": "IN", "val": value})
    return filters


def series(client: SupersetApi, body: dict, calls: int) -> tuple[list[float], int]:
    client.http.post("/api/v1/chart/data", json=body).raise_for_status()  # warm-up: pool, metadata, cache fill
    times, rows = [], 0
    for _ in range(calls):
        t = time.perf_counter()
        r = client.http.post("/api/v1/chart/data", json=body)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        rows = sum(q["rowcount"] for q in r.json()["result"])
    return times, rows


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[94]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--chart", default="Bảng xếp hạng")
    args = ap.parse_args()

    s = Settings()
    creds = credentials.load(s.home)
    admin = api(s, creds)
    charts = [c for c in admin.list_all("chart", ("id", "slice_name")) if c["slice_name"] == args.chart]
    if len(charts) != 1:
        print(f"chart {args.chart!r} found {len(charts)} times", file=sys.stderr)
        return 2
    qc = json.loads(admin.get(f"/api/v1/chart/{charts[0]['id']}")["result"]["query_context"])
    viewer = SupersetApi(f"http://{s.host}:{s.superset_port}", comp.SUPERSET_VIEWER, creds["superset_viewer"])
    filters = dashboard_filters(s, viewer, qc)
    body = copy.deepcopy(qc)
    body["queries"][0]["filters"] = [*body["queries"][0].get("filters", []), *filters]

    print(f"chart {args.chart!r}, dashboard filters: "
          + "; ".join(f"{f['col']} = {', '.join(map(str, f['val']))}" for f in filters))
    uncached, rows = series(viewer, {**body, "force": True}, args.calls)
    cached, _ = series(viewer, {**body, "force": False}, args.calls)
    for label, times in (("uncached (force)", uncached), ("cached", cached)):
        print(f"  {label:17} {args.calls} calls, {rows} rows, median {statistics.median(times):6.1f} ms, "
              f"p95 {p95(times):6.1f} ms")
    ratio = p95(uncached) / GOAL_MS
    print(f"uncached p95 / goal {GOAL_MS:.0f} ms = {ratio:.2f} ({'met' if ratio <= 1 else 'NOT met'})")
    return 0 if ratio <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
