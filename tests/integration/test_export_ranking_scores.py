"""The CHI_SO_CDS document's totals come from marts.rpt_ranking_scores (issue 16): the exporter restates no weight.

The fake marts (test_export_marts.build_marts) hold a five-indicator catalogue whose weights seed gives QD766 at
most 6 + 20 + 2 = 28 and CDS at most 5 × 28 + 100 + 50 = 290. A document's CDS score must be the mart's, for ranked
and unranked items alike (the province and a district on their own rows are not ranked), and a change of the mart
alone (as a revised weights seed would make it) must reach the document.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from test_export_marts import PROVINCE, build_marts

from chiso.export import build
from chiso.export.periods import CHI_SO_CDS

pytestmark = pytest.mark.pg

START, END = date(2024, 1, 1), date(2024, 2, 29)
SCOPE = {"DON_VI": "unit", "DIA_BAN": "area"}


def _february_document(wh) -> tuple[build.Period, dict]:
    with wh.connect("chiso_loader") as conn:
        period = next(
            p for p in build.mart_periods(conn) if p.report == CHI_SO_CDS and p.period_type == "month"
            and p.period_start == date(2024, 2, 1)
        )  # fmt: skip
        return period, build.build_document(conn, period)


def _totals(doc: dict) -> dict[tuple[str, str], dict[str, dict]]:
    return {
        (i["maDinhDanh"], SCOPE[i["phamVi"]]): {
            c["ma"]: c for c in i["chiTieu"] if c["ma"] in (build.QD766_TOTAL, build.CDS_TOTAL)
        }
        for i in doc["duLieu"]
    }


def _mart(wh) -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    with wh.connect("chiso_loader") as conn:
        rows = conn.execute(
            "SELECT ranking_code, unit_code, scope, score, max_score FROM marts.rpt_ranking_scores"
            " WHERE basis = 'current' AND period_type = 'month' AND period_start = '2024-02-01'"
        ).fetchall()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def test_totals_and_maxima_are_the_marts(fresh_schema):
    wh = fresh_schema
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        build_marts(conn, START, END)
    _, doc = _february_document(wh)
    totals, mart = _totals(doc), _mart(wh)
    assert (PROVINCE, "unit") in totals and (PROVINCE, "area") in totals
    for (unit, scope), t in totals.items():
        qd766, cds = t[build.QD766_TOTAL], t[build.CDS_TOTAL]
        assert (Decimal(str(qd766["diem"])), qd766["diemToiDa"]) == (mart[("QD766", unit, scope)][0], 28)
        assert (Decimal(str(cds["diem"])), cds["diemToiDa"]) == (mart[("CDS", unit, scope)][0], 290)
        # hand check of the mart the document shows: CDS = 5 × the QD766 total + the EDOC and ESIGN points
        item = next(i for i in doc["duLieu"] if (i["maDinhDanh"], SCOPE[i["phamVi"]]) == (unit, scope))
        extra = sum(Decimal(str(c["diem"])) for c in item["chiTieu"] if c["ma"].startswith(("EDOC.", "ESIGN.")))
        assert Decimal(str(cds["diem"])) == 5 * Decimal(str(qd766["diem"])) + extra
    # the province's own row is not ranked (no group), yet it has its CDS total from the mart
    assert "xepHang" not in totals[(PROVINCE, "unit")][build.CDS_TOTAL]


def test_a_change_of_the_mart_alone_reaches_the_document(fresh_schema):
    """Weights revised in the seed change rpt_ranking_scores only: the document follows it."""
    wh = fresh_schema
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        build_marts(conn, START, END)
    _, before = _february_document(wh)
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(
            "UPDATE marts.rpt_ranking_scores SET score = score + 12.5, max_score = 1000 WHERE ranking_code = 'CDS'"
            " AND unit_code = %s AND scope = 'area'",
            (PROVINCE,),
        )
    _, after = _february_document(wh)
    old, new = _totals(before), _totals(after)
    cds_old, cds_new = old[(PROVINCE, "area")][build.CDS_TOTAL], new[(PROVINCE, "area")][build.CDS_TOTAL]
    assert Decimal(str(cds_new["diem"])) == Decimal(str(cds_old["diem"])) + Decimal("12.5")
    assert (cds_old["diemToiDa"], cds_new["diemToiDa"]) == (290, 1000)
    # nothing else moved
    changes = build.figure_changes(before, after)
    assert {(c["maDinhDanh"], c["phamVi"], c["ma"]) for c in changes} == {(PROVINCE, "DIA_BAN", build.CDS_TOTAL)}
