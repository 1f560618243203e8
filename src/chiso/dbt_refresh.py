"""When the transform must rebuild incremental models from raw (`dbt build --full-refresh`) on its own.

An incremental model keeps the rows the code of the day computed. After an upgrade that changes how one of them is
computed — its SQL or config, a contract column's type, or anything upstream: a staging model, a seed (the weights),
a macro of the project — its stored rows are stale, and a changed column list even stops the build
(`on_schema_change: fail`). So every successful transform records a fingerprint of each incremental model's
definition (in an Airflow Variable: it describes the deployed code, not the data), and the next run rebuilds from raw
once when one of them differs, or when none was recorded (a warehouse built before this check: its rows' code is
unknown). A new incremental model needs nothing: it has no rows yet. Reads the manifest Cosmos renders from, so
it costs no dbt call."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VARIABLE = "chiso_dbt_incremental_definitions"
# Config keys that do not change what rows a model holds.
_NOT_DEFINING = {"tags", "meta", "docs", "group", "persist_docs", "grants", "indexes", "full_refresh", "access",
                 "freshness", "packages", "static_analysis", "description"}


def definitions(manifest: dict[str, Any]) -> dict[str, str]:
    """unique_id -> fingerprint of what defines the rows, for every incremental model of the project."""
    project = manifest.get("metadata", {}).get("project_name")
    nodes, macros = manifest["nodes"], manifest["macros"]
    memo: dict[str, str] = {}

    def macro_fp(uid: str, seen: frozenset[str] = frozenset()) -> str:
        m = macros.get(uid)
        if m is None or m.get("package_name") != project or uid in seen:  # dbt's own macros: the dbt version's
            return uid
        parts = [uid, m.get("macro_sql", "")]
        parts += [macro_fp(d, seen | {uid}) for d in sorted(m.get("depends_on", {}).get("macros", []))]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def node_fp(uid: str) -> str:
        if uid in memo:
            return memo[uid]
        n = nodes.get(uid)
        if n is None:  # a source: raw data, not code
            return uid
        config = {k: v for k, v in (n.get("config") or {}).items() if k not in _NOT_DEFINING}
        contract = {c: col.get("data_type") for c, col in sorted((n.get("columns") or {}).items())} \
            if (config.get("contract") or {}).get("enforced") else {}
        deps = n.get("depends_on") or {}
        parts = [uid, n.get("checksum", {}).get("checksum", ""), json.dumps(config, sort_keys=True, default=str),
                 json.dumps(contract, sort_keys=True)]
        parts += [macro_fp(m) for m in sorted(deps.get("macros", []))]
        parts += [node_fp(d) for d in sorted(deps.get("nodes", []))]
        memo[uid] = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return memo[uid]

    return {uid: node_fp(uid) for uid, n in sorted(nodes.items())
            if n.get("resource_type") == "model" and (n.get("config") or {}).get("materialized") == "incremental"}


def stale(current: dict[str, str], recorded: dict[str, str] | None) -> list[str]:
    """The incremental models whose stored rows another definition computed (all of them when nothing was
    recorded)."""
    if recorded is None:
        return sorted(current)
    return sorted(uid for uid, fp in current.items() if uid in recorded and recorded[uid] != fp)


def load_manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def plan(requested: bool) -> bool:
    """transform_warehouse's `plan_refresh` task: whether this run's build is a full refresh."""
    from airflow.sdk import Variable

    from chiso.dbt_config import manifest_path

    if requested:
        log.info("full refresh requested by the run's params")
        return True
    current = definitions(load_manifest(manifest_path()))
    recorded = Variable.get(VARIABLE, default=None, deserialize_json=True)
    changed = stale(current, recorded)
    if changed:
        why = "no definition recorded" if recorded is None else "definition changed"
        log.warning("full refresh: %s for %d incremental model(s): %s", why, len(changed), ", ".join(changed))
        return True
    log.info("incremental build: the %d incremental models are defined as when their rows were built", len(current))
    return False


def record() -> None:
    """After a successful build: the definitions the stored rows now follow."""
    from airflow.sdk import Variable

    from chiso.dbt_config import manifest_path

    current = definitions(load_manifest(manifest_path()))
    Variable.set(VARIABLE, current, description="chiso: definitions of the incremental models' stored rows",
                 serialize_json=True)
    log.info("recorded the definitions of %d incremental models", len(current))
