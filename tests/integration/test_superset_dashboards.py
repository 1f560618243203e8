"""The Sở TT&TT dashboards in a real Superset 6.1 over the fake marts (tests/integration/test_superset_fake_marts.py).

One Superset + PostgreSQL on their own home and ports (CHISO_TEST_SUPERSET_HOME, 5612 / 8612 unless
CHISO_TEST_SUPERSET_PG_PORT / CHISO_TEST_SUPERSET_PORT say otherwise) for the module; first start ≈ 1 min.
The same checks run against the full stack with pipeline data in tests/e2e/test_superset_stack.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import improvement_dashboard as improve
import pytest
import test_superset_fake_marts as fake
import yaml
from browser_wait import CHARTS_RENDERED_JS, page_screenshot, settle

from chiso.settings import REPO_ROOT, Settings
from chiso.stack import components as comp
from chiso.stack.superset_setup import VIEWER_PERMISSIONS, VIEWER_ROLE, SupersetApi, api, bundle_uuids, import_assets

ASSETS = REPO_ROOT / "superset" / "assets"
DASHBOARDS = {  # slug -> (title, charts on it)
    "xep-hang-chuyen-doi-so": ("Xếp hạng chuyển đổi số", 5),
    "chi-so-766": ("Chỉ số phục vụ người dân, doanh nghiệp (766)", 9),
    "van-ban-dien-tu-chu-ky-so": ("Văn bản điện tử & chữ ký số", 9),
    "lich-su-don-vi": ("Lịch sử đơn vị qua sắp xếp", 4),
    "sap-xep-don-vi-hanh-chinh": ("Sắp xếp đơn vị hành chính", 3),
    "chat-luong-du-lieu": ("Chất lượng dữ liệu", 5),
    "doi-chieu-cong-dvc-quoc-gia": ("Đối chiếu với Cổng DVC quốc gia", 4),
    "can-lam-gi-de-tang-diem": ("Cần làm gì để tăng điểm", 5),
}
CURRENT, HISTORICAL = "Theo đơn vị hiện nay", "Theo đơn vị tại thời điểm"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class SupersetTarget:
    url: str
    admin: SupersetApi
    viewer_user: str
    viewer_password: str
    settings: Settings | None = None
    creds: dict | None = None


@pytest.fixture(scope="module")
def superset_dev(artifacts_dir: Path) -> Iterator[SupersetTarget]:
    from test_superset_fake_marts import load_into

    from chiso.stack.supervisor import Stack

    keep = os.environ.get("CHISO_TEST_SUPERSET_HOME")
    home = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="chiso-superset-test-"))
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)  # noqa: S103 - the postgres OS user must traverse it
    s = Settings(home=home, pg_port=int(os.environ.get("CHISO_TEST_SUPERSET_PG_PORT", "5612")),
                 superset_port=int(os.environ.get("CHISO_TEST_SUPERSET_PORT", "8612")))
    stack = Stack(s)
    try:
        stack._up_postgres()
        load_into(s, stack.creds)
        stack._up_superset()  # imports the bundle and makes the viewer, as `chiso up` does
        yield SupersetTarget(f"http://{s.host}:{s.superset_port}", api(s, stack.creds), comp.SUPERSET_VIEWER,
                             stack.creds["superset_viewer"], s, stack.creds)
    finally:
        stack.down()
        log = s.logs / "superset.log"  # kept for the open case of the viewer sent back to the login page
        if log.exists():
            shutil.copy(log, artifacts_dir / "superset-fixture.log")
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------- checks shared with the e2e module


def check_assets_once(target: SupersetTarget) -> None:
    """Every dashboard, chart and dataset of the bundle exists exactly once (by uuid and by name)."""
    expected = bundle_uuids(ASSETS)
    for kind, name_col in (("dashboard", "dashboard_title"), ("chart", "slice_name"), ("dataset", "table_name")):
        rows = target.admin.list_all(kind, ("id", "uuid", name_col))
        uuids = [str(r["uuid"]) for r in rows if str(r["uuid"]) in expected[kind]]
        assert sorted(uuids) == sorted(expected[kind]), f"{kind}: {len(uuids)} of {len(expected[kind])}"
        ours = [r[name_col] for r in rows if str(r["uuid"]) in expected[kind]]
        dupes = {n for n in ours if [r[name_col] for r in rows].count(n) > 1}
        assert not dupes, f"{kind} names present more than once: {dupes}"
    titles = {r["dashboard_title"] for r in target.admin.list_all("dashboard", ("id", "uuid", "dashboard_title"))}
    assert {t for t, _ in DASHBOARDS.values()} <= titles


def check_chart_data(client: SupersetApi) -> dict[str, int]:
    """Every chart's saved query context runs without error and returns rows."""
    rows = {}
    for chart in client.list_all("chart", ("id", "uuid", "slice_name")):
        r = client.http.get(f"/api/v1/chart/{chart['id']}/data/")
        assert r.status_code == 200, f"{chart['slice_name']}: {r.status_code} {r.text[:500]}"
        results = r.json()["result"]
        assert all(not q.get("error") for q in results), f"{chart['slice_name']}: {results}"
        rows[chart["slice_name"]] = sum(q["rowcount"] for q in results)
    empty = [name for name, n in rows.items() if n == 0]
    assert not empty, f"charts without rows: {empty}"
    return rows


def _post_data(client: SupersetApi, query_context: dict, what: str) -> list[dict]:
    r = client.http.post("/api/v1/chart/data", json={**query_context, "force": True})  # the marts as they are now
    assert r.status_code == 200, f"{what}: {r.status_code} {r.text[:500]}"
    results = r.json()["result"]
    assert all(not q.get("error") for q in results), f"{what}: {results}"
    return [row for q in results for row in q["data"]]


@dataclass
class DashboardView:
    """A dashboard as a reader opens it: its native filters' values and each chart's rows under them."""

    values: dict[str, list]  # filter name -> values
    rows: dict[str, list[dict]]  # slice name -> rows


def filter_options(client: SupersetApi, f: dict, parent_filters: list[dict]) -> list:
    """A select filter's options in its own order (its sort metric, else its values), given its parents' values."""
    target = f["targets"][0]
    col = target["column"]["name"]
    dataset_id = target.get("datasetId") or next(
        d["id"] for d in client.list_all("dataset", ("id", "uuid")) if str(d["uuid"]) == target["datasetUuid"])
    cv = f["controlValues"]
    sort = cv.get("sortMetric")
    # the filter's own "pre-filter available values" (SQL), as Superset adds them to its options query
    pre = " AND ".join(f"({a['sqlExpression']})" for a in f.get("adhoc_filters") or [] if a["expressionType"] == "SQL")
    q = {"columns": [col], "metrics": [sort] if sort else [], "orderby": [[sort or col, cv.get("sortAscending", True)]],
         "filters": parent_filters, "extras": {"where": pre, "having": ""}, "row_limit": 10000}
    ctx = {"datasource": {"id": dataset_id, "type": "table"}, "queries": [q], "result_format": "json",
           "result_type": "full", "form_data": {}}
    return [row[col] for row in _post_data(client, ctx, f"options of {f['name']}")]


def dashboard_view(client: SupersetApi, slug: str, choose: dict[str, list] | None = None,
                   raw: bool = False) -> DashboardView:
    """Run every chart of a dashboard with its native filters as a reader gets them: the values in `choose`
    (filter name -> values), else the filter's default, else (a "first item" filter) its first option given its
    parents' values; each chart gets the filters whose scope holds it, as the dashboard sends them. `raw`: the
    query's rows before the chart's post-processing (a bar or line chart's rows not pivoted into series)."""
    choose = choose or {}
    dash = client.get(f"/api/v1/dashboard/{slug}")["result"]
    filters = json.loads(dash["json_metadata"])["native_filter_configuration"]
    by_id = {f["id"]: f for f in filters}
    values: dict[str, list] = {}

    def clause(f: dict) -> list[dict]:
        v = resolve(f)
        return [{"col": f["targets"][0]["column"]["name"], "op": "IN", "val": v}] if v else []

    def resolve(f: dict) -> list:
        if f["id"] not in values:
            default = (f.get("defaultDataMask") or {}).get("filterState", {}).get("value")
            if f["name"] in choose:
                values[f["id"]] = list(choose[f["name"]])
            elif default:
                values[f["id"]] = list(default)
            elif f["controlValues"].get("defaultToFirstItem"):
                parents = [c for p in f.get("cascadeParentIds") or [] for c in clause(by_id[p])]
                options = filter_options(client, f, parents)
                assert options, f"{slug}: filter {f['name']} has no option to default to"
                values[f["id"]] = options[:1]
            else:
                values[f["id"]] = []
        return values[f["id"]]

    position = json.loads(dash["position_json"])
    rows: dict[str, list[dict]] = {}
    for cell in position.values():
        if not (isinstance(cell, dict) and cell.get("type") == "CHART"):
            continue
        chart_id = cell["meta"]["chartId"]
        extra = [c for f in filters if chart_id not in f["scope"]["excluded"] for c in clause(f)]
        chart = client.get(f"/api/v1/chart/{chart_id}")["result"]
        ctx = json.loads(chart["query_context"])
        for q in ctx["queries"]:
            q["filters"] = q.get("filters", []) + extra
            if raw:
                q.pop("post_processing", None)
        ctx["form_data"]["extra_form_data"] = {"filters": extra}
        rows[chart["slice_name"]] = _post_data(client, ctx, f"{slug} / {chart['slice_name']}")
    return DashboardView({f["name"]: resolve(f) for f in filters}, rows)


def _all_newly_ranked(view: DashboardView) -> bool:
    """Does the view's ranking table list units and every one as ranked for the first time (no previous rank)?"""
    rows = view.rows.get("Bảng xếp hạng") or []
    return bool(rows) and all(r["rank_change_label"] == "mới xếp hạng" for r in rows)


def _no_previous_period(view: DashboardView) -> bool:
    """Does the unit's summary say it has no figures for the previous period?"""
    rows = view.rows.get("Điểm hiện nay và khoảng cách lên xếp loại, lên hạng") or []
    return bool(rows) and all(r["previous_total_text"] == "Không có số liệu kỳ trước" for r in rows)


# Charts against the previous period, and what else on the dashboard says that period has nothing to compare with:
# by the units of the time, a period right after 1/7/2025 holds only new units.
AGAINST_PREVIOUS = {
    "Đơn vị nào tăng, giảm hạng nhiều nhất so với kỳ trước?": _all_newly_ranked,
    "Điểm từng chỉ số so với kỳ trước": _no_previous_period,
}


def check_dashboard_defaults(client: SupersetApi) -> dict[str, DashboardView]:
    """Every dashboard opens, in either basis, on charts that all have rows, the figures by today's units by
    default; a ranking table holds each unit once, ranked among exactly the units it lists."""
    views = {}
    for slug in DASHBOARDS:
        view = dashboard_view(client, slug)
        if "Cơ sở số liệu" in view.values:
            assert view.values["Cơ sở số liệu"] == [CURRENT], slug
            historical = dashboard_view(client, slug, {"Cơ sở số liệu": [HISTORICAL]})
            empty = [name for name, rows in historical.rows.items() if not rows]
            empty = [name for name in empty if not (name in AGAINST_PREVIOUS and AGAINST_PREVIOUS[name](historical))]
            assert not empty, f"{slug} by the units of the time: charts without rows: {empty}"
        empty = [name for name, rows in view.rows.items() if not rows]
        assert not empty, f"{slug}: charts without rows when opened: {empty}"
        views[slug] = view
    for name in ("Bảng xếp hạng", "Xếp hạng xã, phường kỳ này"):
        rows = views["xep-hang-chuyen-doi-so"].rows[name]
        units = [r["unit_name"] for r in rows]
        assert len(units) == len(set(units)), f"{name}: a unit listed twice: {units}"
        assert {int(r["rank_of_total"].split("/")[1]) for r in rows} == {len(rows)}, name
    return views


def viewer_session(target: SupersetTarget) -> SupersetApi:
    return SupersetApi(target.url, target.viewer_user, target.viewer_password)


def _login(page, target: SupersetTarget, attempts: int = 3) -> None:
    """Log in as the viewer through the login form.

    The form is sent only once the login page has no request in flight: Flask re-sends the session cookie with
    every answer, so an answer to a request the login page made before the form was sent, arriving after the
    login's own answer, put the anonymous session back (the browser then landed on the login page again, now and
    then on a busy machine). A page still on the login form after a minute is reported and the login retried."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, attempts + 1):
        page.goto(f"{target.url}/login/")
        page.locator("#username").wait_for(timeout=60_000)
        settle(page)
        page.fill("#username", target.viewer_user)
        page.fill("#password", target.viewer_password)
        page.locator("button[type=submit], button:has-text('Sign in'), button:has-text('Đăng nhập')").first.click()
        try:
            page.wait_for_url(lambda u: "/login" not in u, timeout=60_000)
            settle(page)
            if "/login" not in page.url:
                return
        except PlaywrightTimeout:
            pass
        text = page.locator("body").inner_text()[:300].replace("\n", " | ")
        print(f"superset: login attempt {attempt} of {attempts} still at {page.url}; page: {text!r}", file=sys.stderr)
    raise AssertionError(f"the viewer could not log in to {target.url} in {attempts} attempts")


def _open_dashboard(page, target: SupersetTarget, path: str, title: str, shot_stem: Path, attempts: int = 2) -> None:
    """Open a dashboard and wait for its title; on failure keep a screenshot and say what the page showed.

    Known and open: inside the full test session (never alone, never on the e2e stack) the fixture's Superset
    has sent the freshly logged-in viewer back to its login page (CI, 2 of 4 runs). That is retried once with a
    new login so the rendering checks still run, and reported on stderr so it stays visible."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, attempts + 1):
        page.goto(f"{target.url}{path}", wait_until="domcontentloaded")
        if "/login" in page.url and attempt < attempts:
            cookies = [(c["name"], c["path"], c.get("expires"), len(c["value"])) for c in page.context.cookies()]
            print(f"superset: viewer sent to the login page opening {path} (cookies: {cookies}); logging in again",
                  file=sys.stderr)
            _login(page, target)
            continue
        try:
            page.get_by_text(title).first.wait_for(timeout=120_000)
            return
        except PlaywrightTimeout as exc:
            if attempt == attempts:
                page.screenshot(path=f"{shot_stem}-failed.png", full_page=True)
                text = page.locator("body").inner_text()[:1000]
                msg = f"{title!r} not shown at {page.url} after {attempts} loads; page: {text!r}"
                raise AssertionError(msg) from exc


def browse_dashboards(target: SupersetTarget, shots: Path) -> dict[str, dict]:
    """Log in as the viewer in headless Chromium, open every dashboard, wait for its charts, screenshot."""
    from playwright.sync_api import sync_playwright

    report: dict[str, dict] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200}, locale="vi-VN")
            _login(page, target)
            data_errors: list[str] = []
            page.on("response", lambda r: data_errors.append(f"{r.status} {r.url}")
                    if "/api/v1/chart/data" in r.url and r.status >= 400 else None)
            for slug, (title, n_charts) in DASHBOARDS.items():
                data_errors.clear()
                _open_dashboard(page, target, f"/superset/dashboard/{slug}/", title, shots / f"superset-{slug}")
                charts = page.locator('[data-test="chart-grid-component"]')
                charts.nth(n_charts - 1).wait_for(timeout=60_000)
                # every chart has rendered: no spinner left and each holds a canvas, svg or table
                page.wait_for_function(CHARTS_RENDERED_JS, arg=n_charts, timeout=120_000)
                settle(page)
                errors = page.locator(
                    '[data-test="chart-grid-component"] .ant-alert-error, '
                    '[data-test="chart-grid-component"] [data-test="error-message"], '
                    '[data-test="chart-grid-component"] .alert-danger'
                )
                shot = shots / f"superset-{slug}.png"
                report[slug] = {"charts": charts.count(), "errors": errors.count(),
                                "error_text": [errors.nth(i).inner_text()[:300] for i in range(errors.count())],
                                "data_errors": list(data_errors), "screenshot": shot}
                page_screenshot(page, shot)
            # writes from the viewer's own browser session, with the page's CSRF token
            chart_id = target.admin.list_all("chart", ("id", "slice_name"))[0]["id"]
            report["writes"] = page.evaluate("""async (chartId) => {
                const token = document.querySelector('#csrf_token')?.value;
                const h = {'Content-Type': 'application/json', 'X-CSRFToken': token};
                const put = await fetch(`/api/v1/chart/${chartId}`,
                    {method: 'PUT', headers: h, body: JSON.stringify({slice_name: 'bị sửa'})});
                const sql = await fetch('/api/v1/sqllab/execute/', {method: 'POST', headers: h,
                    body: JSON.stringify({database_id: 1, sql: 'SELECT 1', runAsync: false})});
                const del = await fetch(`/api/v1/chart/${chartId}`, {method: 'DELETE', headers: h});
                return {token: !!token, put: put.status, sql: sql.status, del: del.status};
            }""", chart_id)
            report["writes"]["chart_id"] = chart_id
            # SQL Lab in the viewer's browser session: refused (403 or sent away), no SQL editor
            resp = page.goto(f"{target.url}/sqllab/")
            settle(page)
            page.screenshot(path=str(shots / "superset-sqllab-viewer.png"))
            report["sqllab"] = {"status": resp.status if resp else None, "url": page.url,
                                "editor": page.locator(".ace_editor, [data-test='sql-editor-tabs']").count()}
        finally:
            browser.close()
    return report


def check_viewer_refused(target: SupersetTarget) -> None:
    """The viewer reads dashboards and chart data but gets no SQL Lab, no editing, no other database."""
    viewer = viewer_session(target)
    dashboards = viewer.list_all("dashboard", ("id", "dashboard_title"))
    assert {t for t, _ in DASHBOARDS.values()} <= {d["dashboard_title"] for d in dashboards}

    assert viewer.http.get("/api/v1/sqllab/").status_code in (401, 403)
    assert viewer.http.get("/api/v1/saved_query/").status_code in (401, 403)
    r = viewer.http.get("/api/v1/database/")
    assert r.status_code in (401, 403) or r.json().get("count", 0) == 0

    role = target.admin.get("/api/v1/security/roles/",
                            params={"q": f"(filters:!((col:name,opr:eq,value:{VIEWER_ROLE})))"})
    perms = target.admin.get(f"/api/v1/security/roles/{role['result'][0]['id']}/permissions/")["result"]
    names = {(p["permission_name"], p["view_menu_name"]) for p in perms}
    datasets = {f"[{d['database']['database_name']}].[{d['table_name']}](id:{d['id']})"
                for d in target.admin.list_all("dataset", ("id", "uuid", "table_name", "database.database_name"))
                if str(d["uuid"]) in bundle_uuids(ASSETS)["dataset"]}
    extra = names - set(VIEWER_PERMISSIONS) - {("datasource_access", d) for d in datasets}
    assert not extra, f"the viewer role holds more than it needs: {sorted(extra)}"
    assert {("datasource_access", d) for d in datasets} <= names
    users = target.admin.get("/api/v1/security/users/",
                             params={"q": f"(filters:!((col:username,opr:eq,value:{target.viewer_user})))"})
    assert [r["name"] for r in users["result"][0]["roles"]] == [VIEWER_ROLE]
    check_viewer_cannot_export(target, viewer)


def check_viewer_cannot_export(target: SupersetTarget, viewer: SupersetApi) -> None:
    """scale.md: the viewer exports nothing beyond its dashboards. A chart's data as JSON (what its dashboard draws)
    is served; the same query as CSV or XLSX is refused, as are the export bundles of charts, dashboards, datasets,
    databases and all assets (SQL Lab's execution is tried from the viewer's browser, with its CSRF token:
    browse_dashboards)."""
    ours = bundle_uuids(ASSETS)
    chart = next(c for c in target.admin.list_all("chart", ("id", "uuid")) if str(c["uuid"]) in ours["chart"])
    dashboard = next(d for d in target.admin.list_all("dashboard", ("id", "uuid"))
                     if str(d["uuid"]) in ours["dashboard"])
    dataset = next(d for d in target.admin.list_all("dataset", ("id", "uuid")) if str(d["uuid"]) in ours["dataset"])
    context = json.loads(target.admin.get(f"/api/v1/chart/{chart['id']}")["result"]["query_context"])

    def data(fmt: str, client: SupersetApi = viewer) -> int:
        return client.http.post("/api/v1/chart/data", json={**context, "result_format": fmt}).status_code

    assert data("json") == 200
    assert data("csv", target.admin) == 200  # the check below refuses the viewer, not the format
    refused = {
        "chart data as CSV": data("csv"),
        "chart data as XLSX": data("xlsx"),
        "saved chart data as CSV": viewer.http.get(f"/api/v1/chart/{chart['id']}/data/",
                                                   params={"format": "csv"}).status_code,
        "legacy explore CSV": viewer.http.get("/superset/explore_json/", params={
            "csv": "true", "form_data": json.dumps({"slice_id": chart["id"]})}).status_code,
        "legacy explore XLSX": viewer.http.get("/superset/explore_json/", params={
            "xlsx": "true", "form_data": json.dumps({"slice_id": chart["id"]})}).status_code,
    }
    for kind, pk in (("chart", chart["id"]), ("dashboard", dashboard["id"]), ("dataset", dataset["id"]),
                     ("database", 1)):
        refused[f"{kind} export"] = viewer.http.get(f"/api/v1/{kind}/export/", params={"q": f"!({pk})"}).status_code
    refused["dashboard as example"] = viewer.http.get(f"/api/v1/dashboard/{dashboard['id']}/export_as_example/"
                                                      ).status_code
    refused["assets export"] = viewer.http.get("/api/v1/assets/export/").status_code
    allowed = {what: status for what, status in refused.items() if status not in (401, 403)}
    assert not allowed, f"the viewer was not refused: {allowed}"


# ---------------------------------------------------------------- tests


def test_each_asset_exists_once_after_reimport(superset_dev: SupersetTarget) -> None:
    import_assets(superset_dev.settings, superset_dev.creds)  # a warm start imports again
    check_assets_once(superset_dev)


def test_every_chart_returns_rows(superset_dev: SupersetTarget) -> None:
    rows = check_chart_data(superset_dev.admin)
    assert len(rows) == len(bundle_uuids(ASSETS)["chart"])


def test_viewer_reads_chart_data(superset_dev: SupersetTarget) -> None:
    check_chart_data(viewer_session(superset_dev))


def test_viewer_refused_sql_lab_and_editing(superset_dev: SupersetTarget) -> None:
    check_viewer_refused(superset_dev)


@pytest.mark.browser
def test_dashboards_render_for_viewer(superset_dev: SupersetTarget, artifacts_dir: Path) -> None:
    report = browse_dashboards(superset_dev, artifacts_dir)
    for slug, (_title, n_charts) in DASHBOARDS.items():
        got = report[slug]
        assert got["charts"] == n_charts, (slug, got)
        assert got["errors"] == 0 and not got["data_errors"], (slug, got)
        assert got["screenshot"].stat().st_size > 20_000
    writes = report["writes"]
    assert writes["token"] and writes["put"] == 403 and writes["del"] == 403 and writes["sql"] in (401, 403), writes
    chart = superset_dev.admin.get(f"/api/v1/chart/{writes['chart_id']}")["result"]
    assert chart["slice_name"] != "bị sửa"
    sqllab = report["sqllab"]
    assert sqllab["editor"] == 0 and (sqllab["status"] in (401, 403) or "/sqllab" not in sqllab["url"]), sqllab


def test_ranking_marks_rank_changes(superset_dev: SupersetTarget) -> None:
    """The ranking table shows ▲/▼ for units that moved and its rows follow the rank order."""
    chart = next(c for c in superset_dev.admin.list_all("chart", ("id", "slice_name"))
                 if c["slice_name"] == "Bảng xếp hạng")
    data = superset_dev.admin.get(f"/api/v1/chart/{chart['id']}/data/")["result"][0]["data"]
    labels = {row["rank_change_label"] for row in data}
    assert any(lbl.startswith("▲") for lbl in labels) and any(lbl.startswith("▼") for lbl in labels), labels
    ranks = [row["rank"] for row in data]
    assert ranks == sorted(ranks)


def test_changed_chart_file_updates_chart(superset_dev: SupersetTarget, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(ASSETS, assets)
    path = assets / "charts" / "rank_scores.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    committed = doc["slice_name"]
    doc["slice_name"] = "Điểm theo đơn vị (đã sửa)"
    doc["params"]["row_limit"] = 7
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    s = superset_dev.settings
    try:
        import_assets(s, superset_dev.creds, assets)
        rows = [c for c in superset_dev.admin.list_all("chart", ("id", "uuid", "slice_name", "params"))
                if str(c["uuid"]) == doc["uuid"]]
        assert len(rows) == 1 and rows[0]["slice_name"] == "Điểm theo đơn vị (đã sửa)"
        data = superset_dev.admin.get(f"/api/v1/chart/{rows[0]['id']}/data/")["result"][0]
        assert data["rowcount"] <= 7
    finally:
        import_assets(s, superset_dev.creds)
    restored = [c for c in superset_dev.admin.list_all("chart", ("id", "uuid", "slice_name"))
                if str(c["uuid"]) == doc["uuid"]]
    assert [c["slice_name"] for c in restored] == [committed]


# ---------------------------------------------------------------- today's structure (reform.md), on the fake marts


def _marts(target: SupersetTarget):
    import psycopg

    from chiso.stack import postgres

    return psycopg.connect(postgres.uri(target.settings, "chiso_reader", target.creds["pg_reader"]))


def test_dashboards_open_on_rows_in_current_basis(superset_dev: SupersetTarget) -> None:
    views = check_dashboard_defaults(superset_dev.admin)
    ranking = views["xep-hang-chuyen-doi-so"]
    assert ranking.values["Kỳ"] == ["2025 – Tháng 09 (tạm tính)"]  # this month, evaluated to date
    communes = [u for u in fake.build_units() if u.unit_type == "UBND_XA" and u.valid_on(fake.LAST_DAY)]
    listed = sorted(r["unit_name"] for r in ranking.rows["Xếp hạng xã, phường kỳ này"])
    assert listed == sorted(u.name for u in communes)


def test_commune_ranking_moves_across_the_reform_in_the_current_basis(superset_dev: SupersetTarget) -> None:
    july = {"Loại kỳ": ["Tháng"], "Kỳ": ["2025 – Tháng 07"]}
    current = dashboard_view(superset_dev.admin, "xep-hang-chuyen-doi-so", july).rows["Xếp hạng xã, phường kỳ này"]
    assert len(current) == 5 and all(r["previous_rank"] is not None for r in current), current
    assert {r["rank_change_label"][0] for r in current} <= {"▲", "▼", "="}
    historical = dashboard_view(superset_dev.admin, "xep-hang-chuyen-doi-so",
                                {**july, "Cơ sở số liệu": [HISTORICAL]}).rows["Xếp hạng xã, phường kỳ này"]
    assert len(historical) == 5 and {r["rank_change_label"] for r in historical} == {"mới xếp hạng"}


def test_district_rankings_only_where_districts_existed(superset_dev: SupersetTarget) -> None:
    client = superset_dev.admin
    dash = client.get("/api/v1/dashboard/xep-hang-chuyen-doi-so")["result"]
    group = next(f for f in json.loads(dash["json_metadata"])["native_filter_configuration"]
                 if f["name"] == "Nhóm đơn vị")

    def groups(basis: str, period: str) -> list:
        return filter_options(client, group, [{"col": "basis_label", "op": "IN", "val": [basis]},
                                              {"col": "period_label", "op": "IN", "val": [period]}])

    assert "Huyện, thị xã, thành phố" in groups(HISTORICAL, "2025 – Tháng 06")
    assert "Huyện, thị xã, thành phố" not in groups(HISTORICAL, "2025 – Tháng 07")
    assert "Huyện, thị xã, thành phố" not in groups(CURRENT, "2025 – Tháng 06")
    june = dashboard_view(client, "xep-hang-chuyen-doi-so", {
        "Cơ sở số liệu": [HISTORICAL], "Kỳ": ["2025 – Tháng 06"], "Nhóm đơn vị": ["Huyện, thị xã, thành phố"]})
    districts = [u.name for u in fake.build_units() if u.unit_type == "UBND_HUYEN"]
    assert sorted(r["unit_name"] for r in june.rows["Bảng xếp hạng"]) == sorted(districts)


def test_province_figure_is_one_province_in_either_basis(superset_dev: SupersetTarget) -> None:
    """No unit chosen: the whole province, never a sum over the committees of a period (Q2/2025 has three by the
    units of the time: the two old provinces and, by today's units, the merged one)."""
    q2 = {"Loại kỳ": ["Quý"], "Kỳ": ["2025 – Quý 2"]}
    top = fake._code(fake.NEW_PROVINCE, 0, 0)
    with _marts(superset_dev) as conn:
        def total(basis: str, valid_from) -> float:
            return float(conn.execute(
                "SELECT total_points FROM marts.rpt_qd766_scores WHERE basis = %s AND unit_code = %s"
                " AND unit_valid_from = %s AND scope = 'area' AND period_type = 'quarter'"
                " AND period_start = '2025-04-01'", (basis, top, valid_from)).fetchone()[0])

        expected = {CURRENT: total("current", fake.REFORM), HISTORICAL: total("historical", fake.REGISTER_START)}
    for basis, value in expected.items():
        view = dashboard_view(superset_dev.admin, "chi-so-766", {**q2, "Cơ sở số liệu": [basis]})
        [row] = view.rows["Tổng điểm QĐ 766"]
        assert float(row["total_points"]) == pytest.approx(value), basis
        groups = view.rows["Điểm 6 nhóm chỉ số so với điểm tối đa"]
        assert sum(float(r["points"]) for r in groups) == pytest.approx(value), basis
    # a chart shown without the basis filter (a saved chart, an API call) still reads today's units only
    [row] = dashboard_view(superset_dev.admin, "chi-so-766", {**q2, "Cơ sở số liệu": []}).rows["Tổng điểm QĐ 766"]
    assert float(row["total_points"]) == pytest.approx(expected[CURRENT])


QD766_BARS = "Đơn vị nào đứng đầu, đứng cuối nhóm về tổng điểm QĐ 766?"
QD766_TABLE = "Hạng và tổng điểm QĐ 766 của mọi đơn vị trong nhóm"
ESIGN_BARS = "Đơn vị nào ký số cá nhân nhiều nhất, ít nhất (chữ ký / cán bộ / ngày làm việc)?"
ESIGN_TABLE = "Chữ ký số cá nhân mỗi cán bộ mỗi ngày của mọi đơn vị trong nhóm"
NEIGHBOURS = "Đơn vị đã chọn và các đơn vị xếp liền trên, liền dưới: thứ hạng qua các kỳ"


def _ranked(conn, ranking: str, group: str | None, start: str) -> dict[str, int]:
    """Today's units' ranks (current basis, month) by name; no group: the group with the most units."""
    rows = conn.execute(
        "SELECT u.unit_name, r.rank, r.unit_group, r.units_ranked FROM marts.rpt_unit_rankings r"
        " JOIN marts.dim_units u ON u.unit_code = r.unit_code AND u.unit_valid_from = r.unit_valid_from"
        " AND u.is_current WHERE r.basis = 'current' AND r.ranking_code = %s AND r.period_type = 'month'"
        " AND r.period_start = %s", (ranking, start)).fetchall()
    group = group or max(rows, key=lambda r: r[3])[2]
    return {name: rank for name, rank, g, _n in rows if g == group}


def test_long_lists_show_top_and_bottom_with_the_chosen_unit(superset_dev: SupersetTarget) -> None:
    """Top/bottom bars and the searchable table: the largest group by default, the chosen unit's group (and the unit
    marked) once one is chosen; every unit of the group in the table with its rank."""
    client = superset_dev.admin
    default = dashboard_view(client, "chi-so-766", raw=True)
    assert default.values["Kỳ"] == ["2025 – Tháng 09 (tạm tính)"]
    with _marts(superset_dev) as conn:
        communes = _ranked(conn, "QD766", None, "2025-09-01")
        departments = _ranked(conn, "QD766", "SO_NGANH", "2025-09-01")
    assert len(communes) == 5 and len(departments) == 4  # the fake province: 5 communes, 4 departments today
    table = default.rows[QD766_TABLE]
    assert {r["unit_label"]: r["rank_of_total"] for r in table} == {
        n: f"{k}/{len(communes)}" for n, k in communes.items()}
    assert [r["rank_of_total"] for r in table] == sorted((r["rank_of_total"] for r in table),
                                                         key=lambda s: int(s.split("/")[0]))
    bars = [_bar(r) for r in default.rows[QD766_BARS]]  # every unit is within the top or bottom ten of five
    assert {name: place for _, place, name in bars} == communes
    assert not any(chosen for chosen, _, _ in bars)

    chosen = dashboard_view(client, "chi-so-766", {"Đơn vị": ["Sở Tư pháp"]}, raw=True)
    assert {r["unit_label"] for r in chosen.rows[QD766_TABLE]} == set(departments)
    marked = {name: is_chosen for is_chosen, _, name in map(_bar, chosen.rows[QD766_BARS])}
    assert set(marked) == set(departments) and marked.pop("Sở Tư pháp")
    assert not any(marked.values())

    edoc = dashboard_view(client, "van-ban-dien-tu-chu-ky-so", {"Đơn vị": ["Sở Tư pháp"]}, raw=True)
    places = edoc.rows[ESIGN_TABLE]
    assert "Sở Tư pháp" in {r["unit_label"] for r in places}
    assert {r["unit_label"] for r in places} <= set(departments)
    # places by value, highest first: 1 + the number of units with a higher value
    values = [float(r["value"]) for r in places]
    for r in places:
        higher = sum(v > float(r["value"]) for v in values)
        assert r["place_of_total"] == f"{higher + 1}/{len(places)}", places
    esign = {name: (is_chosen, place) for is_chosen, place, name in map(_bar, edoc.rows[ESIGN_BARS])}
    assert esign["Sở Tư pháp"][0] and set(esign) == {r["unit_label"] for r in places}
    assert {name: f"{place}/{len(places)}" for name, (_, place) in esign.items()} == {
        r["unit_label"]: r["place_of_total"] for r in places}


def _bar(row: dict) -> tuple[bool, int, str]:
    """(chosen, place, unit) of a top/bottom bar's label: "▶ 3. Sở Tư pháp" is the chosen unit, third of its group."""
    label = row["bar_label"]
    chosen = label.startswith("▶ ")
    place, name = label.removeprefix("▶ ").split(". ", 1)
    return chosen, int(place), name


@pytest.mark.parametrize(("slug", "chart", "metric"), [
    ("chi-so-766", QD766_BARS, "score"),
    ("van-ban-dien-tu-chu-ky-so", ESIGN_BARS, "value"),
    ("xep-hang-chuyen-doi-so", "Đơn vị nào điểm cao nhất, thấp nhất nhóm trong kỳ?", "score"),
    ("xep-hang-chuyen-doi-so", "Đơn vị nào tăng, giảm hạng nhiều nhất so với kỳ trước?", "rank_change"),
])
def test_top_and_bottom_bars_are_in_order_of_their_value(superset_dev: SupersetTarget, slug, chart, metric) -> None:
    """Issue 16: a long list's bars read in order of value (the plugin draws the first row at the bottom of a
    horizontal chart: ascending puts the highest on top), not in alphabetical order of the units' names."""
    rows = dashboard_view(superset_dev.admin, slug, {"Đơn vị": ["Sở Tư pháp"]}).rows[chart]
    values = [r[metric] for r in rows]
    assert len(values) >= 3, rows
    assert values == sorted(values), rows
    if metric != "rank_change":  # places in the group run opposite to the values
        assert [_bar(r)[1] for r in rows] == sorted((_bar(r)[1] for r in rows), reverse=True), rows


def test_rank_chart_follows_the_chosen_unit_and_its_neighbours(superset_dev: SupersetTarget) -> None:
    client = superset_dev.admin
    with _marts(superset_dev) as conn:
        communes = _ranked(conn, "CDS", None, "2025-09-01")
        departments = _ranked(conn, "CDS", "SO_NGANH", "2025-09-01")
        months = conn.execute("SELECT count(DISTINCT period_start) FROM marts.rpt_unit_rankings"
                              " WHERE basis = 'current' AND ranking_code = 'CDS' AND period_type = 'month'"
                              " AND unit_group = 'SO_NGANH'").fetchone()[0]
    # no unit chosen: the top of the dashboard's default group (ranks 1 to 3 in the latest month); no group either:
    # the top of the largest group
    opened = dashboard_view(client, "xep-hang-chuyen-doi-so", raw=True)
    assert opened.values["Nhóm đơn vị"] == ["Sở, ban, ngành"]
    assert {r["unit_label"] for r in opened.rows[NEIGHBOURS]} == {n for n, k in departments.items() if k <= 3}
    no_group = dashboard_view(client, "xep-hang-chuyen-doi-so", {"Nhóm đơn vị": []}, raw=True).rows[NEIGHBOURS]
    assert {r["unit_label"] for r in no_group} == {n for n, k in communes.items() if k <= 3}
    # a department chosen: it (marked) and the departments two places above to two below it in September
    own = departments["Sở Tư pháp"]
    expected = {("▶ " if n == "Sở Tư pháp" else "") + n for n, k in departments.items() if abs(k - own) <= 2}
    rows = dashboard_view(client, "xep-hang-chuyen-doi-so", {"Đơn vị": ["Sở Tư pháp"]}, raw=True).rows[NEIGHBOURS]
    assert {r["unit_label"] for r in rows} == expected
    assert len(rows) == len(expected) * months  # each of them in every month (today's departments: since April)


def test_unit_history_lists_its_old_units(superset_dev: SupersetTarget) -> None:
    units = fake.build_units()
    bridge = fake.succession(units)
    new = next(u for u in units if u.name == "UBND Xã Yên Lạc")
    whole = [b["unit"] for b in bridge if b["successor"] is new and b["is_primary"]]
    part = [b["unit"] for b in bridge if b["successor"] is new and not b["is_primary"]]
    assert whole and part
    view = dashboard_view(superset_dev.admin, "lich-su-don-vi", {"Đơn vị": [new.name]})
    [composition] = view.rows["Đơn vị gồm các đơn vị cũ"]
    text = composition["composition"]
    assert text.startswith("Gồm các đơn vị cũ: ") and composition["predecessors"] == len(whole) + len(part)
    head, tail = text.split("; Nhận một phần của: ")
    assert all(u.name in head for u in whole) and all(u.name in tail for u in part), text
    assert len(view.rows["Các đơn vị cũ đã sắp xếp vào đơn vị"]) == len(whole) + len(part)
    months = [p for p in fake.periods(fake.DATA_START, fake.LAST_DAY) if p[0] == "month"]
    history = view.rows["Điểm và thứ hạng của đơn vị theo kỳ"]
    assert len(history) == len(months) and len({r["period_label"] for r in history}) == len(months)
    # by today's units its history runs back before it existed (its predecessors' figures)
    assert "2025 – Tháng 04" in {r["period_label"] for r in history}
    default = dashboard_view(superset_dev.admin, "lich-su-don-vi")
    assert len(default.values["Đơn vị"]) == 1 and len(default.rows["Đơn vị gồm các đơn vị cũ"]) == 1


def test_arrangement_puts_old_and_new_figures_side_by_side(superset_dev: SupersetTarget) -> None:
    units = fake.build_units()
    home = fake.current_home(units, fake.succession(units))
    ended = [u for u in units if u.valid_to is not None and u.valid_to >= fake.DATA_START]
    view = dashboard_view(superset_dev.admin, "sap-xep-don-vi-hanh-chinh")
    table = view.rows["Đơn vị cũ → đơn vị mới: điểm quý cuối cùng trước sắp xếp"]
    assert len(table) == len(ended) and len({r["old_unit_name"] for r in table}) == len(ended)
    [old_count] = view.rows["Số đơn vị cũ đã sắp xếp"]
    assert old_count["old_units"] == len(ended)
    # the figures: the old unit's own (units of the time) beside its successor's (today's units), Q2/2025
    dataset = next(d for d in superset_dev.admin.list_all("dataset", ("id", "table_name"))
                   if d["table_name"] == "v_unit_arrangement")
    cols = ["old_unit_code", "new_unit_code", "old_qd766_total", "new_qd766_total"]
    ctx = {"datasource": {"id": dataset["id"], "type": "table"}, "result_format": "json", "result_type": "full",
           "form_data": {}, "queries": [{"columns": cols, "metrics": None, "orderby": [], "filters": [],
                                         "extras": {"where": "", "having": ""}, "row_limit": 10000}]}
    pairs = _post_data(superset_dev.admin, ctx, "pairs")
    got = {r["old_unit_code"]: r for r in pairs}  # the ended units here have identifiers of their own
    assert len(got) == len(pairs) == len(ended)
    with _marts(superset_dev) as conn:
        scores = {row[:4]: float(row[4]) for row in conn.execute(
            "SELECT basis, unit_code, unit_valid_from, scope, total_points FROM marts.rpt_qd766_scores"
            " WHERE period_type = 'quarter' AND period_start = '2025-04-01'")}
    for u in ended:
        row = got[u.code]
        scope = "area" if u.unit_type in ("UBND_TINH", "UBND_HUYEN") else "unit"
        assert float(row["old_qd766_total"]) == pytest.approx(scores["historical", u.code, u.valid_from, scope])
        successor = home[u.key]
        if successor is None:  # a district committee: its figures only in the province's area row
            assert row["new_unit_code"] is None and row["new_qd766_total"] is None
            continue
        s_scope = "area" if successor.unit_type == "UBND_TINH" else "unit"
        assert row["new_unit_code"] == successor.code
        assert float(row["new_qd766_total"]) == pytest.approx(
            scores["current", successor.code, successor.valid_from, s_scope])


# ---------------------------------------------------------------- "Cần làm gì để tăng điểm" (issue 14): last, since
# the browser test leaves the viewer's unit chosen


def test_improvement_dashboard_gaps_plan_and_moves(superset_dev: SupersetTarget) -> None:
    with _marts(superset_dev) as conn:
        improve.check_improvement_dashboard(superset_dev.admin, conn, dashboard_view)


@pytest.mark.browser
def test_improvement_dashboard_remembers_the_viewers_last_unit(superset_dev: SupersetTarget,
                                                              artifacts_dir: Path) -> None:
    improve.check_remembers_last_unit(superset_dev, _login, CHROMIUM_ARGS, artifacts_dir, comp.SUPERSET_ADMIN)
