"""The simulated national portal is the warehouse's test oracle (issue 13): the portal computes the 766 index from
the simulator's truth with warehouse.md's rules on its own (src/chiso_simulator/portal.py), the warehouse computes
it from what the real extractors loaded. On a slice of the merged Phú Thọ around the 1/7/2025 reform (scale 0.1,
June and July 2025: June in today's communes from their predecessors, July in their own), every indicator the
portal publishes for today's units and the province has the same points — and the same numerator and denominator
where the warehouse keeps them — in marts.fct_indicator_values (basis current), except the documented classes:
the CLGQ group (the portal's own formula) and DOSSIER_SYNC on a temporary denominator."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import dbt_dataset as ds
import handmade_source as hs
import pytest
from psycopg.rows import dict_row

from chiso.extract import edoc, esign, one_stop_shop
from chiso_simulator.engine import TZ, SimConfig, Simulator
from chiso_simulator.esign_drop import write_esign_drop
from chiso_simulator.portal import RULES, TEMP_STATUS, Period, Portal

pytestmark = pytest.mark.dbt  # and postgres, from the `warehouse` fixture

PORTS = range(5671, 5680)  # loopback ports of this module's source apps
START, END = date(2025, 6, 1), date(2025, 7, 31)
NOW = datetime(2025, 8, 8, 8, 0, tzinfo=TZ)  # every late correction of July has appeared
MONTHS = (Period.of("month", 2025, 6), Period.of("month", 2025, 7))
COMPOSITE = {"QD766.MDHL.DOSSIER_SATISFACTION"}  # the warehouse keeps no numerator / denominator for it


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(SimConfig(seed=26, province="25", scale=0.1))
    s.clock.set(NOW)
    return s


@pytest.fixture(scope="module")
def built(warehouse, sim, tmp_path_factory):
    with warehouse.connect("postgres", autocommit=True) as conn:
        for schema in ("raw", "chiso_meta", "staging", "intermediate", "marts", "seeds"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_transformer")
    from chiso.stack import postgres

    postgres.bootstrap(warehouse.settings, warehouse.creds)
    uri = warehouse.uri("chiso_loader")
    drop = tmp_path_factory.mktemp("esign_drop")
    with hs.serve(sim, drop, ports=PORTS) as served:
        write_esign_drop(sim, drop, START, END, now=NOW)
        summaries = [
            one_stop_shop.extract(served.oss, uri, START, END, run_id="oracle", page_size=1000),
            edoc.extract(served.edoc, uri, START, END, run_id="oracle", page_size=500),
            esign.extract(served.esign, uri, START, END, run_id="oracle"),
        ]
    for s in summaries:
        assert all(b["status"] == "succeeded" for b in s["batches"]), s
        assert s["totals"]["rows_quarantined"] == 0, s
    workdir = tmp_path_factory.mktemp("dbt")
    # the models the comparison reads (their data tests are other modules' business)
    for args in (["seed"], ["run", "--select", "+fct_indicator_values"]):
        ds.dbt(args, port=warehouse.settings.pg_port, password=warehouse.creds["pg_transformer"], workdir=workdir)


def warehouse_values(warehouse, period: Period) -> dict[tuple, dict]:
    with warehouse.connect("chiso_reader") as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            select indicator_code, unit_code, unit_valid_from, scope, numerator, denominator, points
            from marts.fct_indicator_values
            where basis = 'current' and period_type = %s and period_start = %s and framework = 'QD766'
            """,
            (period.type, period.start),
        )
        return {(r["indicator_code"], r["unit_code"], r["unit_valid_from"], r["scope"]): r for r in cur.fetchall()}


@pytest.mark.parametrize("period", MONTHS, ids=lambda p: p.start.isoformat())
def test_the_warehouse_agrees_with_the_portal(built, warehouse, sim, period) -> None:
    portal = Portal(sim)
    fig = portal.figures(period, NOW)
    flagged = portal.flagged(fig, NOW)
    ours = warehouse_values(warehouse, period)
    assert ours, "no QD766 rows in the warehouse for the period"
    diffs, compared = [], 0
    for uf in [fig.province, *fig.units]:
        is_province = uf is fig.province
        ent = sim.entities[uf.idx]
        published = portal.metrics(fig, uf, NOW, flagged if is_province else None)
        for code in RULES:
            num, den, _, pts, status = published[code]
            if status == TEMP_STATUS:
                continue  # portal_provisional: the portal says its own figure is temporary
            row = ours.get((code, ent.code, ent.valid_from, "area" if is_province else "unit"))
            if row is None:
                diffs.append(f"{ent.code} {code}: not computed by the warehouse")
                continue
            compared += 1
            if abs(Decimal(str(pts)) - Decimal(row["points"])) > Decimal("0.005"):
                diffs.append(f"{ent.code} {code}: portal {pts} ({num}/{den}) vs warehouse {row['points']} "
                             f"({row['numerator']}/{row['denominator']})")
            elif code not in COMPOSITE and den and (row["numerator"], row["denominator"]) != (num, den):
                diffs.append(f"{ent.code} {code}: counts portal {num}/{den} vs warehouse "
                             f"{row['numerator']}/{row['denominator']}")
    assert compared > 160 * 15
    assert not diffs, f"{len(diffs)} differences of {compared}:\n" + "\n".join(diffs[:40])
