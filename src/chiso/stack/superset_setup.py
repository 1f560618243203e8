"""Superset users, roles and dashboards-as-code.

* `build_bundle` zips `superset/assets/` for the REST assets importer (overwrite at every level: database,
  datasets, charts, dashboards; the dashboard importer would ignore edited charts). Each chart's saved
  `query_context` is derived here from its `params`, so `GET /api/v1/chart/{id}/data/` (reports, cache
  warm-up, tests) runs the same query the chart's YAML describes.
* `import_assets` imports the bundle, removes assets a previous bundle imported that are no longer in the
  files, and makes the Sở TT&TT viewer role and user (`ensure_viewer`).
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import yaml

from chiso.settings import Settings
from chiso.stack import components as comp

BUNDLE_ROOT = "chiso_bundle"
DATABASE_FILE = "databases/chiso_warehouse.yaml"
VIEWER_ROLE = "SoTTTT_Viewer"
MANIFEST = ".imported_assets.json"
# Assets of the first skeleton bundle (removed from superset/assets): deleted on import if still there.
RETIRED = {
    "chart": ["9c1e2d3f-4a5b-4c6d-8e7f-0a1b2c3d4e51"],
    "dashboard": ["1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a81"],
}

# What a Sở TT&TT reader needs to open the dashboards, run their charts and native filters, and nothing more:
# no SQL Lab, no explore/edit/export, no database or dataset editing. Datasource access is added per dataset.
VIEWER_PERMISSIONS: list[tuple[str, str]] = [
    ("can_read", "Dashboard"),
    ("can_read", "Chart"),
    ("can_dashboard", "Superset"),
    ("can_explore_json", "Superset"),
    ("can_log", "Superset"),
    ("can_language_pack", "Superset"),
    ("can_read", "DashboardFilterStateRestApi"),
    ("can_write", "DashboardFilterStateRestApi"),
    ("can_read", "DashboardPermalinkRestApi"),
    ("can_time_range", "Api"),
    ("can_query_form_data", "Api"),
    ("can_query", "Api"),
    ("can_read", "CurrentUserRestApi"),
    ("can_userinfo", "UserDBModelView"),
    ("can_read", "Theme"),
    ("can_get", "MenuApi"),
    ("menu_access", "Dashboards"),
]
# Anonymous visitors (FAB's AUTH_ROLE_PUBLIC): only the language pack, which the login page fetches from
# /superset/language_pack/<lang>/ before anyone has logged in. Without it that request is redirected to the login
# page, so the login form stays English (apache/superset#40999); the pack is public text, nothing else is granted.
PUBLIC_ROLE = "Public"
PUBLIC_PERMISSIONS: list[tuple[str, str]] = [("can_language_pack", "Superset")]


def _superset(s: Settings, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(s.venv_bin("superset") / "superset"), *args], env=env, capture_output=True, text=True, timeout=300
    )


def ensure_users(s: Settings, creds: dict[str, str], env: dict) -> None:
    """Create the admin once (a stamp avoids the 15 s CLI on every start); the viewer is made over the API."""
    stamp = comp.superset_home(s) / ".admin"
    if stamp.exists() and stamp.read_text() == creds["superset_admin"]:
        return
    r = _superset(
        s, env, "fab", "create-admin", "--username", comp.SUPERSET_ADMIN, "--firstname", "Quản trị",
        "--lastname", "chiso", "--email", "admin@chiso.local", "--password", creds["superset_admin"],
    )
    if r.returncode != 0 or "already exist" in (r.stdout + r.stderr):
        r = _superset(s, env, "fab", "reset-password", "--username", comp.SUPERSET_ADMIN,
                      "--password", creds["superset_admin"])
        if r.returncode != 0:
            raise RuntimeError(f"cannot set the Superset admin password: {r.stderr[-1000:]}")
    stamp.write_text(creds["superset_admin"])


# ---------------------------------------------------------------- bundle

TEMPORAL_AXES = {"period_start", "period_end", "validated_at", "last_success_at", "newest_data_date"}


def _filters(params: dict) -> tuple[list[dict], str]:
    """Adhoc filters -> (simple filters of a query object, SQL WHERE of the custom filters)."""
    simple, where = [], []
    for f in params.get("adhoc_filters") or []:
        if f.get("clause", "WHERE") != "WHERE":
            continue
        if f["expressionType"] == "SQL":
            where.append(f"({f['sqlExpression']})")
        else:
            flt = {"col": f["subject"], "op": f["operator"]}
            if f.get("comparator") is not None:
                flt["val"] = f["comparator"]
            simple.append(flt)
    return simple, " AND ".join(where)


def _axis(params: dict) -> Any:
    x = params["x_axis"]
    if x in TEMPORAL_AXES:
        return {"columnType": "BASE_AXIS", "sqlExpression": x, "label": x, "expressionType": "SQL",
                "timeGrain": params.get("time_grain_sqla") or "P1D"}
    return x


def query_object(params: dict) -> dict:
    """The query the chart's front-end plugin builds from its form data, for the viz types the bundle uses."""
    viz = params["viz_type"]
    filters, where = _filters(params)
    q: dict[str, Any] = {
        "filters": filters, "extras": {"having": "", "where": where}, "applied_time_extras": {},
        "time_range": "No filter", "annotation_layers": [], "url_params": {}, "custom_params": {},
        "custom_form_data": {}, "row_limit": params.get("row_limit") or 10000, "series_limit": 0, "order_desc": True,
    }
    if viz == "table" and params.get("query_mode") == "raw":
        q["columns"] = list(params["all_columns"])
        q["metrics"] = None  # raw records: no GROUP BY
        q["orderby"] = [json.loads(o) for o in params.get("order_by_cols") or []]
    elif viz == "table":
        metrics = list(params["metrics"])
        sort = params.get("timeseries_limit_metric")
        q["columns"] = list(params.get("groupby") or [])
        q["metrics"] = metrics + ([sort] if sort and sort not in metrics else [])
        q["orderby"] = [[sort or metrics[0], not params.get("order_desc", True)]]
    elif viz == "pivot_table_v2":
        q["columns"] = list(params["groupbyRows"]) + list(params["groupbyColumns"])
        q["metrics"] = list(params["metrics"])
        q["orderby"] = [[params["metrics"][0], False]]
    elif viz == "big_number_total":
        q["columns"] = []
        q["metrics"] = [params["metric"]]
    elif viz in ("echarts_timeseries_bar", "echarts_timeseries_line"):
        groupby = list(params.get("groupby") or [])
        metrics = list(params["metrics"])
        q["columns"] = [_axis(params), *groupby]
        q["series_columns"] = groupby
        q["metrics"] = metrics
        if params.get("limit"):
            q["series_limit"] = params["limit"]
            q["series_limit_metric"] = params.get("series_limit_metric") or metrics[0]
            q["order_desc"] = params.get("order_desc", True)
        # The row limit keeps the largest values; the plugin orders the bars on screen afterwards.
        q["orderby"] = [[metrics[0], False]]
        x_label = params["x_axis"]
        q["post_processing"] = [
            {"operation": "pivot", "options": {"index": [x_label], "columns": groupby,
                                               "aggregates": {m: {"operator": "mean"} for m in metrics},
                                               "drop_missing_columns": False}},
            {"operation": "flatten"},
        ]
        # Bars in the order the chart asks (by its axis or a metric), as the plugin's own query does; Superset
        # applies it only without series.
        sort, labels = params.get("x_axis_sort"), [m if isinstance(m, str) else m.get("label") for m in metrics]
        if sort and not groupby and sort in (x_label, *labels):
            by = {"is_sort_index": True} if sort == x_label else {"by": sort}
            q["post_processing"].insert(1, {"operation": "sort", "options": {
                **by, "ascending": bool(params.get("x_axis_sort_asc", True))}})
    else:
        raise ValueError(f"no query builder for viz_type {viz!r}")
    return q


def query_context(params: dict) -> str:
    """A saved query_context; the importer points its datasource at the dataset's id in this Superset."""
    return json.dumps({
        "datasource": {"id": 0, "type": "table"}, "force": False, "queries": [query_object(params)],
        "form_data": params, "result_format": "json", "result_type": "full",
    }, ensure_ascii=False)


def _render(path: Path, assets_dir: Path, s: Settings) -> str:
    text = path.read_text(encoding="utf-8")
    text = text.replace("${CHISO_PG_HOST}", s.host).replace("${CHISO_PG_PORT}", str(s.pg_port))
    rel = path.relative_to(assets_dir).parts
    if rel[0] == "charts":
        doc = yaml.safe_load(text)
        if not doc.get("query_context"):
            doc["query_context"] = query_context(doc["params"])
            text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return text


def build_bundle(s: Settings, assets_dir: Path | None = None) -> bytes:
    """Zip the committed YAML under one top folder, filling in this machine's warehouse host and port and each
    chart's query context."""
    assets_dir = assets_dir or s.repo / "superset" / "assets"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(assets_dir.rglob("*.yaml")):
            zf.writestr(f"{BUNDLE_ROOT}/{path.relative_to(assets_dir).as_posix()}", _render(path, assets_dir, s))
    return buf.getvalue()


def bundle_uuids(assets_dir: Path) -> dict[str, set[str]]:
    """UUIDs per asset kind (database, dataset, chart, dashboard) in the asset folder."""
    kinds = {"databases": "database", "datasets": "dataset", "charts": "chart", "dashboards": "dashboard"}
    out: dict[str, set[str]] = {k: set() for k in kinds.values()}
    for path in assets_dir.rglob("*.yaml"):
        kind = kinds.get(path.relative_to(assets_dir).parts[0])
        if kind:
            out[kind].add(str(yaml.safe_load(path.read_text(encoding="utf-8"))["uuid"]))
    return out


# ---------------------------------------------------------------- REST API


# Sortable columns of the list endpoints (their `order_columns`); `id` is not sortable on these.
ORDER_COLUMNS = {"chart": "slice_name", "dashboard": "dashboard_title", "dataset": "table_name"}


class SupersetApi:
    """Logged-in session on Superset's REST API (JWT + CSRF token, as the web app does)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        r = self.http.post(
            "/api/v1/security/login",
            json={"username": user, "password": password, "provider": "db", "refresh": True},
        )
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self.http.headers["Referer"] = url
        csrf = self.http.get("/api/v1/security/csrf_token/")
        if csrf.status_code == 200:  # a read-only viewer may not read it; it only needs GET and chart data
            self.http.headers["X-CSRFToken"] = csrf.json()["result"]
        elif csrf.status_code not in (401, 403):
            csrf.raise_for_status()

    def get(self, path: str, **kw) -> dict:
        r = self.http.get(path, **kw)
        r.raise_for_status()
        return r.json()

    def list_all(self, resource: str, columns: Iterable[str] = ("id", "uuid"), filters: str = "") -> list[dict]:
        """Every row of a list endpoint (`/api/v1/<resource>/`), page by page."""
        rows: list[dict] = []
        page = 0
        cols = ",".join(columns)
        while True:
            flt = f",filters:!({filters})" if filters else ""
            # a stable order: pages of an unordered LIMIT/OFFSET may overlap and skip rows
            order = ORDER_COLUMNS.get(resource, "id")
            q = f"(columns:!({cols}),order_column:{order},order_direction:asc,page:{page},page_size:100{flt})"
            res = self.get(f"/api/v1/{resource}/", params={"q": q})
            rows += res["result"]
            if len(rows) >= res["count"] or not res["result"]:
                return rows
            page += 1


def api(s: Settings, creds: dict[str, str]) -> SupersetApi:
    return SupersetApi(f"http://{s.host}:{s.superset_port}", comp.SUPERSET_ADMIN, creds["superset_admin"])


def _prune(client: SupersetApi, stale: dict[str, set[str]]) -> None:
    """Delete charts and dashboards an earlier bundle imported that the asset folder no longer has
    (datasets and the database are kept: removing them would cascade to anything built on them by hand)."""
    for kind in ("dashboard", "chart"):
        if not stale.get(kind):
            continue
        for row in client.list_all(kind, ("id", "uuid")):
            if str(row.get("uuid")) in stale[kind]:
                r = client.http.delete(f"/api/v1/{kind}/{row['id']}")
                if r.status_code not in (200, 404):
                    raise RuntimeError(f"cannot delete retired {kind} {row['uuid']}: {r.status_code} {r.text[:300]}")


def import_assets(s: Settings, creds: dict[str, str], assets_dir: Path | None = None) -> None:
    assets_dir = assets_dir or s.repo / "superset" / "assets"
    client = api(s, creds)
    bundle = build_bundle(s, assets_dir)
    r = client.http.post(
        "/api/v1/assets/import/",
        files={"bundle": ("bundle.zip", bundle, "application/zip")},
        data={
            "passwords": json.dumps({DATABASE_FILE: creds["pg_reader"]}),
            "overwrite": "true",
        },
    )
    if r.status_code != 200:
        raise RuntimeError(f"Superset asset import failed: {r.status_code} {r.text[:2000]}")
    current = bundle_uuids(assets_dir)
    manifest = comp.superset_home(s) / MANIFEST
    previous = {k: set(v) for k, v in (json.loads(manifest.read_text()) if manifest.exists() else RETIRED).items()}
    _prune(client, {k: previous.get(k, set()) - current.get(k, set()) for k in ("chart", "dashboard")})
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({k: sorted(v) for k, v in current.items()}, indent=1))
    ensure_viewer(client, creds, current["dataset"])
    ensure_public_language_pack(client)


# ---------------------------------------------------------------- viewer role and user


def _role_id(client: SupersetApi, name: str) -> int:
    res = client.get("/api/v1/security/roles/", params={"q": f"(filters:!((col:name,opr:eq,value:'{name}')))"})
    for row in res["result"]:
        if row["name"] == name:
            return row["id"]
    r = client.http.post("/api/v1/security/roles/", json={"name": name})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"cannot create role {name}: {r.status_code} {r.text[:300]}")
    return r.json()["id"]


def _permission_ids(client: SupersetApi, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    page = 0
    while True:
        res = client.get("/api/v1/security/permissions-resources/",
                         params={"q": f"(order_column:id,order_direction:asc,page:{page},page_size:100)"})
        for row in res["result"]:
            key = (row["permission"]["name"], row["view_menu"]["name"])
            if key in wanted:
                found[key] = row["id"]
        page += 1
        if page * 100 >= res["count"] or not res["result"]:
            return found


def viewer_permission_keys(client: SupersetApi, dataset_uuids: set[str]) -> set[tuple[str, str]]:
    """The viewer's permissions: the fixed list plus datasource_access on each bundle dataset."""
    keys = set(VIEWER_PERMISSIONS)
    for row in client.list_all("dataset", ("id", "uuid", "table_name", "database.database_name")):
        if str(row.get("uuid")) in dataset_uuids:
            # Superset's own naming of a dataset's access permission (SqlaTable.get_perm).
            perm = f"[{row['database']['database_name']}].[{row['table_name']}](id:{row['id']})"
            keys.add(("datasource_access", perm))
    return keys


def ensure_viewer(client: SupersetApi, creds: dict[str, str], dataset_uuids: set[str]) -> None:
    """Role `SoTTTT_Viewer` with exactly the viewer permissions, and user `sotttt` holding only that role.
    Idempotent: the role's permission set is replaced, the user's roles and password are reset."""
    role_id = _role_id(client, VIEWER_ROLE)
    wanted = viewer_permission_keys(client, dataset_uuids)
    ids = _permission_ids(client, wanted)
    missing = wanted - set(ids)
    if missing:
        raise RuntimeError(f"Superset lacks permissions the viewer needs: {sorted(missing)}")
    current = client.get(f"/api/v1/security/roles/{role_id}/permissions/")["result"]
    if {p["id"] for p in current} != set(ids.values()):
        r = client.http.post(f"/api/v1/security/roles/{role_id}/permissions",
                             json={"permission_view_menu_ids": sorted(ids.values())})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"cannot set the viewer role's permissions: {r.status_code} {r.text[:300]}")

    user = comp.SUPERSET_VIEWER
    res = client.get("/api/v1/security/users/", params={"q": f"(filters:!((col:username,opr:eq,value:'{user}')))"})
    body = {"first_name": "Sở TT&TT", "last_name": "Xem báo cáo", "email": f"{user}@chiso.local", "active": True,
            "roles": [role_id], "password": creds["superset_viewer"]}
    match = [u for u in res["result"] if u["username"] == user]
    if match:
        r = client.http.put(f"/api/v1/security/users/{match[0]['id']}", json=body)
    else:
        r = client.http.post("/api/v1/security/users/", json={"username": user, **body})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"cannot create or update the Superset viewer {user}: {r.status_code} {r.text[:300]}")


def ensure_public_language_pack(client: SupersetApi) -> None:
    """The Public role holds PUBLIC_PERMISSIONS (added to whatever an administrator gave it, never removed)."""
    role_id = _role_id(client, PUBLIC_ROLE)
    ids = _permission_ids(client, set(PUBLIC_PERMISSIONS))
    missing = set(PUBLIC_PERMISSIONS) - set(ids)
    if missing:
        raise RuntimeError(f"Superset lacks permissions the login page needs: {sorted(missing)}")
    current = {p["id"] for p in client.get(f"/api/v1/security/roles/{role_id}/permissions/")["result"]}
    if set(ids.values()) <= current:
        return
    r = client.http.post(f"/api/v1/security/roles/{role_id}/permissions",
                         json={"permission_view_menu_ids": sorted(current | set(ids.values()))})
    if r.status_code not in (200, 201):
        raise RuntimeError(f"cannot give the Public role the language pack: {r.status_code} {r.text[:300]}")
