"""When the transform rebuilds incremental models from raw on its own (chiso.dbt_refresh): a small manifest by hand,
and the project's real one."""

from __future__ import annotations

import copy
import json
import os

from chiso import dbt_config
from chiso.dbt_refresh import definitions, stale


def node(uid, materialized, deps=(), macros=(), checksum="c0", **config):
    return {"resource_type": "model" if uid.startswith("model.") else "seed", "checksum": {"checksum": checksum},
            "config": {"materialized": materialized, "tags": [], **config},
            "depends_on": {"nodes": list(deps), "macros": list(macros)}, "columns": {}}


def manifest():
    return {
        "metadata": {"project_name": "chiso"},
        "nodes": {
            "seed.chiso.weights": node("seed.chiso.weights", "seed", checksum="w1"),
            "model.chiso.stg_a": node("model.chiso.stg_a", "view", deps=["source.chiso.raw.a"]),
            "model.chiso.stg_b": node("model.chiso.stg_b", "view", deps=["source.chiso.raw.b"]),
            "model.chiso.int_daily": node("model.chiso.int_daily", "incremental", deps=["model.chiso.stg_a"],
                                          macros=["macro.chiso.rollup"], unique_key=["k"]),
            "model.chiso.fct_points": node("model.chiso.fct_points", "incremental",
                                           deps=["model.chiso.int_daily", "seed.chiso.weights"]),
            "model.chiso.dim_b": node("model.chiso.dim_b", "table", deps=["model.chiso.stg_b"]),
        },
        "macros": {
            "macro.chiso.rollup": {"package_name": "chiso", "macro_sql": "sum(x)",
                                   "depends_on": {"macros": ["macro.chiso.helper", "macro.dbt.run_query"]}},
            "macro.chiso.helper": {"package_name": "chiso", "macro_sql": "x", "depends_on": {"macros": []}},
            "macro.dbt.run_query": {"package_name": "dbt", "macro_sql": "builtin", "depends_on": {"macros": []}},
        },
    }


def changed_after(edit) -> list[str]:
    before = manifest()
    after = copy.deepcopy(before)
    edit(after)
    return stale(definitions(after), definitions(before))


def test_only_incremental_models_are_fingerprinted():
    assert sorted(definitions(manifest())) == ["model.chiso.fct_points", "model.chiso.int_daily"]


def test_a_change_upstream_makes_every_incremental_model_below_it_stale():
    def sql(m):
        m["nodes"]["model.chiso.stg_a"]["checksum"]["checksum"] = "c1"

    assert changed_after(sql) == ["model.chiso.fct_points", "model.chiso.int_daily"]

    def weights(m):  # the seed a model's points come from
        m["nodes"]["seed.chiso.weights"]["checksum"]["checksum"] = "w2"

    assert changed_after(weights) == ["model.chiso.fct_points"]

    def nested_macro(m):  # a macro the rollup macro calls
        m["macros"]["macro.chiso.helper"]["macro_sql"] = "y"

    assert changed_after(nested_macro) == ["model.chiso.fct_points", "model.chiso.int_daily"]

    def key(m):
        m["nodes"]["model.chiso.int_daily"]["config"]["unique_key"] = ["k", "j"]

    assert changed_after(key) == ["model.chiso.fct_points", "model.chiso.int_daily"]


def test_what_does_not_define_rows_changes_nothing():
    def unrelated(m):
        m["nodes"]["model.chiso.stg_b"]["checksum"]["checksum"] = "c9"  # only a table depends on it

    def tags(m):
        m["nodes"]["model.chiso.int_daily"]["config"]["tags"] = ["nightly"]
        m["nodes"]["model.chiso.int_daily"]["config"]["indexes"] = [{"columns": ["k"]}]

    def dbt_builtin(m):  # dbt's own macros follow the dbt version, not the project
        m["macros"]["macro.dbt.run_query"]["macro_sql"] = "builtin v2"

    def new_model(m):  # a new incremental model has no rows to be stale
        m["nodes"]["model.chiso.int_new"] = node("model.chiso.int_new", "incremental", deps=["model.chiso.stg_b"])

    for edit in (unrelated, tags, dbt_builtin, new_model):
        assert changed_after(edit) == [], edit.__name__


def test_an_enforced_contract_column_type_defines_rows():
    def typed(m):
        n = m["nodes"]["model.chiso.fct_points"]
        n["config"]["contract"] = {"enforced": True}
        n["columns"] = {"points": {"data_type": "numeric(6,2)"}}

    def retyped(m):
        typed(m)
        m["nodes"]["model.chiso.fct_points"]["columns"]["points"]["data_type"] = "numeric(7,2)"

    before = manifest()
    typed(before)
    after = copy.deepcopy(before)
    retyped(after)
    assert stale(definitions(after), definitions(before)) == ["model.chiso.fct_points"]


def test_nothing_recorded_means_every_incremental_model_is_rebuilt():
    assert stale(definitions(manifest()), None) == ["model.chiso.fct_points", "model.chiso.int_daily"]
    assert stale(definitions(manifest()), definitions(manifest())) == []


def test_the_projects_manifest_is_fingerprinted_stably():
    path = dbt_config.manifest_path()
    if not path.exists():  # written by `chiso up`; on a fresh clone, parse here (no database needed)
        dbt_config.parse_project({**os.environ, "CHISO_DBT_PASSWORD": os.environ.get("CHISO_DBT_PASSWORD", "unused")})
    # One read: a stack starting beside this test (make test's other lane) may rewrite the file meanwhile.
    text = path.read_text(encoding="utf-8")
    first, second = definitions(json.loads(text)), definitions(json.loads(text))
    assert first == second and len(first) >= 10
