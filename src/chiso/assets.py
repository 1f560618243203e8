"""Names shared by DAGs, loaders and tests: Airflow connection ids and data-asset URIs.

Assets are declared here, not in DAG files, so producers and consumers cannot drift apart.
"""

from __future__ import annotations

# Connection ids of sources.md; overridable by AIRFLOW_CONN_<ID> environment variables.
CONN_ONE_STOP_SHOP = "one_stop_shop_api"
CONN_EDOC = "edoc_api"
CONN_ESIGN = "esign_drop"
CONN_NATIONAL = "national_report_api"
CONN_NATIONAL_PORTAL = "national_portal_api"
CONN_WAREHOUSE = "warehouse_db"

# raw entity name -> asset URI. One asset per raw table of the daily sources; transform_warehouse runs once all
# of them have new data.
RAW_TABLES = {
    "oss_units": "one_stop_shop",
    "oss_procedures": "one_stop_shop",
    "oss_dossier_daily": "one_stop_shop",
    "oss_petition_daily": "one_stop_shop",
    "edoc_documents_daily": "edoc",
    "esign_signatures_daily": "esign",
}


# Raw tables of what the warehouse reads to compare with, not to compute from (the national portal's published
# index): their extract DAG declares them and, when they changed, starts transform_warehouse itself — in its asset
# schedule a portal-only run would consume the daily sources' queued events and leave the day without a transform.
REFERENCE_TABLES = {
    "portal_indicator_scores": "national_portal",
}


def raw_asset_uri(table: str) -> str:
    return f"postgres://warehouse/chiso/raw/{table}"


MARTS_ASSET_URI = "postgres://warehouse/chiso/marts/fct_indicator_values"


def raw_assets_of(source: str) -> list[str]:
    """Asset URIs of the raw tables one source's extract writes (its DAG's outlets)."""
    return [raw_asset_uri(t) for t, s in {**RAW_TABLES, **REFERENCE_TABLES}.items() if s == source]
