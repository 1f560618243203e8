"""Names shared by DAGs, loaders and tests: Airflow connection ids and data-asset URIs.

Assets are declared here, not in DAG files, so producers and consumers cannot drift apart.
"""

from __future__ import annotations

# Connection ids of sources.md; overridable by AIRFLOW_CONN_<ID> environment variables.
CONN_ONE_STOP_SHOP = "one_stop_shop_api"
CONN_EDOC = "edoc_api"
CONN_ESIGN = "esign_drop"
CONN_NATIONAL = "national_report_api"
CONN_WAREHOUSE = "warehouse_db"

# raw entity name -> asset URI. One asset per raw table; transform_warehouse is scheduled on them.
RAW_TABLES = {
    "oss_units": "one_stop_shop",
    "oss_procedures": "one_stop_shop",
    "oss_dossier_daily": "one_stop_shop",
    "oss_petition_daily": "one_stop_shop",
    "edoc_documents_daily": "edoc",
    "esign_signatures_daily": "esign",
}


def raw_asset_uri(table: str) -> str:
    return f"postgres://warehouse/chiso/raw/{table}"


MARTS_ASSET_URI = "postgres://warehouse/chiso/marts/fct_indicator_values"


def raw_assets_of(source: str) -> list[str]:
    """Asset URIs of the raw tables one source's extract writes (its DAG's outlets)."""
    return [raw_asset_uri(t) for t, s in RAW_TABLES.items() if s == source]
