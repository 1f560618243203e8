"""The committed Superset bundle is self-consistent before any Superset sees it."""

from __future__ import annotations

import functools
import io
import json
import re
import zipfile

import yaml
from model_sql import model_sql

from chiso.settings import REPO_ROOT, Settings
from chiso.stack.superset_setup import BUNDLE_ROOT, build_bundle, query_object

ASSETS = REPO_ROOT / "superset" / "assets"


@functools.cache  # read-only in every test
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


# ---------------------------------------------------------------- the two bases of every figure (reform.md)

BASIS_MARTS = ("fct_indicator_values", "rpt_qd766_scores", "rpt_unit_rankings", "rpt_dossier_report")
CURRENT_LABEL = "Theo đơn vị hiện nay"
BASIS_FILTER = "Cơ sở số liệu"


def _datasets(b: dict) -> dict[str, dict]:
    return {d["uuid"]: d for n, d in b.items() if n.startswith("datasets/")}


def _columns(dataset: dict) -> set[str]:
    return {c["column_name"] for c in dataset["columns"]}


PRESENTATION = REPO_ROOT / "dbt_project" / "models" / "marts" / "presentation"


def _sql(dataset: dict) -> str | None:
    """What a dataset runs: its own SQL, else the presentation mart of its name (the dbt model, refs as marts.x), else
    None (a plain mart)."""
    if dataset["sql"]:
        return dataset["sql"]
    model = PRESENTATION / f"{dataset['table_name']}.sql"
    return model_sql(model) if model.exists() else None


def _counts_one_basis(chart: dict) -> bool:
    """Without a basis chosen on the dashboard, the chart still reads one basis: the current one."""
    for f in chart["params"]["adhoc_filters"]:
        if f["expressionType"] == "SIMPLE" and f["subject"] == "basis" and f["operator"] == "==":
            return True
        if f["expressionType"] == "SQL" and re.fullmatch(
            r"\{% if filter_values\('basis_label'\) %\}1 = 1\{% else %\}basis = 'current'\{% endif %\}",
            f["sqlExpression"],
        ):
            return True
    return False


def test_datasets_reading_a_mart_with_basis_expose_it_or_pin_it():
    for ds in _datasets(_bundle()).values():
        sql = _sql(ds) or f"FROM marts.{ds['table_name']} {ds['table_name']}"
        refs = re.findall(rf"marts\.({'|'.join(BASIS_MARTS)})\s+(?:as\s+)?(\w+)", sql, re.I)
        if not refs:
            continue
        if "basis" in _columns(ds):
            assert _sql(ds) is None or "basis_label" in _columns(ds), ds["table_name"]
            if _sql(ds):
                assert re.search(f"when 'current' then '{CURRENT_LABEL}'", sql, re.I), ds["table_name"]
            continue
        for _table, alias in refs:  # both bases side by side: each reference reads one basis
            assert re.search(rf"\b{alias}\.basis = '(current|historical)'", sql), (ds["table_name"], alias)


def test_every_chart_on_a_basis_dataset_reads_one_basis_and_dashboards_default_to_current():
    b = _bundle()
    datasets = _datasets(b)
    charts = {d["uuid"]: d for n, d in b.items() if n.startswith("charts/")}
    with_basis = {u for u, c in charts.items() if "basis" in _columns(datasets[c["dataset_uuid"]])}
    assert len(with_basis) > 20
    for uuid in with_basis:
        assert _counts_one_basis(charts[uuid]), charts[uuid]["slice_name"]
    for name, dash in ((n, d) for n, d in b.items() if n.startswith("dashboards/")):
        on_dash = {v["meta"]["uuid"]: v["meta"]["chartId"] for v in dash["position"].values()
                   if isinstance(v, dict) and v.get("type") == "CHART"}
        if not set(on_dash) & with_basis:
            continue
        [basis] = [f for f in dash["metadata"]["native_filter_configuration"] if f["name"] == BASIS_FILTER]
        assert basis["targets"][0]["column"]["name"] == "basis_label", name
        assert basis["defaultDataMask"]["filterState"]["value"] == [CURRENT_LABEL], name
        assert basis["defaultDataMask"]["extraFormData"]["filters"] == [
            {"col": "basis_label", "op": "IN", "val": [CURRENT_LABEL]}], name
        assert basis["controlValues"]["enableEmptyFilter"] and not basis["controlValues"]["multiSelect"], name
        # in scope for every chart that has a basis
        assert not {on_dash[u] for u in set(on_dash) & with_basis} & set(basis["scope"]["excluded"]), name
        texts = [v["meta"]["code"] for v in dash["position"].values()
                 if isinstance(v, dict) and v.get("type") == "MARKDOWN"]
        assert any("đơn vị hành chính hiện nay" in t and CURRENT_LABEL in t for t in texts), name


def test_native_filters_target_real_columns_and_latest_period_first():
    b = _bundle()
    datasets = _datasets(b)
    for name, dash in ((n, d) for n, d in b.items() if n.startswith("dashboards/")):
        for f in dash["metadata"]["native_filter_configuration"]:
            ds = datasets[f["targets"][0]["datasetUuid"]]
            assert f["targets"][0]["column"]["name"] in _columns(ds), (name, f["name"])
            sort = f["controlValues"].get("sortMetric")
            assert sort is None or sort in {m["metric_name"] for m in ds["metrics"]}, (name, f["name"])
            if f["name"] == "Kỳ":  # dim_periods' labels, latest first by its sort key
                assert f["targets"][0]["column"]["name"] == "period_label", name
                assert sort == "period_sort" and f["controlValues"]["sortAscending"] is False, name
                assert f["controlValues"]["defaultToFirstItem"], name
                sql = _sql(ds)
                assert "marts.dim_periods" in sql and "p.period_label" in sql, name
                metric = next(m for m in ds["metrics"] if m["metric_name"] == sort)
                assert metric["expression"] == "MAX(period_sort)"
                assert re.search(r"p\.sort_key as period_sort", sql, re.I), name


# ---------------------------------------------------------------- charts a person can read (issue 16)

UNIT_AXES = {"unit_name", "unit_label", "unit_code"}


def test_no_chart_draws_every_unit_of_a_group():
    """A bar per unit only for a short list (top and bottom ten, the biggest moves, the chosen unit); lines per unit
    only for a unit and its neighbours. Every unit of a group is in a searchable table instead."""
    b = _bundle()
    datasets = _datasets(b)
    for chart in (c for n, c in b.items() if n.startswith("charts/")):
        p = chart["params"]
        wheres = [f["sqlExpression"] for f in p["adhoc_filters"] if f["expressionType"] == "SQL"]
        if p["viz_type"] == "echarts_timeseries_bar" and p["x_axis"] in UNIT_AXES:
            assert any(re.search(r"\b(top_or_bottom|big_move)\b", w) for w in wheres), chart["slice_name"]
            assert any(re.search(r"\bgroup_shown\b", w) for w in wheres), chart["slice_name"]
            assert p["row_limit"] <= 100, chart["slice_name"]
        if p["viz_type"] == "echarts_timeseries_line" and set(p.get("groupby") or []) & UNIT_AXES:
            assert datasets[chart["dataset_uuid"]]["table_name"] == "v_rank_neighbours", chart["slice_name"]
        if p["viz_type"] == "table" and "group_shown" in " ".join(wheres):
            assert p["include_search"], chart["slice_name"]  # every unit of the group, found by name


def test_short_lists_mark_the_chosen_unit_without_dropping_the_others():
    """The datasets behind the short lists hold the dashboard's chosen unit in unit_name on every row (the 'Đơn vị'
    filter then keeps every row) and mark the unit itself apart; the filter reaches those charts."""
    b = _bundle()
    datasets = _datasets(b)
    short = {u for u, d in datasets.items() if d["table_name"] in
             ("v_ranking_top_bottom", "v_indicator_top_bottom", "v_rank_neighbours")}
    assert len(short) == 3
    for uuid in short:
        sql = datasets[uuid]["sql"]
        assert "{% set chosen = filter_values('unit_name') %}" in sql.replace("{%-", "{%")
        assert "{% if chosen %}{{ chosen[:1]|where_in }}{% else %}NULL::text{% endif %} AS unit_name" in sql
        assert "JOIN marts.dim_unit_labels u" in sql  # the same unit names as every other dataset's
    for name, dash in ((n, d) for n, d in b.items() if n.startswith("dashboards/")):
        charts = {v["meta"]["uuid"]: v["meta"]["chartId"] for v in dash["position"].values()
                  if isinstance(v, dict) and v.get("type") == "CHART"}
        on_short = {cid for u, cid in charts.items()
                    if next(c for n, c in b.items() if n.startswith("charts/") and c["uuid"] == u)["dataset_uuid"]
                    in short}
        for f in dash["metadata"]["native_filter_configuration"]:
            if f["targets"][0]["column"]["name"] == "unit_name":
                assert not on_short & set(f["scope"]["excluded"]), (name, f["name"])
