"""National reports across the 2025 reform (reform.md, "National reports across the reform").

The province as it is now reports: its committee valid on the last loaded day, for the periods ending on or after
the day that committee began, in the current basis with today's identifiers. A merged province (new Phú Thọ from
1/7/2025, reusing the old committee's identifier) does not send the periods that were its predecessors' duty; a
pre-reform province (Vĩnh Phúc 2024) sends every period.
"""

from __future__ import annotations

from datetime import date

import pytest
from test_export_delivery import FAST, TOKEN, Receiver
from test_export_marts import (
    COMMUNE,
    H25,
    NEW_NAME,
    NEW_UNITS,
    PHU_THO,
    PROVINCE,
    REFORM,
    VINH_PHUC,
    build_marts,
)

from chiso.export import build, runner
from chiso.export.periods import BIEU_06, CHI_SO_CDS, Period, complete_periods, is_due

pytestmark = pytest.mark.postgres

MERGED_DATA = (date(2024, 12, 15), date(2025, 12, 31))
MERGED_TODAY = date(2026, 1, 5)
PRE_REFORM_DATA = (date(2024, 1, 1), date(2024, 7, 3))
PRE_REFORM_TODAY = date(2024, 7, 5)
SENT = {
    (BIEU_06, "report_month", date(2025, 6, 15)),  # 15/06–14/07/2025: ends after 1/7, sent in the current basis
    (BIEU_06, "report_nine_months", date(2024, 12, 15)),
    (BIEU_06, "report_year", date(2024, 12, 15)),
    (CHI_SO_CDS, "month", date(2025, 7, 1)),
    (CHI_SO_CDS, "quarter", date(2025, 7, 1)),
    (CHI_SO_CDS, "year", date(2025, 1, 1)),
}
NOT_SENT = {  # the predecessor provinces' duty
    (BIEU_06, "report_month", date(2025, 5, 15)),
    (BIEU_06, "report_quarter", date(2025, 3, 15)),
    (BIEU_06, "report_half", date(2024, 12, 15)),
    (CHI_SO_CDS, "month", date(2025, 6, 1)),
    (CHI_SO_CDS, "quarter", date(2025, 4, 1)),
}
BIEU_06_COLUMNS = ", ".join(build.BIEU_06_FIGURES.values())


def _marts(wh, units, data) -> None:
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        build_marts(conn, *data, units=units)


def _run(wh, rcv, out, today, run_id) -> runner.ExportSummary:
    return runner.run_exports(
        wh.uri("chiso_loader"), rcv.url, TOKEN, out, today=today, run_id=run_id, policy=FAST, sleep=lambda s: None
    )


def _complete_due(wh, today) -> dict[tuple[str, str, date], date]:
    """(report, period type, start) -> end of every period the marts hold complete and due on `today`."""
    with wh.connect("chiso_loader") as conn:
        ps = build.mart_periods(conn)
    return {(p.report, p.period_type, p.period_start): p.period_end for p in complete_periods(ps) if is_due(p, today)}


def _sent(wh) -> dict[tuple[str, str, date], dict]:
    with wh.connect("chiso_loader") as conn:
        rows = conn.execute(
            "SELECT report_code, period_type, period_start, period_end, status, document FROM exports.submissions"
        ).fetchall()
    assert all(r[4] == "accepted" for r in rows)
    return {(r[0], r[1], r[2]): {"period_end": r[3], "document": r[5]} for r in rows}


def _bieu06_rows(wh, basis: str, period_type: str, period_start: date) -> dict[tuple[str, date, str], list[int]]:
    with wh.connect("chiso_loader") as conn:
        rows = conn.execute(
            f"SELECT unit_code, unit_valid_from, scope, {BIEU_06_COLUMNS} FROM marts.rpt_dossier_report"
            " WHERE basis = %s AND period_type = %s AND period_start = %s",
            (basis, period_type, period_start),
        ).fetchall()
    return {tuple(r[:3]): list(r[3:]) for r in rows}


def test_merged_province_reports_only_its_own_periods_in_the_current_basis(fresh_schema, tmp_path):
    wh = fresh_schema
    _marts(wh, PHU_THO, MERGED_DATA)
    complete_due = _complete_due(wh, MERGED_TODAY)
    # The periods left out are complete and due: only the reform keeps them back.
    assert complete_due.keys() >= SENT | NOT_SENT
    with Receiver() as rcv:
        summary = _run(wh, rcv, tmp_path, MERGED_TODAY, "merged")
        assert summary.ok, summary.describe()
        sent = _sent(wh)
        assert len(rcv.received()) == len(sent)

        # Every complete, due period ending on or after 1/7/2025, and nothing else.
        assert set(sent) == {k for k, end in complete_due.items() if end >= REFORM}
        assert set(sent) >= SENT and not NOT_SENT & set(sent)
        assert all(s["period_end"] >= REFORM for s in sent.values())

        # The province as it is now, with today's units only (no old committee, district, commune or department).
        for s in sent.values():
            doc = s["document"]
            assert doc["donViBaoCao"] == {"maDinhDanh": H25, "maDVHC": "25", "tenDonVi": NEW_NAME}
            items = [(i["maDinhDanh"], i["phamVi"]) for i in doc["duLieu"]]
            assert items[0] == (H25, "DIA_BAN") and len(items) == len(set(items))
            assert {code for code, _ in items} == NEW_UNITS
            names = {i["maDinhDanh"]: i["tenDonVi"] for i in doc["duLieu"]}
            assert names[H25] == NEW_NAME and names["000.00.01.H25"] == "Sở Khoa học và Công nghệ"

        # The window 15/06–14/07/2025 straddles the reform: its figures are the current basis (today's units with
        # their predecessors' days), not the historical one (the old and new units each with their own days).
        window = sent[(BIEU_06, "report_month", date(2025, 6, 15))]["document"]
        current = _bieu06_rows(wh, "current", "report_month", date(2025, 6, 15))
        historical = _bieu06_rows(wh, "historical", "report_month", date(2025, 6, 15))
        got = {(i["maDinhDanh"], i["phamVi"]): [c["giaTri"] for c in i["chiTieu"]] for i in window["duLieu"]}
        scope = {"DON_VI": "unit", "DIA_BAN": "area"}
        assert got == {(code, ph): current[(code, REFORM, scope[ph])] for code, ph in got}
        assert {k for k in historical if k[1] < REFORM}, "the historical basis holds the old units of the window"
        new_commune = ("000.12.31.H25", REFORM, "unit")
        assert current[new_commune] != historical[new_commune]

        # Rankings and totals of the current basis; maxima from the marts' max_points (QD766 6 + 20 + 2, EDOC 100,
        # ESIGN 50 in these marts).
        july = sent[(CHI_SO_CDS, "month", date(2025, 7, 1))]["document"]
        commune = next(i for i in july["duLieu"] if i["maDinhDanh"] == "000.40.01.H25")
        totals = {c["ma"]: c for c in commune["chiTieu"] if c["ma"] in (build.QD766_TOTAL, build.CDS_TOTAL)}
        assert totals[build.QD766_TOTAL]["diemToiDa"] == 28 and totals[build.CDS_TOTAL]["diemToiDa"] == 290
        assert {totals[build.QD766_TOTAL]["xepHang"], totals[build.CDS_TOTAL]["xepHang"]} <= {1, 2}

        # Historical rows are never read: rewriting all of them changes no document.
        with wh.connect("chiso_transformer", autocommit=True) as conn:
            conn.execute("UPDATE marts.rpt_dossier_report SET received_total = received_total + 1000,"
                         " in_progress_total = 7 WHERE basis = 'historical'")  # fmt: skip
            conn.execute("UPDATE marts.fct_indicator_values SET points = 0, value = 0 WHERE basis = 'historical'")
            conn.execute("UPDATE marts.rpt_qd766_scores SET total_points = 1 WHERE basis = 'historical'")
            conn.execute("UPDATE marts.rpt_unit_rankings SET rank = 99, score = 0 WHERE basis = 'historical'")
        again = _run(wh, rcv, tmp_path, MERGED_TODAY, "merged-again")
        assert again.ok and not again.created and again.unchanged == len(sent)
        # ... while a change to the current basis inside a sent period is a correction (the test can fail).
        with wh.connect("chiso_transformer", autocommit=True) as conn:
            conn.execute(
                "UPDATE marts.rpt_dossier_report SET received_total = received_total + 1 WHERE basis = 'current'"
                " AND period_type = 'report_month' AND period_start = '2025-06-15' AND unit_code = %s",
                (H25,),
            )
        fixed = _run(wh, rcv, tmp_path, MERGED_TODAY, "merged-fixed")
        assert [(s["report"], s["period_type"], s["period_start"], s["revision"]) for s in fixed.created] == [
            (BIEU_06, "report_month", "2025-06-15", 2)
        ]


def test_predecessor_periods_are_refused_and_identifiers_never_merged(fresh_schema):
    wh = fresh_schema
    _marts(wh, PHU_THO, MERGED_DATA)
    with wh.connect("chiso_loader") as conn:
        province = build.reporting_province(conn)
        assert (province["unit_code"], province["unit_valid_from"], province["unit_name"]) == (H25, REFORM, NEW_NAME)
        # Asked directly (an operator's resend of an old submission), a predecessor's period is refused, in Vietnamese.
        june = Period(CHI_SO_CDS, "month", date(2025, 6, 1), date(2025, 6, 30))
        with pytest.raises(build.BuildError, match="trách nhiệm của các tỉnh trước khi sắp xếp"):
            build.build_document(conn, june)
        july = Period(CHI_SO_CDS, "month", date(2025, 7, 1), date(2025, 7, 31))
        assert build.build_document(conn, july)["donViBaoCao"]["maDinhDanh"] == H25

    # Two units under one identifier in the current basis: refused, never merged into one item.
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(
            "INSERT INTO marts.fct_indicator_values SELECT basis, indicator_code, unit_code, DATE '2020-01-01', scope,"
            " period_type, period_start, period_end, framework, group_code, numerator, denominator, value, points,"
            " max_points, is_applicable, evaluated_to FROM marts.fct_indicator_values WHERE basis = 'current'"
            " AND unit_code = '000.12.31.H25' AND period_type = 'month' AND period_start = '2025-07-01'"
        )
    with (
        wh.connect("chiso_loader") as conn,
        pytest.raises(build.BuildError, match=r"Mã định danh 000\.12\.31\.H25 ứng với 2 đơn vị"),
    ):
        build.build_document(conn, july)

    # No committee valid on the last loaded day: nothing is sent, and the run says why.
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute("UPDATE marts.dim_units SET is_current = false WHERE unit_type = 'UBND_TINH'")
    with Receiver() as rcv:
        summary = _run(wh, rcv, wh.settings.home / "exports-none", MERGED_TODAY, "no-province")
        assert summary.due_periods == 0 and not summary.created and rcv.received() == []
        assert not summary.ok and "Không xác định được UBND tỉnh hiện nay" in summary.describe()

    # Data that ends before the merger (the three old committees still valid on the last loaded day): every
    # period so far was the predecessor provinces' duty. Nothing is due, and that is not an error.
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(
            "UPDATE marts.dim_units SET is_current = (valid_to = DATE '2025-06-30') WHERE unit_type = 'UBND_TINH'"
        )
        (n,) = conn.execute(
            "SELECT count(*) FROM marts.dim_units WHERE unit_type = 'UBND_TINH' AND is_current"
        ).fetchone()
        assert n > 1
    with Receiver() as rcv:
        summary = _run(wh, rcv, wh.settings.home / "exports-before-merger", MERGED_TODAY, "before-merger")
        assert summary.due_periods == 0 and not summary.created and rcv.received() == []
        assert summary.ok, summary.describe()


def test_pre_reform_province_sends_every_period(fresh_schema, tmp_path):
    wh = fresh_schema
    _marts(wh, VINH_PHUC, PRE_REFORM_DATA)
    complete_due = _complete_due(wh, PRE_REFORM_TODAY)
    with Receiver() as rcv:
        summary = _run(wh, rcv, tmp_path, PRE_REFORM_TODAY, "pre-reform")
        assert summary.ok, summary.describe()
    sent = _sent(wh)
    # Its committee has been valid since 2020: every complete, due period goes, the first ones included.
    assert set(sent) == complete_due.keys() and len(sent) == 14
    assert {(CHI_SO_CDS, "month", date(2024, 1, 1)), (BIEU_06, "report_month", date(2024, 1, 15))} <= set(sent)
    # In the current basis: the department that ended on 31/3/2024 is not listed (its figures are its
    # successor's), although the historical basis holds it for the first quarter.
    assert _bieu06_rows(wh, "historical", "report_month", date(2024, 1, 15)).keys() >= {
        ("000.00.03.H26", date(2020, 1, 1), "unit")
    }
    current_units = {"000.00.01.H26", "000.00.02.H26", "000.00.12.H26", COMMUNE, "000.12.32.H26", PROVINCE}
    for s in sent.values():
        doc = s["document"]
        assert doc["donViBaoCao"] == {"maDinhDanh": PROVINCE, "maDVHC": "26", "tenDonVi": "UBND tỉnh Vĩnh Phúc"}
        assert {i["maDinhDanh"] for i in doc["duLieu"]} == current_units and len(doc["duLieu"]) == 8
