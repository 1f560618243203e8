"""The committed Superset bundle is self-consistent before any Superset sees it."""

from __future__ import annotations

import io
import json
import zipfile

import yaml

from chiso.settings import REPO_ROOT, Settings
from chiso.stack.superset_setup import BUNDLE_ROOT, build_bundle, query_object

ASSETS = REPO_ROOT / "superset" / "assets"


def _bundle() -> dict[str, dict]:
    s = Settings(pg_port=6543)
    with zipfile.ZipFile(io.BytesIO(build_bundle(s, ASSETS))) as zf:
        return {n.removeprefix(f"{BUNDLE_ROOT}/"): yaml.safe_load(zf.read(n)) for n in zf.namelist()}


def test_references_resolve_and_uuids_are_unique():
    b = _bundle()
    uuids = [doc["uuid"] for name, doc in b.items() if name != "metadata.yaml"]
    assert len(uuids) == len(set(uuids))
    datasets = {d["uuid"] for n, d in b.items() if n.startswith("datasets/")}
    charts = {d["uuid"]: d for n, d in b.items() if n.startswith("charts/")}
    db = next(d for n, d in b.items() if n.startswith("databases/"))
    assert "6543" in db["sqlalchemy_uri"] and "XXXXXXXXXX" in db["sqlalchemy_uri"]  # password only at import
    assert all(d["database_uuid"] == db["uuid"] for n, d in b.items() if n.startswith("datasets/"))
    assert all(c["dataset_uuid"] in datasets for c in charts.values())
    on_dashboards = set()
    for name, dash in ((n, d) for n, d in b.items() if n.startswith("dashboards/")):
        metadata = dash["metadata"]
        assert metadata["cross_filters_enabled"] is True
        in_layout = {v["meta"]["uuid"]: v["meta"]["chartId"] for v in dash["position"].values()
                     if isinstance(v, dict) and v.get("type") == "CHART"}
        assert set(in_layout) <= set(charts), name
        on_dashboards |= set(in_layout)
        local_ids = set(in_layout.values())
        assert len(local_ids) == len(in_layout), name
        filter_ids = {f["id"] for f in metadata["native_filter_configuration"]}
        for f in metadata["native_filter_configuration"]:
            assert all(t["datasetUuid"] in datasets for t in f["targets"]), f["name"]
            assert set(f["scope"]["excluded"]) <= local_ids, f["name"]
            assert set(f["cascadeParentIds"]) <= filter_ids, f["name"]
    assert on_dashboards == set(charts), "every chart sits on a dashboard"


def test_each_chart_gets_a_query_context_from_its_params():
    for name, chart in _bundle().items():
        if not name.startswith("charts/"):
            continue
        qc = json.loads(chart["query_context"])
        q = qc["queries"][0]
        assert qc["form_data"] == chart["params"], name
        metrics = chart["params"].get("metrics") or [chart["params"].get("metric")]
        if chart["params"].get("query_mode") != "raw":
            assert set(metrics) <= set(q["metrics"]), name
        simple = [f for f in chart["params"]["adhoc_filters"] if f["expressionType"] == "SIMPLE"]
        assert [f["col"] for f in q["filters"]] == [f["subject"] for f in simple], name
        for f in chart["params"]["adhoc_filters"]:
            if f["expressionType"] == "SQL":
                assert f["sqlExpression"] in q["extras"]["where"], name


def test_query_object_shapes():
    bar = query_object({"viz_type": "echarts_timeseries_bar", "x_axis": "unit_name", "metrics": ["score"],
                        "groupby": [], "row_limit": 8, "adhoc_filters": [
                            {"clause": "WHERE", "expressionType": "SIMPLE", "subject": "framework", "operator": "==",
                             "comparator": "QD766"},
                            {"clause": "WHERE", "expressionType": "SQL", "sqlExpression": "scope = 'unit'"}]})
    assert bar["columns"] == ["unit_name"] and bar["row_limit"] == 8
    assert bar["orderby"] == [["score", False]]  # the row limit keeps the largest
    assert bar["filters"] == [{"col": "framework", "op": "==", "val": "QD766"}]
    assert bar["extras"]["where"] == "(scope = 'unit')"
    line = query_object({"viz_type": "echarts_timeseries_line", "x_axis": "period_start", "time_grain_sqla": "P1M",
                         "metrics": ["rank"], "groupby": ["unit_name"], "limit": 10, "order_desc": False})
    assert line["columns"][0]["columnType"] == "BASE_AXIS" and line["columns"][0]["timeGrain"] == "P1M"
    assert line["series_limit"] == 10 and line["order_desc"] is False and line["series_columns"] == ["unit_name"]
    raw = query_object({"viz_type": "table", "query_mode": "raw", "all_columns": ["a", "b"],
                        "order_by_cols": ['["b", false]']})
    assert raw["metrics"] is None and raw["orderby"] == [["b", False]]


def test_user_facing_text_is_vietnamese():
    b = _bundle()
    for name, doc in b.items():
        if name.startswith("dashboards/"):
            assert any(ord(ch) > 127 for ch in doc["dashboard_title"]), name
            assert all(any(ord(ch) > 127 for ch in f["name"])
                       for f in doc["metadata"]["native_filter_configuration"])
        if name.startswith("charts/"):
            assert any(ord(ch) > 127 for ch in doc["slice_name"]), name
        if name.startswith("datasets/"):
            for m in doc["metrics"]:
                assert m["verbose_name"], (name, m["metric_name"])
