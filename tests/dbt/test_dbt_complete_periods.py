"""Nothing incomplete is ever sent (issue 15): the real extractors load 10/5–14/7/2024 from the source interfaces,
`dbt build` turns the load audits into `dim_periods.is_complete`, and the exporter sends to a national receiver
only what is complete. May holds data from 10/5 on and ends before later periods, yet its first nine days were
never loaded: it is not sent; June is. Then 15–31/7 loads, but the e-signature file of 20/7 arrives late: July holds
data on every day, yet is sent only once that file is loaded."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dbt_dataset as ds
import handmade_source as hs
import httpx
import pytest
from dbt_dataset import S1
from psycopg.rows import dict_row

from chiso.export import runner
from chiso.export.periods import BIEU_06, CHI_SO_CDS
from chiso_simulator.engine import TZ
from chiso_simulator.national import create_app

pytestmark = pytest.mark.dbt  # and postgres, from the `warehouse` fixture

PORTS = range(5661, 5670)  # loopback ports of this module's source apps and receiver
TOKEN = "complete-periods-token"
FAST = runner.RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.05, max_retry_after=1, timeout=5)
FIRST, LAST = date(2024, 5, 10), date(2024, 7, 14)
LATE_FILE = date(2024, 7, 20)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _put_day(source: hs.HandMadeSource, day: date, *, esign: bool = True) -> None:
    """One day of every feed for department S1 (counts as in dbt_dataset, which the loader accepts)."""
    d = day.isoformat()
    counts = (0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0)
    source.put("dossier", ds.dossier_record(d, S1, "T2", counts, f"{d}T17:30:00+07:00"))
    petition = dict(zip(ds.PETITION_FIELDS, (0, 0, 0, 0, 1, 0), strict=True))
    source.put("petition", {"ngay": d, "maDinhDanh": S1, **petition, "thoiDiemCapNhat": f"{d}T17:40:00+07:00"})
    documents = dict(zip(ds.DOCUMENT_FIELDS, (0, 0, 10, 10, 10, 10, 0, 5, 5), strict=True))
    source.put("edoc", {"report_date": d, "org_code": S1, **documents, "updated_at": f"{d}T18:00:00+07:00"})
    if esign:
        signatures = dict(zip(ds.SIGNATURE_FIELDS, (1, 30, 0, 0, 0, 5, 10, 3), strict=True))
        source.put("esign", {"report_date": d, "ma_dinh_danh": S1, **signatures})


@pytest.fixture(scope="module")
def world(warehouse, tmp_path_factory):
    """The warehouse emptied, the hand-made registers with daily rows for 10/5–14/7, their interfaces served, a
    national receiver, and dbt run against the warehouse."""
    with warehouse.connect("postgres", autocommit=True) as conn:
        for schema in ("raw", "quality", "exports", "chiso_meta", "staging", "intermediate", "marts", "seeds"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_transformer")  # dbt's incremental staging
    from chiso.stack import postgres

    postgres.bootstrap(warehouse.settings, warehouse.creds)
    source = ds.hand_made_source()  # its registers; its January/February rows lie outside every window here
    source.clock.set(datetime(2024, 7, 20, 8, 0, tzinfo=TZ))
    for day in _days(FIRST, LAST):
        _put_day(source, day)
    workdir = tmp_path_factory.mktemp("dbt")

    def dbt(*args: str):
        # The models' unit tests run in test_dbt_marts' build; here the data path only.
        if args[0] == "build":
            args = (*args, "--exclude", "test_type:unit")
        ds.dbt(list(args), port=warehouse.settings.pg_port, password=warehouse.creds["pg_transformer"], workdir=workdir)

    with (
        hs.serve(source, tmp_path_factory.mktemp("esign_drop"), ports=PORTS) as sources,
        hs._served(create_app(TOKEN), PORTS) as receiver_url,
    ):
        dbt("seed")
        yield source, sources, receiver_url, dbt


def _periods(warehouse) -> dict[tuple[str, date], dict]:
    with warehouse.connect("chiso_reader") as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM marts.dim_periods").fetchall()
    return {(r["period_type"], r["period_start"]): r for r in rows}


def _export(warehouse, receiver_url: str, today: date, out) -> set[tuple[str, str, str]]:
    """Run the exporter; return every (report, from, to) the receiver holds so far."""
    s = runner.run_exports(
        warehouse.uri("chiso_loader"), receiver_url, TOKEN, out, today=today, run_id=f"export-{today}", policy=FAST
    )
    assert s.ok, s.describe()
    got = [d["baoCao"] for d in httpx.get(f"{receiver_url}/_sim/received").json()]
    return {(b["maBaoCao"], b["kyBaoCao"]["tuNgay"], b["kyBaoCao"]["denNgay"]) for b in got}


def test_only_periods_with_every_day_loaded_by_every_source_are_sent(world, warehouse, tmp_path):
    source, sources, receiver_url, dbt = world

    # 1. 10/5–14/7 loaded.
    sources.extract(warehouse.uri("chiso_loader"), FIRST, LAST, run_id="first")
    dbt("build")
    p = _periods(warehouse)
    # May: data on 10–31/5 only; every day of June; July to 14/7; Decree 09 windows 15/5–14/6 and 15/6–14/7 whole.
    assert (p["month", date(2024, 5, 1)]["days_loaded"], p["month", date(2024, 5, 1)]["is_complete"]) == (22, False)
    assert (p["month", date(2024, 6, 1)]["days_loaded"], p["month", date(2024, 6, 1)]["is_complete"]) == (30, True)
    assert (p["month", date(2024, 7, 1)]["days_loaded"], p["month", date(2024, 7, 1)]["is_complete"]) == (14, False)
    assert (p["quarter", date(2024, 4, 1)]["days_loaded"], p["quarter", date(2024, 4, 1)]["is_complete"]) == (52, False)
    assert p["report_month", date(2024, 4, 15)]["is_complete"] is False  # 15/4–14/5: from 10/5 only
    assert p["report_month", date(2024, 5, 15)]["is_complete"] is True
    assert p["report_month", date(2024, 6, 15)]["is_complete"] is True
    sent = _export(warehouse, receiver_url, date(2024, 7, 20), tmp_path)
    assert sent == {
        (CHI_SO_CDS, "2024-06-01", "2024-06-30"),
        (BIEU_06, "2024-05-15", "2024-06-14"),
        (BIEU_06, "2024-06-15", "2024-07-14"),
    }

    # 2. 15–31/7 loaded, except the e-signature file of 20/7 (not delivered yet): July has data on every day but
    # one source lacks a day, so it is incomplete and nothing new is sent.
    for day in _days(LAST + timedelta(days=1), date(2024, 7, 31)):
        _put_day(source, day, esign=day != LATE_FILE)
    source.clock.set(datetime(2024, 8, 5, 8, 0, tzinfo=TZ))
    sources.extract(warehouse.uri("chiso_loader"), LAST + timedelta(days=1), date(2024, 7, 31), run_id="second")
    dbt("build")
    july = _periods(warehouse)["month", date(2024, 7, 1)]
    assert (july["evaluated_to"], july["days_loaded"], july["is_complete"]) == (date(2024, 7, 31), 30, False)
    assert _export(warehouse, receiver_url, date(2024, 8, 5), tmp_path) == sent

    # 3. The late file arrives and is loaded: July is complete and sent, once.
    _put_day(source, LATE_FILE)
    sources.extract(warehouse.uri("chiso_loader"), LATE_FILE, LATE_FILE, run_id="late-file")
    dbt("build")
    july = _periods(warehouse)["month", date(2024, 7, 1)]
    assert (july["days_loaded"], july["is_complete"]) == (31, True)
    assert _export(warehouse, receiver_url, date(2024, 8, 5), tmp_path) == sent | {
        (CHI_SO_CDS, "2024-07-01", "2024-07-31")
    }
