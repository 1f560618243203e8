"""Task bodies shared by the DAGs, so DAG files stay declarations."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def warehouse_uri(conn_id: str) -> str:
    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(conn_id)
    from urllib.parse import quote

    return f"postgresql://{c.login}:{quote(c.password or '', safe='')}@{c.host}:{c.port or 5432}/{c.schema}"


def check_layer(layer: str, conn_id: str) -> None:
    """Run every GX suite of a layer; raise (failing the task) on a critical failure."""
    from airflow.sdk import get_current_context

    from chiso import quality

    ctx = get_current_context()
    run_id = ctx["run_id"]
    outcome = quality.validate_layer(layer, warehouse_uri=warehouse_uri(conn_id), run_id=run_id)
    log.info("quality %s: %s", layer, outcome.summary())
    quality.raise_on_critical(outcome)
