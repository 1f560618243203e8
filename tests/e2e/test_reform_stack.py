"""The merged province across the 1/7/2025 reform through the real stack (reform.md, issue acceptance 2 and 3):
the register's old and new units in dim_units, every old commune's succession, this month's commune ranking in
the current basis with rank changes across the reform, and what the national receiver holds."""

from __future__ import annotations

from datetime import date

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from .conftest import E2E_ENV, E2E_PROVINCE

REFORM = date(2025, 7, 1)
LAST_OLD_DAY = date(2025, 6, 30)

pytestmark = pytest.mark.skipif(E2E_PROVINCE != "25", reason="these figures are the merged Phú Thọ's")


def _rows(live_stack, sql: str, *params) -> list[dict]:
    with psycopg.connect(live_stack["warehouse"]["marts_reader_uri"]) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_dim_units_holds_old_units_to_june_and_new_units_from_july(live_stack):
    units = _rows(
        live_stack,
        "SELECT DISTINCT unit_code, unit_valid_from, unit_valid_to, unit_type, current_unit_code FROM marts.dim_units",
    )
    committees = [u for u in units if u["unit_type"] == "UBND_TINH"]
    old = [u for u in committees if u["unit_valid_to"] == LAST_OLD_DAY]
    new = [u for u in committees if u["unit_valid_from"] == REFORM]
    assert sorted(u["unit_code"][-3:] for u in old) == ["H17", "H25", "H26"], old
    assert len(new) == 1 and new[0]["unit_valid_to"] is None and new[0]["unit_code"].endswith("H25"), new
    # the old committees' figures go to the new one in the current basis
    assert {u["current_unit_code"] for u in old} == {new[0]["unit_code"]}
    districts = [u for u in units if u["unit_type"] == "UBND_HUYEN"]
    assert districts and all(u["unit_valid_to"] == LAST_OLD_DAY and u["current_unit_code"] is None for u in districts)
    communes = [u for u in units if u["unit_type"] == "UBND_XA"]
    old_communes = [u for u in communes if u["unit_valid_to"] == LAST_OLD_DAY]
    new_communes = [u for u in communes if u["unit_valid_from"] == REFORM]
    assert len(new_communes) == 148
    assert len(old_communes) > 400
    assert len(old_communes) + len(new_communes) == len(communes)
    # a reused identifier is two units, never one
    reused = {u["unit_code"] for u in old_communes} & {u["unit_code"] for u in new_communes}
    assert reused, "the demo province reuses commune identifiers across the reform"


def test_every_old_commune_has_a_successor_in_the_bridge(live_stack):
    missing = _rows(
        live_stack,
        "SELECT u.unit_code, u.unit_name FROM marts.dim_units u WHERE u.unit_type = 'UBND_XA'"
        " AND u.unit_valid_to = %s AND NOT EXISTS (SELECT 1 FROM marts.bridge_unit_succession b"
        " WHERE b.unit_code = u.unit_code AND b.unit_valid_from = u.unit_valid_from AND b.is_primary"
        " AND b.successor_valid_from = %s)",
        LAST_OLD_DAY,
        REFORM,
    )
    assert not missing, missing[:5]


def test_this_months_commune_ranking_changes_across_the_reform(live_stack):
    rows = _rows(
        live_stack,
        "SELECT basis, period_start, count(*) AS units, count(rank_change) AS with_change"
        " FROM marts.rpt_unit_rankings WHERE ranking_code = 'QD766' AND unit_group = 'XA' AND period_type = 'month'"
        " AND period_start IN ('2025-06-01', '2025-07-01') GROUP BY 1, 2 ORDER BY 1, 2",
    )
    got = {(r["basis"], str(r["period_start"])): (r["units"], r["with_change"]) for r in rows}
    # current basis: today's 148 communes in June too (from their predecessors), so July's change is real
    assert got[("current", "2025-06-01")][0] == 148
    assert got[("current", "2025-07-01")] == (148, 148)
    # historical basis: June ranks the old communes, July the new ones, with no change across the reform
    assert got[("historical", "2025-06-01")][0] > 400
    assert got[("historical", "2025-07-01")] == (148, 0)
    huyen_after = _rows(
        live_stack,
        "SELECT count(*) AS n FROM marts.rpt_unit_rankings WHERE unit_group = 'HUYEN' AND period_end >= %s",
        REFORM,
    )
    assert huyen_after[0]["n"] == 0


def test_national_receiver_holds_the_merged_provinces_reports_from_the_reform(live_stack):
    port = E2E_ENV["CHISO_NATIONAL_PORT"]
    received = httpx.get(f"http://127.0.0.1:{port}/_sim/received", timeout=30).json()
    docs = [r["baoCao"] for r in received]
    assert docs, "nothing exported"
    periods = {(d["kyBaoCao"]["tuNgay"], d["kyBaoCao"]["denNgay"]) for d in docs}
    assert all(end >= REFORM.isoformat() for _, end in periods), sorted(periods)
    assert ("2025-06-15", "2025-07-14") in periods, sorted(periods)
    assert ("2025-07-01", "2025-07-31") in periods, sorted(periods)
    assert {d["donViBaoCao"]["maDVHC"] for d in docs} == {"25"}
    assert {d["donViBaoCao"]["maDinhDanh"] for d in docs} == {"000.00.00.H25"}
    # current identifiers only: no old district or commune reports after the reform
    units = {item["maDinhDanh"] for d in docs for item in d["duLieu"]}
    old = _rows(
        live_stack,
        "SELECT DISTINCT unit_code FROM marts.dim_units WHERE unit_valid_to = %s"
        " AND unit_code NOT IN (SELECT unit_code FROM marts.dim_units WHERE is_current)",
        LAST_OLD_DAY,
    )
    assert not units & {r["unit_code"] for r in old}
