"""Every dashboard fully rendered as the viewer, cold and warm; every chart's query as its dashboard asks it.

Runs against the Superset of the current settings (CHISO_HOME, CHISO_SUPERSET_PORT, …), e.g. the running
`chiso up` stack after `make run`:  .venvs/airflow/bin/python bench/superset_render.py
In headless Chromium, logged in as the viewer, each dashboard is opened three times and timed from the
navigation to the moment every chart is drawn (no spinner left, each chart holding its canvas, svg or table):
- cold: a new browser (empty HTTP cache) and every chart query sent with `force` (Superset's result cache
  bypassed: the SQL on the marts runs), as for the first reader after a load;
- warm: the same browser opening it again (its cache and Superset's filled), twice, the slower one counted.
Then each chart-data request the dashboard made is replayed --calls times with `force` through the API as the
viewer: p95 per chart, uncached. Goals (issue 16): warm <= 3 s, cold <= 6 s, every chart's p95 <= 300 ms.
Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))  # the browser waits the dashboard tests use

from browser_wait import CHARTS_RENDERED_JS  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from chiso.settings import Settings  # noqa: E402
from chiso.stack import components as comp  # noqa: E402
from chiso.stack import credentials  # noqa: E402
from chiso.stack.superset_setup import SupersetApi  # noqa: E402

WARM_GOAL_S, COLD_GOAL_S, QUERY_GOAL_MS = 3.0, 6.0, 300.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1600, "height": 1200}


def dashboards(s: Settings) -> list[tuple[str, str, int]]:
    """(slug, title, charts) of every dashboard in the bundle."""
    out = []
    for f in sorted((s.repo / "superset" / "assets" / "dashboards").glob("*.yaml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        charts = sum(1 for v in doc["position"].values() if isinstance(v, dict) and v.get("type") == "CHART")
        out.append((doc["slug"], doc["dashboard_title"], charts))
    return out


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[94] if len(times) > 1 else times[0]


class Viewer:
    """A headless browser logged in as the viewer; `force` makes every chart query bypass Superset's cache."""

    def __init__(self, pw, url: str, user: str, password: str) -> None:
        self.url = url
        self.browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(viewport=VIEWPORT, locale="vi-VN")
        self.page = self.context.new_page()
        self.force = False
        self.chart_requests: list[tuple[str, str]] = []  # (chart id or "filter", body)
        self.page.route("**/api/v1/chart/data**", self._chart_data)
        self.page.goto(f"{url}/login/")
        self.page.locator("#username").wait_for(timeout=60_000)
        # seen on a loaded machine: the form is there but the page never went idle
        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_load_state("networkidle", timeout=30_000)
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.locator("button[type=submit]").first.click()
        self.page.wait_for_url(lambda u: "/login" not in u, timeout=60_000)
        self.page.wait_for_load_state("networkidle", timeout=90_000)  # slow to settle on a loaded machine

    def _chart_data(self, route) -> None:
        body = route.request.post_data
        if route.request.method == "POST" and body:
            self.chart_requests.append((_slice_id(route.request.url), body))
            if self.force:
                data = json.loads(body)
                data["force"] = True
                route.continue_(post_data=json.dumps(data))
                return
        route.continue_()

    def open(self, slug: str, n_charts: int) -> float:
        self.chart_requests.clear()
        t0 = time.perf_counter()
        self.page.goto(f"{self.url}/superset/dashboard/{slug}/", wait_until="commit")
        self.page.wait_for_function(CHARTS_RENDERED_JS, arg=n_charts, timeout=120_000, polling=50)
        elapsed = time.perf_counter() - t0
        errors = self.page.locator('[data-test="chart-grid-component"] [data-test="error-message"], '
                                   '[data-test="chart-grid-component"] .ant-alert-error').count()
        if errors:
            raise RuntimeError(f"{slug}: {errors} chart(s) drew an error")
        return elapsed

    def stop_routing(self) -> None:
        """Warm opens go straight to Superset, as a reader's browser does (routing costs a round trip per request)."""
        self.page.unroute("**/api/v1/chart/data**")

    def close(self) -> None:
        self.browser.close()


def _slice_id(url: str) -> str:
    """The chart a chart-data request is for (its URL's form_data names the slice); a native filter's options
    query names none."""
    from urllib.parse import parse_qs, urlsplit

    form_data = parse_qs(urlsplit(url).query).get("form_data", ["{}"])[0]
    return str(json.loads(form_data).get("slice_id") or "filter")


def replay(api: SupersetApi, requests: list[tuple[str, str]], calls: int) -> list[tuple[str, float, int]]:
    """(chart, p95 ms, rows) of each chart-data request replayed uncached."""
    out = []
    for name, body in requests:
        data = json.loads(body)
        data["force"] = True
        times, rows = [], 0
        for _ in range(calls):
            t = time.perf_counter()
            r = api.http.post("/api/v1/chart/data", json=data)
            times.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
            rows = sum(q.get("rowcount", 0) for q in r.json()["result"])
        out.append((name, p95(times), rows))
    return out


def main() -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20, help="replays of each chart query (uncached)")
    ap.add_argument("slugs", nargs="*", help="only these dashboards (default: every dashboard of the bundle)")
    args = ap.parse_args()

    s = Settings()
    creds = credentials.load(s.home)
    url = f"http://{s.host}:{s.superset_port}"
    api = SupersetApi(url, comp.SUPERSET_VIEWER, creds["superset_viewer"])
    names = {str(c["id"]): c["slice_name"] for c in api.list_all("chart", ("id", "slice_name"))}
    names["filter"] = "bộ lọc (danh sách lựa chọn)"
    missed: list[str] = []
    print(f"Superset {url}, as the viewer {comp.SUPERSET_VIEWER}; viewport {VIEWPORT['width']}×{VIEWPORT['height']}")
    print(f"{'dashboard':32} {'charts':>6} {'cold':>7} {'warm':>7}   chart queries uncached: p95 (worst chart)")
    with sync_playwright() as pw:
        for slug, _title, n in dashboards(s):
            if args.slugs and slug not in args.slugs:
                continue
            viewer = Viewer(pw, url, comp.SUPERSET_VIEWER, creds["superset_viewer"])
            try:
                viewer.force = True
                cold = viewer.open(slug, n)
                bodies = list(viewer.chart_requests)
                viewer.stop_routing()
                warm = max(viewer.open(slug, n) for _ in range(2))
            finally:
                viewer.close()
            queries = replay(api, bodies, args.calls)
            worst = max(queries, key=lambda q: q[1])
            print(f"{slug:32} {n:>6} {cold:>6.2f}s {warm:>6.2f}s   {len(queries)} queries, worst p95 "
                  f"{worst[1]:6.1f} ms ({names.get(worst[0], worst[0])}, {worst[2]} rows)")
            if cold > COLD_GOAL_S:
                missed.append(f"{slug} cold {cold:.2f}s")
            if warm > WARM_GOAL_S:
                missed.append(f"{slug} warm {warm:.2f}s")
            missed += [f"{slug} chart {names.get(q[0], q[0])} p95 {q[1]:.0f} ms"
                       for q in queries if q[1] > QUERY_GOAL_MS]
    print(f"goals: warm <= {WARM_GOAL_S:.0f} s, cold <= {COLD_GOAL_S:.0f} s, every chart query p95 <= "
          f"{QUERY_GOAL_MS:.0f} ms: " + ("met" if not missed else "NOT met: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
