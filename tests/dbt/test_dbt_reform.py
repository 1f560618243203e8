"""The warehouse across the 2025 reform (reform.md), end to end on the real PostgreSQL fixture: a small register
(reform_dataset.py: two communes merged, one split with its code reused, a department absorbed on 1/3/2025, a
district committee's own dossiers, the province committee's code reused) served through the source interfaces,
loaded by the real extractors, `dbt seed` + `dbt build`; marts in both bases equal a hand computation. Before it,
the same 2024 records are built with a register without any reform: the 2024 historical basis must not change.

Every commune dossier is on procedure XP (full-online, no fee, for citizens, connected to population data,
announced in 2023) and received online full-online, with no e-result, digitisation, reuse, personal-store,
population-data, fee or dissatisfied counts and no petitions. So in every quarter below a commune's QD766 points
are, by group (warehouse.md):
  CKMB = PUBLISH_ON_TIME 0 + PUBLIC_UPDATE_ON_TIME 0 (nothing announced in the period: 0/0, rule zero)
         + PUBLIC_CONTENT_FULL 2 (3/3) + DOSSIER_SYNC 6 × synced / received
  TDGQ = 20 × (early + on time + in progress within at end) / (resolved + in progress at end)
  CLGQ = FULL_ONLINE_DOSSIERS 12 (all full-online on a full-online procedure; 0/0 -> 0 when nothing received)
  MDSH = E_RESULT, DIGITIZED, REUSED_DATA, PERSONAL_STORAGE, POPULATION_DATA_DOSSIER 0 (0 / handled or 0/0)
         + POPULATION_DATA_PROCEDURE 2 (XP: 1/1) + E_CERTIFIED_COPY 2 × communes offering / communes
  TTTT = 0 (no fee-bearing procedure: 0/0, rule zero)
  MDHL = PETITION_ON_TIME 6 + PETITION_SATISFACTION 6 (no petitions: rule full)
         + DOSSIER_SATISFACTION 6 × min(1, (1 − (late + overdue at end) / handled) / 0.9) (0/0 -> 0)
i.e. 28 + SYNC + TDGQ + E_CERTIFIED_COPY + DOSSIER_SATISFACTION; each indicator's points rounded to 2 decimals.
Departments (procedure TP, level TINH) the same, with E_CERTIFIED_COPY not applicable (rule full: 2)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import handmade_source as hs
import pytest
import reform_dataset as rd
from psycopg.rows import dict_row
from reform_dataset import ABSORBED, OLD, PROV, REFORM, S1, S1N, S2, S3, A, B, C, D, E, X, Y, Z

pytestmark = pytest.mark.dbt  # and postgres, from the `warehouse` fixture

MARTS = ("fct_indicator_values", "rpt_qd766_scores", "rpt_unit_rankings", "rpt_dossier_report")

# Unit identities: identifier + start of validity (codes are reused).
PROV_OLD, PROV_NEW = (PROV, OLD), (PROV, REFORM)
S1_, S2_, S3_, S1N_, D_ = (S1, OLD), (S2, OLD), (S3, OLD), (S1N, REFORM), (D, OLD)
A_, B_, C_, E_ = (A, OLD), (B, OLD), (C, OLD), (E, OLD)
X_, Y_, Z_ = (X, REFORM), (Y, REFORM), (Z, REFORM)  # Y_ = C's identifier, a new unit
CURRENT_UNITS = {PROV_NEW, S1N_, S3_, X_, Y_, Z_}  # valid on the last loaded day, 30/9/2025

Q1, Q2, Q3 = date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1)
FEB, MAY, JUN = date(2025, 2, 1), date(2025, 5, 1), date(2025, 6, 1)
Y2024, Y2025 = date(2024, 1, 1), date(2025, 1, 1)
LAST_OLD_DAY, FEB28 = date(2025, 6, 30), date(2025, 2, 28)

SYNC, ON_TIME = "QD766.CKMB.DOSSIER_SYNC", "QD766.TDGQ.ON_TIME"
E_COPY, SATISFACTION = "QD766.MDSH.E_CERTIFIED_COPY", "QD766.MDHL.DOSSIER_SATISFACTION"


def reset(warehouse) -> None:
    """Empty warehouse: raw, the dbt schemas and dbt's own schemas dropped, roles and raw recreated."""
    from chiso.stack import postgres

    with warehouse.connect("postgres", autocommit=True) as conn:
        for schema in ("raw", "quality", "exports", "chiso_meta", "staging", "intermediate", "marts", "seeds"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspowner = 'chiso_transformer'::regrole"
        ).fetchall():
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_transformer")  # dbt's incremental staging
    postgres.bootstrap(warehouse.settings, warehouse.creds)


def build(warehouse, tmp_path_factory, reform: bool) -> None:
    """The dataset through the source interfaces and the extractors into an empty warehouse, then dbt."""
    reset(warehouse)
    source = rd.hand_made_source(reform)
    with hs.serve(source, tmp_path_factory.mktemp("esign_drop"), ports=rd.PORTS) as sources:
        rd.load_all(sources, warehouse.uri("chiso_loader"), reform)
    workdir = tmp_path_factory.mktemp("dbt")
    for args in (["seed"], ["build"]):
        rd.dbt(args, port=warehouse.settings.pg_port, password=warehouse.creds["pg_transformer"], workdir=workdir)


def fetch(warehouse, sql: str, *params) -> list[dict]:
    with warehouse.connect("chiso_reader") as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def rows_of_2024(warehouse, table: str) -> list[dict]:
    """A mart's rows of the periods that end in 2024, without the bookkeeping columns (_refreshed_at, ...)."""
    rows = fetch(warehouse, f"SELECT * FROM marts.{table} WHERE period_end <= '2024-12-31'")
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


@pytest.fixture(scope="module")
def pre_reform(warehouse, tmp_path_factory):
    """The 2024 records built with the register as if no reform had happened: its 2024 rows, per mart."""
    build(warehouse, tmp_path_factory, reform=False)
    return {table: rows_of_2024(warehouse, table) for table in MARTS}


@pytest.fixture(scope="module")
def built(warehouse, pre_reform, tmp_path_factory):
    build(warehouse, tmp_path_factory, reform=True)


def one(warehouse, table: str, basis: str, unit: tuple, scope: str, period_type: str, start: date, **more) -> dict:
    """The row of a unit (identifier, start of validity) in a mart, for one basis, scope and period."""
    key = {"basis": basis, "unit_code": unit[0], "unit_valid_from": unit[1], "scope": scope}
    key |= {"period_type": period_type, "period_start": start, **more}
    where = " AND ".join(f"{k} = %s" for k in key)
    rows = fetch(warehouse, f"SELECT * FROM marts.{table} WHERE {where}", *key.values())
    assert len(rows) == 1, (table, key, rows)
    return rows[0]


def approx(x):
    return pytest.approx(Decimal(str(x)), abs=Decimal("0.0001"))


def without(row: dict, *columns: str) -> tuple:
    return tuple(sorted((k, v) for k, v in row.items() if k not in columns and not k.startswith("_")))


# ---------------------------------------------------------------- the register: units and their successors

# (identifier, version start) -> (unit_valid_from, unit_valid_to, current_unit_code, is_current)
DIM_UNITS = {
    (PROV, OLD): (OLD, LAST_OLD_DAY, PROV, False),
    (PROV, REFORM): (REFORM, None, PROV, True),
    (S1, OLD): (OLD, LAST_OLD_DAY, S1N, False),  # the version before the absorption: the same unit
    (S1, ABSORBED): (OLD, LAST_OLD_DAY, S1N, False),
    (S2, OLD): (OLD, FEB28, S1N, False),  # S2 -> S1 -> S1N
    (S3, OLD): (OLD, None, S3, True),
    (S1N, REFORM): (REFORM, None, S1N, True),
    (D, OLD): (OLD, LAST_OLD_DAY, None, False),  # a district committee has no successor
    (A, OLD): (OLD, LAST_OLD_DAY, X, False),
    (B, OLD): (OLD, LAST_OLD_DAY, X, False),
    (C, OLD): (OLD, LAST_OLD_DAY, Y, False),  # Y took C's identifier
    (E, OLD): (OLD, LAST_OLD_DAY, Z, False),
    (X, REFORM): (REFORM, None, X, True),
    (Y, REFORM): (REFORM, None, Y, True),
    (Z, REFORM): (REFORM, None, Z, True),
}
# The register's donViKeThua on each ended unit's last version.
SUCCESSORS = {
    (PROV, OLD): [PROV],
    (S1, ABSORBED): [S1N],
    (S2, OLD): [S1],
    (D, OLD): [],
    (A, OLD): [X],
    (B, OLD): [X],
    (C, OLD): [Y, Z],
    (E, OLD): [Z],
}


def test_dim_units_keeps_every_version_and_both_units_of_a_reused_code(built, warehouse):
    rows = {(r["unit_code"], r["valid_from"]): r for r in fetch(warehouse, "SELECT * FROM marts.dim_units")}
    assert set(rows) == set(DIM_UNITS)
    register = {(v[0], date.fromisoformat(v[6])): v for v in rd.REGISTER}
    for key, (unit_from, unit_to, current, is_current) in DIM_UNITS.items():
        r = rows[key]
        until = register[key][7]
        assert r["valid_to"] == (until and date.fromisoformat(until)), key
        assert (r["unit_valid_from"], r["unit_valid_to"]) == (unit_from, unit_to), key
        assert (r["current_unit_code"], r["is_current"]) == (current, is_current), key
        assert (r["unit_name"], r["staff_count"]) == (register[key][1], register[key][4]), key
    for key, successors in SUCCESSORS.items():
        assert list(rows[key]["successor_unit_codes"] or []) == successors, key
    # the reused identifiers: two units each, told apart by their validity
    assert rows[(C, OLD)]["unit_name"] == "UBND xã Cao Đại" and rows[(C, REFORM)]["unit_name"] == "UBND xã Tân Tiến"
    assert rows[(C, OLD)]["parent_unit_code"] == D and rows[(C, REFORM)]["parent_unit_code"] == PROV


# (unit, its start, successor, its start) -> (is_primary, is_direct, effective_date; None = not checked)
BRIDGE = {
    (PROV, OLD, PROV, REFORM): (True, True, REFORM),  # old committee -> new committee, same identifier
    (S2, OLD, S1, OLD): (True, True, ABSORBED),  # absorbed department -> absorber
    (S1, OLD, S1N, REFORM): (True, True, REFORM),
    (S2, OLD, S1N, REFORM): (True, False, None),  # transitively, to today's unit
    (A, OLD, X, REFORM): (True, True, REFORM),
    (B, OLD, X, REFORM): (True, True, REFORM),
    (C, OLD, Y, REFORM): (True, True, REFORM),  # split: the primary successor (same identifier) ...
    (C, OLD, Z, REFORM): (False, True, REFORM),  # ... and the other one
    (E, OLD, Z, REFORM): (True, True, REFORM),
}


def test_bridge_unit_succession(built, warehouse):
    rows = {
        (r["unit_code"], r["unit_valid_from"], r["successor_unit_code"], r["successor_valid_from"]): r
        for r in fetch(warehouse, "SELECT * FROM marts.bridge_unit_succession")
    }
    # a unit may also be listed as its own (current) successor; every other row is one of these
    moved = {k: r for k, r in rows.items() if k[:2] != k[2:]}
    assert set(moved) == set(BRIDGE)
    for key, (primary, direct, effective) in BRIDGE.items():
        r = moved[key]
        assert (r["is_primary"], r["is_direct"]) == (primary, direct), key
        if effective:
            assert r["effective_date"] == effective, key
    # every old commune reaches exactly one current commune as primary successor; the district committee none
    for commune in (A_, B_, C_, E_):
        primary = [k[2:] for k, r in moved.items() if k[:2] == commune and r["is_primary"]]
        assert len(primary) == 1 and primary[0] in CURRENT_UNITS, commune
    assert not [k for k in moved if k[:2] == D_]


# ---------------------------------------------------------------- which units have rows in which basis


def units_with_rows(warehouse, basis, period_type=None, start=None) -> set[tuple]:
    sql = "SELECT DISTINCT unit_code, unit_valid_from, scope FROM marts.fct_indicator_values WHERE basis = %s"
    params = [basis]
    if period_type:
        sql += " AND period_type = %s AND period_start = %s"
        params += [period_type, start]
    return {(r["unit_code"], r["unit_valid_from"], r["scope"]) for r in fetch(warehouse, sql, *params)}


def test_rows_per_basis(built, warehouse):
    # current basis: today's units only, in every period (the province committee also over its area)
    expected_current = {(*u, "unit") for u in CURRENT_UNITS} | {(*PROV_NEW, "area")}
    assert units_with_rows(warehouse, "current") == expected_current
    assert units_with_rows(warehouse, "current", "quarter", Q2) == expected_current
    assert units_with_rows(warehouse, "current", "year", Y2024) == expected_current
    # historical Q2/2025: the units of the time (S2 ended 28/2); D and the old committee also over their areas
    old = {PROV_OLD, S1_, S3_, D_, A_, B_, C_, E_}
    assert units_with_rows(warehouse, "historical", "quarter", Q2) == {(*u, "unit") for u in old} | {
        (*PROV_OLD, "area"),
        (*D_, "area"),
    }
    # a period straddling a change holds every unit valid at any time in it: Q1/2025 has S2, 2025 has both
    # units of each reused identifier
    assert (*S2_, "unit") in units_with_rows(warehouse, "historical", "quarter", Q1)
    year = units_with_rows(warehouse, "historical", "year", Y2025)
    assert {(*u, "unit") for u in old | CURRENT_UNITS | {S2_}} <= year
    assert {(*PROV_OLD, "area"), (*PROV_NEW, "area"), (*D_, "area")} <= year


# ---------------------------------------------------------------- counts: current basis = predecessors summed

# (basis, unit, scope, period_type, period_start) ->
#     (received, resolved, in progress within at end, overdue at end, carried over); None = not checked
REPORT = {
    # Q2/2025, current: X = A + B (received 4 + 6, resolved 4 + 6), nothing in progress at 30/6
    ("current", X_, "unit", "quarter", Q2): (10, 10, 0, 0, 0),
    # Y = C alone (the primary successor takes all its history): received 5, resolved 4, 1 overdue at 30/6
    ("current", Y_, "unit", "quarter", Q2): (5, 4, 0, 1, 0),
    # Z = E only: C's dossiers went to its primary successor Y, not to Z
    ("current", Z_, "unit", "quarter", Q2): (2, 2, 0, 0, 0),
    # the new committee's own row = the old committee's own dossiers (2)
    ("current", PROV_NEW, "unit", "quarter", Q2): (2, 2, 0, 0, 0),
    # the province's area holds D's own dossiers (3), no commune's row does: PROV 2 + S1 3 + S3 2 + D 3
    # + communes 4 + 6 + 5 + 2 = 27 received; resolved 2 + 3 + 2 + 3 + 4 + 6 + 4 + 2 = 26; C's overdue one
    ("current", PROV_NEW, "area", "quarter", Q2): (27, 26, 0, 1, 0),
    ("historical", PROV_OLD, "area", "quarter", Q2): (27, 26, 0, 1, 0),
    # historical: the district's area = D 3 + its communes 17; resolved 3 + 16
    ("historical", D_, "area", "quarter", Q2): (20, 19, 0, 1, 0),
    ("historical", C_, "unit", "quarter", Q2): (5, 4, 0, 1, 0),
    ("historical", B_, "unit", "quarter", Q2): (6, 6, 0, 0, 0),
    # stocks at a period's last day, before X existed: its predecessors' on that day. May: received A 1 + B 2;
    # at 31/5 A 1 within, B 1 within + 1 overdue
    ("current", X_, "unit", "month", MAY): (3, 0, 2, 1, 0),
    # June: carried over = the predecessors' stock at the end of 31/5 (1 + 2); resolved A 1 + B 2
    ("current", X_, "unit", "month", JUN): (0, 3, 0, 0, 3),
    # Q3: Y resolves C's overdue dossier late (2/7) plus 3 early + 1 late of its own 4; carried over = the stock
    # at the end of 30/6: in the current basis its predecessor C's (1), in the historical basis Y's own (none)
    ("current", Y_, "unit", "quarter", Q3): (4, 5, 0, 0, 1),
    ("historical", Y_, "unit", "quarter", Q3): (4, 5, 0, 0, 0),
    # after the reform the province's area is every current unit, S3 (which carried on) included: PROV 1 + S1N 4
    # + S3 1 + X 5 + Y 4 + Z 5 = 20 received; resolved 1 + 4 + 1 + 5 + 5 + 5 = 21; carried over: C's dossier in
    # the current basis, nothing of the units of the time
    ("current", PROV_NEW, "area", "quarter", Q3): (20, 21, 0, 0, 1),
    ("historical", PROV_NEW, "area", "quarter", Q3): (20, 21, 0, 0, 0),
    # Q1/2025: S1N (from 1/7) = S1 (3 + 2) + S2 (4 + 2, through S2 -> S1 -> S1N); historical: each its own days
    ("current", S1N_, "unit", "quarter", Q1): (11, 11, 0, 0, 0),
    ("historical", S1_, "unit", "quarter", Q1): (5, 5, 0, 0, 0),
    ("historical", S2_, "unit", "quarter", Q1): (6, 6, 0, 0, 0),
    # February: S1 had nothing, S2 received 2 on 14/2
    ("current", S1N_, "unit", "month", FEB): (2, 2, 0, 0, 0),
    ("historical", S1_, "unit", "month", FEB): (0, 0, 0, 0, 0),
    # 2025 to 30/9, identifier C: two units in the historical basis, one with both histories in the current one
    ("historical", C_, "unit", "year", Y2025): (5, 4, None, None, 0),
    ("historical", Y_, "unit", "year", Y2025): (4, 5, 0, 0, 0),
    ("current", Y_, "unit", "year", Y2025): (9, 9, 0, 0, 0),
    # 2024 in the current basis: X = A (3 + 2) + B 2; Y = C (4 + 3); S1N = S1 (5 + 1) + S2 (3 + 2)
    ("current", X_, "unit", "year", Y2024): (7, 7, 0, 0, 0),
    ("current", Y_, "unit", "year", Y2024): (7, 7, 0, 0, 0),
    ("current", S1N_, "unit", "year", Y2024): (11, 11, 0, 0, 0),
}


def test_dossier_counts_are_predecessor_sums(built, warehouse):
    columns = ("received_total", "resolved_total", "in_progress_within", "in_progress_overdue", "carried_over")
    wrong = []
    for key, expected in REPORT.items():
        row = one(warehouse, "rpt_dossier_report", *key)
        got = tuple(row[c] if e is not None else None for c, e in zip(columns, expected, strict=True))
        if got != expected:
            wrong.append((key, "got", got, "expected", expected))
    assert not wrong, "\n".join(map(str, wrong))
    # D's own dossiers are in no current unit's row but the province's area: the current units' own rows of
    # Q2/2025 add up to the area less D's 3
    own = fetch(
        warehouse,
        "SELECT sum(received_total) AS n FROM marts.rpt_dossier_report WHERE basis = 'current' AND scope = 'unit'"
        " AND period_type = 'quarter' AND period_start = %s",
        Q2,
    )
    assert own[0]["n"] == 27 - 3


# (basis, indicator, unit, scope, period_type, period_start) -> (numerator, denominator, points)
INDICATORS = {
    # X in Q2/2025 (current): A's and B's counts summed, then divided — synced 4 + 3 over received 4 + 6 = 0.7
    # -> 6 × 0.7 = 4.2 (averaging A's 1.0 and B's 0.5 would give 4.5)
    ("current", SYNC, X_, "unit", "quarter", Q2): (7, 10, 4.2),
    # (A early 3 + on time 1, B on time 3) / resolved 10, nothing in progress at 30/6 -> 20 × 0.7
    ("current", ON_TIME, X_, "unit", "quarter", Q2): (7, 10, 14),
    # register attributes counted over the predecessors: A offers e-certified copies, B does not -> 2 × 1/2
    ("current", E_COPY, X_, "unit", "quarter", Q2): (1, 2, 1),
    # A holds an organisation certificate on 30/6, B none -> 50 × 1/2
    ("current", "ESIGN.ORG_CERT", X_, "unit", "quarter", Q2): (1, 2, 25),
    # personal certificates in force on 30/6: A 4 + B 2 over staff 10 + 8 -> 100 × 1/3
    ("current", "ESIGN.STAFF_CERT_COVERAGE", X_, "unit", "quarter", Q2): (6, 18, 33.33),
    # outgoing documents signed: A 4 + B 3 over 4 + 6 -> 100 × 0.7
    ("current", "EDOC.OUTGOING_SIGNED", X_, "unit", "quarter", Q2): (7, 10, 70),
    ("historical", SYNC, A_, "unit", "quarter", Q2): (4, 4, 6),
    ("historical", SYNC, B_, "unit", "quarter", Q2): (3, 6, 3),
    ("historical", E_COPY, B_, "unit", "quarter", Q2): (0, 1, 0),
    # Y = C: 4 early over resolved 4 + 1 in progress at 30/6 -> 20 × 0.8
    ("current", SYNC, Y_, "unit", "quarter", Q2): (5, 5, 6),
    ("current", ON_TIME, Y_, "unit", "quarter", Q2): (4, 5, 16),
    ("current", E_COPY, Y_, "unit", "quarter", Q2): (1, 1, 2),
    ("current", SYNC, Z_, "unit", "quarter", Q2): (1, 2, 3),
    ("current", E_COPY, Z_, "unit", "quarter", Q2): (0, 1, 0),
    # the province's area, D's own 3 dossiers (none synced) included: synced PROV 2 + S1 3 + S3 1 + D 0
    # + A 4 + B 3 + C 5 + E 1 = 19 of 27 -> 6 × 19/27 = 4.2222
    ("current", SYNC, PROV_NEW, "area", "quarter", Q2): (19, 27, 4.22),
    ("historical", SYNC, PROV_OLD, "area", "quarter", Q2): (19, 27, 4.22),
    ("historical", SYNC, D_, "area", "quarter", Q2): (13, 20, 3.9),
    # S1N in Q1/2025: S1 (3 + 2 synced of 5) + S2 (2 + 1 of 6) = 8 / 11 -> 6 × 0.7273 = 4.3636
    ("current", SYNC, S1N_, "unit", "quarter", Q1): (8, 11, 4.36),
    ("historical", SYNC, S1_, "unit", "quarter", Q1): (5, 5, 6),
    ("historical", SYNC, S2_, "unit", "quarter", Q1): (3, 6, 3),
    # the one dossier base (warehouse.md ᵇ) over predecessors: in June X's predecessors received nothing and resolved
    # 3 (A 1 + B 2), nothing in progress at 30/6 -> handled 3; e-results 0 of 3 (on received it would be 0/0)
    ("current", "QD766.MDSH.E_RESULT", X_, "unit", "month", JUN): (0, 3, 0),
    # Q3: the new units' own figures; X's certificates 9 over its staff 18 -> 100 × 0.5
    ("current", "ESIGN.STAFF_CERT_COVERAGE", X_, "unit", "quarter", Q3): (9, 18, 50),
    ("current", ON_TIME, Y_, "unit", "quarter", Q3): (3, 5, 12),
}


def test_ratios_from_summed_counts(built, warehouse):
    # points as the portal publishes them: rounded half-up to 2 decimals (warehouse.md), hence exact equality
    wrong = []
    for (basis, code, unit, scope, period_type, start), (num, den, points) in INDICATORS.items():
        row = one(warehouse, "fct_indicator_values", basis, unit, scope, period_type, start, indicator_code=code)
        got = (row["numerator"], row["denominator"], row["points"], row["is_applicable"])
        if got != (num, den, Decimal(str(points)), True) or row["value"] != approx(Decimal(num) / Decimal(den)):
            wrong.append(((basis, code, unit, scope, period_type, start), "got", got, "expected", (num, den, points)))
    assert not wrong, "\n".join(map(str, wrong))
    # dossier satisfaction of X (current Q2): 1 − (late 3 + overdue 0) / handled 10 = 0.7 -> 6 × 0.7 / 0.9
    row = one(warehouse, "fct_indicator_values", "current", X_, "unit", "quarter", Q2, indicator_code=SATISFACTION)
    assert row["value"] == approx(0.7) and row["points"] == Decimal("4.67")


# ---------------------------------------------------------------- QD766 scores and rankings

# (basis, unit, period_start of a quarter) -> (ckmb, tdgq, mdsh, mdhl, total); clgq 12 and tttt 0 throughout
COMMUNE_SCORES = {
    # historical Q2/2025: A synced 4/4, 4 in time of 4, offers e-copies -> 8 + 20 + 12 + 4 + 0 + 18 = 62
    ("historical", A_, Q2): (8, 20, 4, 18, 62),
    # B: synced 3/6 -> 3; 3 in time of 6 -> 10; late 3 of 6 -> 6 × 0.5 / 0.9 = 3.33 -> 5 + 10 + 12 + 2 + 15.33
    ("historical", B_, Q2): (5, 10, 2, 15.33, 44.33),
    # C: 5/5 -> 6; 4 / (4 + 1 in progress) -> 16; overdue 1 of 5 -> 6 × 0.8 / 0.9 = 5.33 -> 8 + 16 + 12 + 4 + 17.33
    ("historical", C_, Q2): (8, 16, 4, 17.33, 57.33),
    # E: 1/2 -> 3; 2/2 -> 20; no late -> 6 -> 5 + 20 + 12 + 2 + 18
    ("historical", E_, Q2): (5, 20, 2, 18, 57),
    # current Q2/2025: X = A + B: 6 × 0.7 = 4.2; 20 × 0.7 = 14; e-copy 1/2 -> 1; 6 × 0.7 / 0.9 = 4.67
    ("current", X_, Q2): (6.2, 14, 3, 16.67, 51.87),
    ("current", Y_, Q2): (8, 16, 4, 17.33, 57.33),  # = C
    ("current", Z_, Q2): (5, 20, 2, 18, 57),  # = E
    # Q3/2025, both bases: X 5/5 synced, 5 early -> 62
    ("historical", X_, Q3): (8, 20, 4, 18, 62),
    ("current", X_, Q3): (8, 20, 4, 18, 62),
    # Y: synced 2/4 -> 3; (3 early) / 5 resolved -> 12; late 2 of 5 -> 6 × 0.6 / 0.9 = 4; offers e-copies
    ("historical", Y_, Q3): (5, 12, 4, 16, 49),
    ("current", Y_, Q3): (5, 12, 4, 16, 49),
    # Z: 4/5 -> 4.8; 4/5 -> 16; late 1 of 5 -> 5.33; no e-copies -> 6.8 + 16 + 12 + 2 + 17.33
    ("historical", Z_, Q3): (6.8, 16, 2, 17.33, 54.13),
    ("current", Z_, Q3): (6.8, 16, 2, 17.33, 54.13),
}


def test_commune_qd766_scores(built, warehouse):
    # group totals and the total are exact sums of the rounded points
    columns = ("ckmb", "tdgq", "clgq", "mdsh", "tttt", "mdhl", "total_points", "band")
    wrong = []
    for (basis, unit, start), (ckmb, tdgq, mdsh, mdhl, total) in COMMUNE_SCORES.items():
        row = one(warehouse, "rpt_qd766_scores", basis, unit, "unit", "quarter", start)
        got = tuple(row[c] for c in columns)
        expected = (*(Decimal(str(x)) for x in (ckmb, tdgq, 12, mdsh, 0, mdhl, total)), band(total))
        if got != expected:
            wrong.append(((basis, unit, start), "got", got, "expected", expected))
    assert not wrong, "\n".join(map(str, wrong))


def band(total: float) -> str:
    return "Trung bình" if total >= 50 else "Yếu"  # the totals here lie between 44 and 63


def ranking(warehouse, basis, group, period_type, start, code="QD766") -> dict[tuple, dict]:
    rows = fetch(
        warehouse,
        "SELECT * FROM marts.rpt_unit_rankings WHERE basis = %s AND ranking_code = %s AND unit_group = %s"
        " AND period_type = %s AND period_start = %s",
        basis,
        code,
        group,
        period_type,
        start,
    )
    return {(r["unit_code"], r["unit_valid_from"]): r for r in rows}


def ranks(rows: dict[tuple, dict]) -> dict[tuple, tuple]:
    columns = ("score", "rank", "units_ranked", "previous_rank", "rank_change")
    return {u: tuple(r[c] for c in columns) for u, r in rows.items()}


def test_commune_ranks_across_the_reform(built, warehouse):
    # Q1/2025: no commune dossiers. Historical: A, C 2 + 4 + 12 = 18 (e-copies), B, E 2 + 2 + 12 = 16 -> ranks
    # 1, 1, 3, 3. Current: Y = C 18, X = A + B 2 + (2 + 1) + 12 = 17, Z = E 16 -> ranks 1, 2, 3.
    # Q2/2025, historical: the old communes, A 62, C 57.33, E 57, B 44.33; rank_change against Q1's ranks
    assert ranks(ranking(warehouse, "historical", "XA", "quarter", Q2)) == {
        A_: (approx(62), 1, 4, 1, 0),
        C_: (approx(57.33), 2, 4, 1, -1),
        E_: (approx(57), 3, 4, 3, 0),
        B_: (approx(44.33), 4, 4, 3, -1),
    }
    # Q2/2025, current: today's communes with their predecessors' figures, Y 57.33, Z 57, X 51.87
    assert ranks(ranking(warehouse, "current", "XA", "quarter", Q2)) == {
        Y_: (approx(57.33), 1, 3, 1, 0),
        Z_: (approx(57), 2, 3, 3, 1),
        X_: (approx(51.87), 3, 3, 2, -1),
    }
    # Q3/2025: X 62, Z 54.13, Y 49. Current: movement across the reform against Q2's current ranks
    assert ranks(ranking(warehouse, "current", "XA", "quarter", Q3)) == {
        X_: (approx(62), 1, 3, 3, 2),
        Z_: (approx(54.13), 2, 3, 2, 0),
        Y_: (approx(49), 3, 3, 1, -2),
    }
    # historical: none of them was ranked in Q2 — not even Y, whose identifier C held (rank 2)
    assert ranks(ranking(warehouse, "historical", "XA", "quarter", Q3)) == {
        X_: (approx(62), 1, 3, None, None),
        Z_: (approx(54.13), 2, 3, None, None),
        Y_: (approx(49), 3, 3, None, None),
    }
    # same across the year: 2025 ranks today's communes; in the historical basis none was ranked in 2024
    year = ranking(warehouse, "historical", "XA", "year", Y2025)
    assert set(year) == {X_, Y_, Z_} and all(r["previous_rank"] is None for r in year.values())
    assert all(r["previous_rank"] is not None for r in ranking(warehouse, "current", "XA", "year", Y2025).values())


def test_department_ranks_across_the_reform(built, warehouse):
    # A department whose dossiers are all resolved early, s of n synced, scores 2 + 6s/n + 20 + 12 + (2 + 2) + 18;
    # one with no dossier 2 + 0 + 0 + 0 + (2 + 2) + 12 = 18.
    # Q4/2024: S1 1/1 -> 62, S2 2/2 -> 62, S3 none -> 18; current: S1N = S1 + S2 3/3 -> 62, S3 18.
    # Q1/2025: S1 5/5 -> 62, S3 1/1 -> 62 (S2 ended 28/2: has rows, not ranked); current S1N 8/11 -> 60.36.
    # Q2/2025: S1 3/3 -> 62, S3 1/2 -> 59. Q3/2025: S3 1/1 -> 62, S1N 2/4 -> 59.
    assert ranks(ranking(warehouse, "historical", "SO_NGANH", "quarter", Q1)) == {
        S1_: (approx(62), 1, 2, 1, 0),
        S3_: (approx(62), 1, 2, 3, 2),
    }
    assert ranks(ranking(warehouse, "historical", "SO_NGANH", "quarter", Q2)) == {
        S1_: (approx(62), 1, 2, 1, 0),
        S3_: (approx(59), 2, 2, 1, -1),
    }
    # S3 carried on across the reform: its historical movement is real; S1N is a new unit
    assert ranks(ranking(warehouse, "historical", "SO_NGANH", "quarter", Q3)) == {
        S3_: (approx(62), 1, 2, 2, 1),
        S1N_: (approx(59), 2, 2, None, None),
    }
    assert ranks(ranking(warehouse, "current", "SO_NGANH", "quarter", Q1)) == {
        S3_: (approx(62), 1, 2, 2, 1),
        S1N_: (approx(60.36), 2, 2, 1, -1),
    }
    assert ranks(ranking(warehouse, "current", "SO_NGANH", "quarter", Q2)) == {
        S1N_: (approx(62), 1, 2, 2, 1),
        S3_: (approx(59), 2, 2, 1, -1),
    }
    assert ranks(ranking(warehouse, "current", "SO_NGANH", "quarter", Q3)) == {
        S3_: (approx(62), 1, 2, 2, 1),
        S1N_: (approx(59), 2, 2, 1, -1),
    }
    # February (S2's last day is 28/2): S2 ranked in the historical basis; the current basis has only today's
    assert set(ranking(warehouse, "historical", "SO_NGANH", "month", FEB)) == {S1_, S2_, S3_}
    assert set(ranking(warehouse, "current", "SO_NGANH", "month", FEB)) == {S1N_, S3_}


def test_no_district_ranking_after_the_reform(built, warehouse):
    after = fetch(
        warehouse,
        "SELECT DISTINCT basis, period_type, period_start FROM marts.rpt_unit_rankings"
        " WHERE unit_group = 'HUYEN' AND period_end > '2025-06-30'",
    )
    assert after == []
    # today's units hold no district: no HUYEN ranking in the current basis at all
    sql = "SELECT 1 FROM marts.rpt_unit_rankings WHERE unit_group = 'HUYEN' AND basis = 'current'"
    assert fetch(warehouse, sql) == []
    # before: D ranked on its area, in both rankings
    for code in ("QD766", "CDS"):
        q2 = ranking(warehouse, "historical", "HUYEN", "quarter", Q2, code)
        assert set(q2) == {D_} and q2[D_]["rank"] == 1 and q2[D_]["units_ranked"] == 1
        assert set(ranking(warehouse, "historical", "HUYEN", "month", JUN, code)) == {D_}
    # D has rows in 2025 (it was valid in part of it) but is not ranked: not valid on the last day
    assert (*D_, "area") in units_with_rows(warehouse, "historical", "year", Y2025)
    assert ranking(warehouse, "historical", "HUYEN", "year", Y2025) == {}


def test_bases_agree_after_the_last_change(built, warehouse):
    for table in ("fct_indicator_values", "rpt_qd766_scores"):
        by_basis = {
            basis: sorted(
                without(r, "basis")
                for r in fetch(
                    warehouse,
                    f"SELECT * FROM marts.{table} WHERE basis = %s AND period_type = 'quarter' AND period_start = %s",
                    basis,
                    Q3,
                )
            )
            for basis in ("historical", "current")
        }
        assert by_basis["historical"] and by_basis["historical"] == by_basis["current"], table
    for basis in ("historical", "current"):
        assert set(ranking(warehouse, basis, "XA", "quarter", Q3)) == {X_, Y_, Z_}
    hist, cur = (ranking(warehouse, b, "XA", "quarter", Q3) for b in ("historical", "current"))
    assert {u: (r["score"], r["rank"]) for u, r in hist.items()} == {u: (r["score"], r["rank"]) for u, r in cur.items()}


# ---------------------------------------------------------------- 2024: the historical basis is the old contract


def test_2024_historical_basis_equals_a_build_without_the_reform(built, warehouse, pre_reform):
    for table in MARTS:
        before = pre_reform[table]
        before_hist = sorted(without(r) for r in before if r["basis"] == "historical")
        before_cur = sorted(without(r, "basis") for r in before if r["basis"] == "current")
        # without a reform the two bases are the same figures
        assert before_hist and sorted(without(r, "basis") for r in before if r["basis"] == "historical") == before_cur
        now = sorted(without(r) for r in rows_of_2024(warehouse, table) if r["basis"] == "historical")
        missing, extra = set(before_hist) - set(now), set(now) - set(before_hist)
        assert not missing and not extra, (table, sorted(missing)[:3], sorted(extra)[:3])
    # the comparison covers every 2024 period of every type, the old communes and the district's area
    periods = {(r["period_type"], r["period_start"]) for r in pre_reform["rpt_qd766_scores"]}
    assert {("month", date(2024, 6, 1)), ("month", date(2024, 12, 1)), ("year", Y2024)} <= periods
    units = {(r["unit_code"], r["scope"]) for r in pre_reform["rpt_qd766_scores"]}
    assert {(A, "unit"), (C, "unit"), (S2, "unit"), (D, "area"), (PROV, "area")} <= units
    huyen = [r for r in pre_reform["rpt_unit_rankings"] if r["unit_group"] == "HUYEN"]
    assert huyen and all(r["unit_code"] == D for r in huyen)
