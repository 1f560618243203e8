"""dbt end to end on the real PostgreSQL fixture: a hand-made dataset (dbt_dataset.py) served through the source
interfaces and loaded by the real extractors, `dbt seed` + `dbt build`, mart values equal to a hand computation;
then a day restated at the source and extracted again rewrites only the periods holding it, and a rerun with no
change leaves the marts untouched."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dbt_dataset as ds
import handmade_source as hs
import pytest
from dbt_dataset import D1, S1, S2, X1, X2
from psycopg.rows import dict_row

pytestmark = pytest.mark.dbt  # and postgres, from the `warehouse` fixture

FEB = date(2024, 2, 1)
JAN = date(2024, 1, 1)
INCREMENTAL_MARTS = (
    "fct_indicator_values",
    "rpt_qd766_scores",
    "rpt_ranking_scores",
    "rpt_unit_rankings",
    "rpt_dossier_report",
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    with hs.serve(ds.hand_made_source(), tmp_path_factory.mktemp("esign_drop")) as served:
        yield served


@pytest.fixture(scope="module")
def built(warehouse, sources, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dbt")
    with warehouse.connect("postgres", autocommit=True) as conn:
        for schema in ("raw", "chiso_meta", "staging", "intermediate", "marts", "seeds"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        # dbt's incremental materialization stages rows in temporary tables
        conn.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_transformer")
    from chiso.stack import postgres

    postgres.bootstrap(warehouse.settings, warehouse.creds)
    ds.load_all(sources, warehouse.uri("chiso_loader"))

    def run(*args: str):
        return ds.dbt(
            list(args), port=warehouse.settings.pg_port, password=warehouse.creds["pg_transformer"], workdir=workdir
        )

    run("seed")
    run("build")
    return run


def fetch(warehouse, sql: str, *params):
    with warehouse.connect("chiso_reader") as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def indicator(warehouse, code, unit, scope="unit", period_type="month", start=FEB):
    rows = fetch(
        warehouse,
        "SELECT * FROM marts.fct_indicator_values WHERE basis = 'historical' AND indicator_code = %s AND unit_code = %s"
        " AND scope = %s"
        " AND period_type = %s AND period_start = %s",
        code,
        unit,
        scope,
        period_type,
        start,
    )
    assert len(rows) == 1, (code, unit, scope, rows)
    return rows[0]


def snapshot(warehouse, table):
    return {tuple(r.values()): r for r in fetch(warehouse, f"SELECT * FROM marts.{table} ORDER BY 1, 2, 3, 4, 5")}


def approx(x):
    return pytest.approx(Decimal(str(x)), abs=Decimal("0.0001"))


# (indicator, unit, scope) -> (numerator, denominator, points) for February 2024 (evaluated to 2/2), by hand:
FEB_EXPECTED = {
    # S1 received 2 (T1, 1/2) + 2 (T2, 2/2), all 4 synced
    ("QD766.CKMB.DOSSIER_SYNC", S1, "unit"): (4, 4, 6),
    # resolved 1 (on time) + in progress within at 2/2: 1 (T2); T1 has no row on 2/2 -> its stock is 0
    ("QD766.TDGQ.ON_TIME", S1, "unit"): (2, 2, 20),
    # the dossier base (warehouse.md ᵇ): handled = resolved 1 (T1, 1/2) + in progress at 2/2 1 (T2) = 2
    # e-results 1 (T1) / 2 -> 6 × 0.5
    ("QD766.MDSH.E_RESULT", S1, "unit"): (1, 2, 3),
    # reused 1 / handled 2 = 0.5, full at 0.8 -> 2 × 0.625 = 1.25
    ("QD766.MDSH.REUSED_DATA", S1, "unit"): (1, 2, 1.25),
    # digitised 2 + 1 received over 2 handled: 1.5, clamped to 1 -> 4 (the counts stay 3 / 2)
    ("QD766.MDSH.DIGITIZED", S1, "unit"): (3, 2, 4),
    # personal store 1 / 2 -> 4 × 0.5; population data 1 / 2 -> 2 × 0.5
    ("QD766.MDSH.PERSONAL_STORAGE", S1, "unit"): (1, 2, 2),
    ("QD766.MDSH.POPULATION_DATA_DOSSIER", S1, "unit"): (1, 2, 1),
    # the online share stays on received: 2 online of 4 (shown, not scored)
    ("QD766.CLGQ.ONLINE_DOSSIER_SHARE", S1, "unit"): (2, 4, 0),
    # petitions: on time 1 + in progress within at 2/2 (1) over handled 2 + in progress 1
    ("QD766.MDHL.PETITION_ON_TIME", S1, "unit"): (2, 3, 4),
    ("QD766.MDHL.PETITION_SATISFACTION", S1, "unit"): (1, 2, 3),
    # a department has no communes: not applicable, rule "full"
    ("QD766.MDSH.E_CERTIFIED_COPY", S1, "unit"): (0, 0, 2),
    # ⓟ: S1's procedures = T1 (empty list, level TINH) + T2 (lists S1); citizen ones: both, connected: T1
    ("QD766.MDSH.POPULATION_DATA_PROCEDURE", S1, "unit"): (1, 2, 1),
    # ⓟ*: X1P announced 1/2, in force 20/2 = 8 working days later (Tết 8–14/2 off) -> on time
    ("QD766.CKMB.PUBLISH_ON_TIME", S1, "unit"): (1, 1, 6),
    # procedures announced by 29/2: 4, with full content: T1, H1, X1P
    ("QD766.CKMB.PUBLIC_CONTENT_FULL", S2, "unit"): (3, 4, 1.5),
    # lower is better: paper 2 / outgoing 20 -> 50 × 0.9
    ("EDOC.PAPER_PARALLEL", S1, "unit"): (2, 20, 45),
    # work files 8/10 = 0.8, a department's target 0.8 -> full 75
    ("EDOC.WORK_FILES_ONLINE", S1, "unit"): (8, 10, 75),
    # commune X1: 2/10 = 0.2 against target 0.3 -> 75 × 2/3
    ("EDOC.WORK_FILES_ONLINE", X1, "unit"): (2, 10, 50),
    # personal signatures 20 / (40 staff × 2 working days) = 0.25, target 0.5 -> 25
    ("ESIGN.SIGNATURES_PER_STAFF", S1, "unit"): (20, 80, 25),
    ("ESIGN.STAFF_CERT_COVERAGE", S1, "unit"): (30, 40, 75),
    ("ESIGN.ORG_CERT", S1, "unit"): (1, 1, 50),
    # area of district D1 = D1 + X1 + X2: received 3 + 1
    ("QD766.CKMB.DOSSIER_SYNC", D1, "area"): (4, 4, 6),
    # communes of the area: X1 offers e-certified copies, X2 not -> 2 × 0.5
    ("QD766.MDSH.E_CERTIFIED_COPY", D1, "area"): (1, 2, 1),
    ("QD766.MDSH.E_CERTIFIED_COPY", X2, "unit"): (0, 1, 0),
    # X1P is fee-bearing with dossiers in X1 and X2 (counted once), paid online in X1
    ("QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT", D1, "area"): (1, 1, 2),
    # certificates at 2/2: X1 holds 5 personal; staff 30 + 10 + 10; no unit of the area holds an org certificate
    ("ESIGN.STAFF_CERT_COVERAGE", D1, "area"): (5, 50, 10),
    ("ESIGN.ORG_CERT", D1, "area"): (0, 3, 0),
}


def test_indicator_values_match_hand_computation(built, warehouse):
    for (code, unit, scope), (num, den, points) in FEB_EXPECTED.items():
        row = indicator(warehouse, code, unit, scope)
        assert (row["numerator"], row["denominator"]) == (num, den), (code, unit, scope)
        assert row["points"] == approx(points), (code, unit, scope, row["points"])
        assert row["is_applicable"] == (den > 0)
        assert row["period_end"] == date(2024, 2, 29) and row["evaluated_to"] == date(2024, 2, 2)


def test_composite_and_not_applicable_rows(built, warehouse):
    sat = indicator(warehouse, "QD766.MDHL.DOSSIER_SATISFACTION", S1)
    # resolved 1 + in progress 1, nothing late or overdue, no dissatisfied rating -> 1.0 -> full 6
    assert sat["value"] == 1 and sat["points"] == 6 and sat["numerator"] is None
    # a ratio above 1 on a dossier base is scored and shown clamped (value 1), the counts kept
    digitized = indicator(warehouse, "QD766.MDSH.DIGITIZED", S1)
    assert digitized["value"] == 1 and digitized["numerator"] > digitized["denominator"]
    none = indicator(warehouse, "QD766.CKMB.DOSSIER_SYNC", S2)
    assert none["is_applicable"] is False and none["value"] is None and none["points"] == 0
    assert (none["numerator"], none["denominator"]) == (0, 0)


def test_qd766_scores_and_bands(built, warehouse):
    rows = {
        r["unit_code"]: r
        for r in fetch(
            warehouse,
            "SELECT * FROM marts.rpt_qd766_scores WHERE basis = 'historical' AND period_type = 'month'"
            " AND period_start = %s AND scope = 'unit'",
            FEB,
        )
    }
    # S2 has no dossiers or petitions: CKMB 6 + 4 + 1.5; MDSH e-copy (full) 2 + population procedures 2;
    # TTTT integrated fee procedures 2; MDHL petitions 6 + 6 (full when none) -> 29.5, "Yếu"
    s2 = rows[S2]
    assert (s2["ckmb"], s2["mdsh"], s2["tttt"], s2["mdhl"]) == (approx(11.5), approx(4), approx(2), approx(12))
    assert s2["total_points"] == approx(29.5) and s2["band"] == "Yếu"
    # S1: CKMB 17.5, TDGQ 20, CLGQ 12, MDSH e-results 3 + digitised 4 + e-copy 2 + reused 1.25 + personal store 2
    # + population data 1 + population procedures 1 = 14.25 (every dossier indicator over the 2 handled),
    # TTTT 3 + 2 + 2, MDHL 4 + 3 + 6 -> 17.5 + 20 + 12 + 14.25 + 7 + 13 = 83.75
    s1 = rows[S1]
    assert s1["mdsh"] == approx(14.25) and s1["tttt"] == approx(7) and s1["mdhl"] == approx(13)
    assert s1["total_points"] == approx(83.75) and s1["band"] == "Tốt"


def test_rankings(built, warehouse):
    rows = {
        (r["ranking_code"], r["unit_code"]): r
        for r in fetch(
            warehouse,
            "SELECT * FROM marts.rpt_unit_rankings WHERE basis = 'historical' AND period_type = 'month'"
            " AND period_start = %s",
            FEB,
        )
    }
    assert rows[("QD766", S1)]["score"] == approx(83.75) and rows[("QD766", S1)]["rank"] == 1
    assert rows[("QD766", S2)]["rank"] == 2 and rows[("QD766", S2)]["units_ranked"] == 2
    # CDS = 5 × 83.75 + EDOC (67.5 + 90 + 45 + 75) + ESIGN (75 + 50 + 25) = 418.75 + 277.5 + 150 = 846.25
    assert rows[("CDS", S1)]["score"] == approx(846.25)
    assert rows[("QD766", S1)]["previous_rank"] == 1 and rows[("QD766", S1)]["rank_change"] == 0
    # districts are ranked on their area, communes and departments on their own rows
    assert rows[("QD766", D1)]["unit_group"] == "HUYEN"
    first = fetch(
        warehouse, "SELECT * FROM marts.rpt_unit_rankings WHERE basis = 'historical' AND period_start = %s", JAN
    )
    assert first and all(r["previous_rank"] is None and r["rank_change"] is None for r in first)


def test_ranking_scores_are_the_rankings_and_totals_home(built, warehouse):
    rows = fetch(warehouse, "SELECT * FROM marts.rpt_ranking_scores WHERE basis = 'historical'")
    by_key = {(r["ranking_code"], r["unit_code"], r["scope"], r["period_type"], r["period_start"]): r for r in rows}
    s1_qd766, s1_cds = by_key[("QD766", S1, "unit", "month", FEB)], by_key[("CDS", S1, "unit", "month", FEB)]
    # maxima from the weights seed: 100; 500 + 300 + 200
    assert (s1_qd766["score"], s1_qd766["max_score"]) == (approx(83.75), 100)
    assert (s1_cds["score"], s1_cds["max_score"]) == (approx(846.25), 1000)
    # every unit and scope has both scores, ranked or not (a district's own row, the province's)
    totals = fetch(warehouse, "SELECT * FROM marts.rpt_qd766_scores WHERE basis = 'historical'")
    assert totals
    for t in totals:
        key = (t["unit_code"], t["scope"], t["period_type"], t["period_start"])
        assert by_key[("QD766", *key)]["score"] == t["total_points"], key
        assert ("CDS", *key) in by_key, key
    assert len(rows) == 2 * len(totals)
    # the rankings rank these scores
    for r in fetch(warehouse, "SELECT * FROM marts.rpt_unit_rankings WHERE basis = 'historical'"):
        scope = "area" if r["unit_group"] == "HUYEN" else "unit"
        assert (
            r["score"]
            == by_key[(r["ranking_code"], r["unit_code"], scope, r["period_type"], r["period_start"])]["score"]
        )


def test_dossier_report_stocks_and_flows(built, warehouse):
    def report(unit, period_type, start, scope="unit"):
        (row,) = fetch(
            warehouse,
            "SELECT * FROM marts.rpt_dossier_report WHERE basis = 'historical' AND unit_code = %s AND scope = %s"
            " AND period_type = %s"
            " AND period_start = %s",
            unit,
            scope,
            period_type,
            start,
        )
        return row

    jan = report(S1, "month", JAN)
    assert (jan["received_total"], jan["carried_over"], jan["in_progress_within"], jan["in_progress_overdue"]) == (
        5,
        0,
        3,
        1,
    )
    feb = report(S1, "month", FEB)
    # carried over = stock at the end of 31/1 (3 + 1); stock read on 2/2, the last loaded day
    assert (feb["received_total"], feb["received_offline"], feb["carried_over"]) == (4, 2, 4)
    assert (feb["resolved_total"], feb["in_progress_total"]) == (1, 1)
    q1 = report(S1, "quarter", JAN)
    assert (q1["received_total"], q1["resolved_total"], q1["in_progress_total"], q1["carried_over"]) == (9, 5, 1, 0)
    # the Decree 09 window of February: 15/1 – 14/2
    rm = report(S1, "report_month", date(2024, 1, 15))
    assert rm["period_end"] == date(2024, 2, 14) and rm["received_total"] == 9
    area = report(D1, "month", FEB, "area")
    assert (area["received_total"], area["resolved_total"], area["resolved_late"]) == (4, 3, 1)


def test_periods_and_rows_exist_for_every_unit(built, warehouse):
    periods = fetch(warehouse, "SELECT DISTINCT period_type, period_start FROM marts.rpt_qd766_scores")
    assert len(periods) == 9  # 2 months, Q1, 2024, report month/quarter/half/nine months/year
    counts = fetch(
        warehouse,
        "SELECT scope, count(DISTINCT unit_code) AS units FROM marts.rpt_qd766_scores WHERE basis = 'historical'"
        " GROUP BY scope ORDER BY 1",
    )
    assert [(r["scope"], r["units"]) for r in counts] == [("area", 2), ("unit", 6)]


def test_without_a_reform_both_bases_agree(built, warehouse):
    """No unit of this register ended: today's units are the units of every period, so the current basis holds
    exactly the historical rows (reform.md: both are stored, either filter gives the complete series)."""
    for table in INCREMENTAL_MARTS:
        rows = fetch(warehouse, f"SELECT * FROM marts.{table}")
        by_basis: dict[str, set] = {"historical": set(), "current": set()}
        for r in rows:
            by_basis[r["basis"]].add(
                tuple(v for k, v in sorted(r.items()) if k not in ("basis", "_refreshed_at", "_lookup_fingerprint"))
            )
        assert by_basis["historical"], table
        assert by_basis["current"] == by_basis["historical"], table


def test_rerun_without_change_is_a_no_op(built, warehouse):
    before = {t: snapshot(warehouse, t) for t in INCREMENTAL_MARTS}
    built("build")
    after = {t: snapshot(warehouse, t) for t in INCREMENTAL_MARTS}
    assert before == after


def test_restated_day_rewrites_only_its_periods(built, sources, warehouse):
    before = {t: snapshot(warehouse, t) for t in INCREMENTAL_MARTS}
    source = sources.source
    source.clock.advance(2 * 86400)  # the next run, two days later: the source has restated 2/2
    # S1's T2 received 4 in person (was 2), 3 overdue at the end of the day (was 1 within)
    counts = list(ds.DOSSIERS[("2024-02-02", S1, "T2")])
    counts[1], counts[16], counts[17] = 4, 0, 3
    source.put("dossier", ds.dossier_record("2024-02-02", S1, "T2", tuple(counts), source.now().isoformat()))
    # X2's row for 2/2 disappeared from the source: the loader writes a tombstone, its counts become 0
    source.remove("dossier", "2024-02-02", X2, "X1P")
    # the next run re-reads the whole window (a lookback): only the two changed keys get new raw versions
    oss, edoc, esign = sources.extract(warehouse.uri("chiso_loader"), ds.FIRST_DAY, ds.LAST_DAY, run_id="restated")
    assert (oss["totals"]["rows_new_versions"], oss["totals"]["rows_deleted"]) == (1, 1)
    assert edoc["totals"]["rows_new_versions"] == 0 and esign["batches"] == []
    built("build")
    after = {t: snapshot(warehouse, t) for t in INCREMENTAL_MARTS}

    for table in INCREMENTAL_MARTS:
        old_jan = {k: v for k, v in before[table].items() if v["period_type"] == "month" and v["period_start"] == JAN}
        new_jan = {k: v for k, v in after[table].items() if v["period_type"] == "month" and v["period_start"] == JAN}
        assert old_jan and old_jan == new_jan, f"{table}: January does not hold 2/2 and must not be rewritten"
        stamps_before = {v["_refreshed_at"] for v in before[table].values() if v["period_start"] != JAN}
        stamps_after = {
            v["_refreshed_at"]
            for v in after[table].values()
            if not (v["period_type"] == "month" and v["period_start"] == JAN)
        }
        assert stamps_after.isdisjoint(stamps_before), f"{table}: every period holding 2/2 is rewritten"

    # resolved 1 on time, in progress 3 overdue: (0 + 1 + 0) / (1 + 3) = 0.25 -> 20 × 0.25
    row = indicator(warehouse, "QD766.TDGQ.ON_TIME", S1)
    assert (row["numerator"], row["denominator"], row["points"]) == (1, 4, approx(5))
    # synced 2 + 2 over received 2 + 4
    row = indicator(warehouse, "QD766.CKMB.DOSSIER_SYNC", S1)
    assert (row["numerator"], row["denominator"], row["points"]) == (4, 6, approx(4))
    row = indicator(warehouse, "QD766.CKMB.DOSSIER_SYNC", D1, "area")
    assert (row["numerator"], row["denominator"]) == (3, 3)
    (q1,) = fetch(
        warehouse,
        "SELECT * FROM marts.rpt_dossier_report WHERE basis = 'historical' AND unit_code = %s AND scope = 'unit'"
        " AND period_type = 'quarter' AND period_start = %s",
        S1,
        JAN,
    )
    assert (q1["received_total"], q1["in_progress_overdue"], q1["in_progress_within"]) == (11, 3, 0)
