"""The extract DAGs: schedule, assets, retries, params; window resolution of a run."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import Asset

from chiso.assets import raw_asset_uri
from chiso.extract.common import SourceConn, warehouse_uri_from_airflow
from chiso.extract.dag_support import resolve_window

DAGS = Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {
    "extract_one_stop_shop": ["oss_units", "oss_procedures", "oss_dossier_daily", "oss_petition_daily"],
    "extract_edoc": ["edoc_documents_daily"],
    "extract_esign": ["esign_signatures_daily"],
}


def load_dag(dag_id: str):
    spec = importlib.util.spec_from_file_location(dag_id, DAGS / f"{dag_id}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, dag_id)()  # the @dag factory builds the DAG object


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_shape(dag_id):
    dag = load_dag(dag_id)
    assert dag.catchup is False
    assert dag.start_date is None  # first run at the next 01:00, no catch-up of a missed day at deploy
    tt = dag.timetable
    assert tt.expression == "0 1 * * *" and str(getattr(tt.timezone, "name", tt.timezone)) == "Asia/Ho_Chi_Minh"
    (t,) = dag.tasks
    assert t.retries == 2 and t.retry_delay.total_seconds() > 0
    assert sorted(o.uri for o in t.outlets) == sorted(Asset(raw_asset_uri(x)).uri for x in EXPECTED[dag_id])
    assert {"start", "end", "lookback_days"} <= set(dag.params.keys())


def test_window_resolution(monkeypatch):
    monkeypatch.delenv("CHISO_EXTRACT_LOOKBACK_DAYS", raising=False)
    logical = pendulum.datetime(2024, 5, 15, 1, tz="Asia/Ho_Chi_Minh")
    assert resolve_window({}, logical.date()) == (date(2024, 5, 7), date(2024, 5, 14))
    assert resolve_window({"lookback_days": 2}, logical.date()) == (date(2024, 5, 12), date(2024, 5, 14))
    monkeypatch.setenv("CHISO_EXTRACT_LOOKBACK_DAYS", "3")
    assert resolve_window({"lookback_days": None}, logical.date()) == (date(2024, 5, 11), date(2024, 5, 14))
    assert resolve_window({"start": "2024-01-01", "end": "2024-03-31"}, None) == (date(2024, 1, 1), date(2024, 3, 31))
    with pytest.raises(ValueError):
        resolve_window({"start": "2024-01-01"}, logical.date())
    with pytest.raises(ValueError):
        resolve_window({"start": "2024-02-01", "end": "2024-01-01"}, logical.date())


def test_connections_from_airflow_fields():
    from airflow.sdk import Connection

    oss = Connection(conn_id="x", conn_type="http", host="127.0.0.1", port=8701, schema="http", login="a", password="b")
    assert SourceConn.from_airflow(oss).base_url == "http://127.0.0.1:8701"
    gw = Connection(conn_id="x", conn_type="https", host="lgsp.gov.vn", schema="mot-cua", password="k")
    assert SourceConn.from_airflow(gw).base_url == "https://lgsp.gov.vn/mot-cua"
    drop = Connection(conn_id="x", conn_type="fs", extra='{"path": "/data/drop"}')
    assert SourceConn.from_airflow(drop).extra == {"path": "/data/drop"}
    wh = Connection(
        conn_id="x",
        conn_type="postgres",
        host="127.0.0.1",
        port=5433,
        schema="chiso",
        login="chiso_loader",
        password="p@ss/word",
    )
    assert warehouse_uri_from_airflow(wh) == "postgresql://chiso_loader:p%40ss%2Fword@127.0.0.1:5433/chiso"
