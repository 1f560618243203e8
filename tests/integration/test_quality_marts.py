"""Mart checks against small marts built here per the warehouse.md contract (as chiso_transformer, in
schema marts), on top of the clean raw layer of quality_data: clean marts pass; broken totals, ranks,
ratios and missing units are caught by name."""

from __future__ import annotations

import os
from datetime import date

import pytest
import quality_data as qd
from marts_contract import MARTS_DDL

from chiso.quality import validate

pytestmark = pytest.mark.postgres
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

P_START, P_END = date(2024, 1, 1), date(2024, 1, 31)
GROUP = {"SO_NGANH": "SO_NGANH", "UBND_HUYEN": "HUYEN", "UBND_XA": "XA", "UBND_TINH": "TINH"}
DDL = MARTS_DDL


def _band(total: float) -> str:
    for floor, name in ((90, "Xuất sắc"), (80, "Tốt"), (70, "Khá"), (50, "Trung bình")):
        if total >= floor:
            return name
    return "Yếu"


@pytest.fixture
def marts(fresh_schema):
    with fresh_schema.connect("chiso_loader", autocommit=True) as conn:
        qd.load_clean(conn)
    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(DDL)
        for code, name, utype, parent, staff in qd.UNITS:
            conn.execute(
                "INSERT INTO marts.dim_units VALUES (%s, NULL, %s, %s, %s, '26', %s, '2020-01-01', NULL)",
                (code, name, utype, parent, staff),
            )
        for k, (code, name, utype, _p, _s) in enumerate(qd.UNITS):
            on_time = round(0.95 - 0.1 * k, 2)
            rows = [  # indicator, framework, group, value, max points, applicable
                ("QD766.CKMB.DOSSIER_SYNC", "QD766", "CKMB", 0.9, 6, True),
                ("QD766.TDGQ.ON_TIME", "QD766", "TDGQ", on_time, 20, True),
                ("QD766.MDSH.E_RESULT", "QD766", "MDSH", 0.5, 6, True),
                ("QD766.MDHL.PETITION_ON_TIME", "QD766", "MDHL", None, 6, False),  # none: full points
                ("ESIGN.SIGNATURES_PER_STAFF", "ESIGN", "ESIGN", 1.7, 50, True),  # a rate, may exceed 1
            ]
            groups = dict.fromkeys(("CKMB", "TDGQ", "CLGQ", "MDSH", "TTTT", "MDHL"), 0.0)
            for ind, fw, grp, value, mx, applicable in rows:
                points = mx if value is None else round(mx * min(1.0, value), 4)
                if fw == "QD766":
                    groups[grp] += points
                conn.execute(
                    "INSERT INTO marts.fct_indicator_values VALUES "
                    "(%s, %s, 'unit', 'month', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        ind,
                        code,
                        P_START,
                        P_END,
                        fw,
                        grp,
                        None if value is None else value * 10,
                        10 if applicable else 0,
                        value,
                        points,
                        mx,
                        applicable,
                    ),
                )
            total = sum(groups.values())
            conn.execute(
                "INSERT INTO marts.rpt_qd766_scores VALUES "
                "(%s, 'unit', 'month', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (code, P_START, P_END, *groups.values(), total, _band(total)),
            )
            conn.execute(
                "INSERT INTO marts.rpt_unit_rankings VALUES "
                "('QD766', 'month', %s, %s, %s, %s, %s, %s, 1, 1, NULL, NULL)",
                (P_START, GROUP[utype], code, P_END, name, total),
            )
        conn.execute(
            """INSERT INTO marts.rpt_dossier_report
               SELECT ma_dinh_danh, 'unit', 'month', %(s)s, %(e)s,
                      sum(tiep_nhan_truc_tuyen + tiep_nhan_truc_tiep + tiep_nhan_buu_chinh), sum(tiep_nhan_truc_tuyen),
                      sum(tiep_nhan_truc_tiep + tiep_nhan_buu_chinh), 0,
                      sum(da_xu_ly_truoc_han + da_xu_ly_dung_han + da_xu_ly_qua_han), sum(da_xu_ly_truoc_han),
                      sum(da_xu_ly_dung_han), sum(da_xu_ly_qua_han), 0, 0, 0
               FROM raw.oss_dossier_daily_latest WHERE ngay BETWEEN %(s)s AND %(e)s GROUP BY ma_dinh_danh""",
            {"s": P_START, "e": P_END},
        )
    return fresh_schema


def _run(wh, tmp_path, run_id):
    return validate(
        "marts",
        warehouse_uri=wh.uri("chiso_loader"),
        run_id=run_id,
        window=(P_START, P_END),
        home=tmp_path,
        build_docs=False,
    )


def test_clean_marts_pass(marts, tmp_path):
    outcome = _run(marts, tmp_path, "marts-clean")
    failed = {r.name: r.message_vi for r in outcome.results if not r.success}
    assert not failed, failed
    assert outcome.result("ratio_in_unit_interval").element_count == 4 * 5


def test_broken_marts_are_caught(marts, tmp_path):
    a, b, c, d = qd.CODES
    with marts.connect("chiso_transformer", autocommit=True) as conn:
        # A group total that no longer equals its components (total kept consistent with the groups).
        conn.execute(
            "UPDATE marts.rpt_qd766_scores SET mdsh = mdsh + 1, total_points = total_points + 1 WHERE unit_code = %s",
            (a,),
        )
        conn.execute("UPDATE marts.rpt_qd766_scores SET total_points = total_points + 5 WHERE unit_code = %s", (b,))
        conn.execute("DELETE FROM marts.rpt_qd766_scores WHERE unit_code = %s", (c,))
        conn.execute("UPDATE marts.rpt_unit_rankings SET rank = 2, rank_change = NULL WHERE unit_code = %s", (d,))
        conn.execute(
            "UPDATE marts.fct_indicator_values SET value = 1.3 "
            "WHERE unit_code = %s AND indicator_code = 'QD766.MDSH.E_RESULT'",
            (d,),
        )
        conn.execute(
            "UPDATE marts.rpt_dossier_report SET received_total = received_total + 1 WHERE unit_code = %s", (a,)
        )
    outcome = _run(marts, tmp_path, "marts-broken")
    failed = {r.name: r for r in outcome.results if not r.success}
    group = failed["group_equals_sum_of_components"]
    assert group.severity == "critical" and a in group.message_vi and "MDSH" in group.message_vi
    assert [s["unit_code"] for s in group.unexpected_sample] == [a]
    assert [s["unit_code"] for s in failed["total_equals_sum_of_groups"].unexpected_sample] == [b]
    assert c in failed["scores_every_unit_every_period"].message_vi
    assert d in failed["rank_within_units_ranked"].message_vi
    assert "rank_is_competition_rank" in failed
    assert "1.3" in failed["ratio_in_unit_interval"].message_vi
    assert {"dossier_report_totals", "dossier_report_matches_raw"} <= set(failed)
    assert outcome.result("every_unit_every_period").success  # the indicator rows are all still there
    assert outcome.result("points_le_max_points").success


def test_marts_outdated_by_a_load_during_the_run_are_skipped_not_failed(marts, tmp_path):
    """A load that lands while the transform runs makes the marts disagree with raw: the run does not publish
    them and does not fail (the load queued the next transform). A marts defect, or no new load, still fails."""
    from datetime import UTC, datetime

    from chiso.orchestration import superseded_by_new_loads

    started = datetime.now(UTC)
    unit = qd.CODES[1]
    with marts.connect("chiso_loader", autocommit=True) as conn:  # the late load: one more dossier on 5 Jan
        b = qd.audit(conn, "one_stop_shop", "dossier_daily", date(2024, 1, 5), date(2024, 1, 5))
        row, _ = qd.dossier_row(date(2024, 1, 5), unit, "1.001", b, 0, 0)
        qd.insert(conn, "oss_dossier_daily", [{**row, "tiep_nhan_truc_tuyen": row["tiep_nhan_truc_tuyen"] + 7}])
    outcome = _run(marts, tmp_path, "marts-outdated")
    assert [r.name for r in outcome.critical_failures] == ["dossier_report_matches_raw"]
    reason = superseded_by_new_loads([outcome], marts.uri("chiso_loader"), started)
    assert reason and "one_stop_shop.dossier_daily" in reason and "không được công bố" in reason
    assert superseded_by_new_loads([outcome], marts.uri("chiso_loader"), datetime.now(UTC)) is None  # no new load

    with marts.connect("chiso_transformer", autocommit=True) as conn:  # plus a defect of the marts themselves
        conn.execute("UPDATE marts.rpt_unit_rankings SET rank = 2, rank_change = NULL WHERE unit_code = %s", (unit,))
    broken = _run(marts, tmp_path, "marts-outdated-and-broken")
    assert superseded_by_new_loads([broken], marts.uri("chiso_loader"), started) is None
