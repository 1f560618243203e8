"""Each class of bad data the simulator can inject into the raw layer is caught by a named expectation
with a message the data engineer understands; clean data passes; every run stores one row per expectation."""

from __future__ import annotations

import os
from datetime import date

import pytest
import quality_data as qd

from chiso.quality import QualityGateError, freshness, raise_on_critical, validate, validate_many

pytestmark = pytest.mark.postgres
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

RAW_SUITES = [
    "raw_oss_units",
    "raw_oss_procedures",
    "raw_oss_dossier_daily",
    "raw_oss_petition_daily",
    "raw_edoc_documents_daily",
    "raw_esign_signatures_daily",
]


@pytest.fixture
def clean(fresh_schema):
    with fresh_schema.connect("chiso_loader", autocommit=True) as conn:
        qd.load_clean(conn)
    return fresh_schema


def _run(wh, suite, tmp_path, run_id="run-1", window=qd.WINDOW, **kw):
    return validate(suite, warehouse_uri=wh.uri("chiso_loader"), run_id=run_id, window=window, home=tmp_path, **kw)


def _failed(outcome):
    return {r.name: r for r in outcome.results if not r.success}


def test_clean_raw_data_passes_and_results_are_stored(clean, tmp_path):
    for suite in RAW_SUITES:
        outcome = _run(clean, suite, tmp_path, build_docs=suite == RAW_SUITES[-1])
        assert not _failed(outcome), {n: r.message_vi for n, r in _failed(outcome).items()}
        raise_on_critical(outcome)
    with clean.connect("chiso_loader") as conn:
        per_suite = dict(
            conn.execute(
                "SELECT suite, count(*) FROM quality.expectation_results WHERE run_id = 'run-1' GROUP BY suite"
            ).fetchall()
        )
        runs = conn.execute("SELECT count(*) FROM quality.validation_runs WHERE success").fetchone()[0]
    assert per_suite["raw_oss_dossier_daily"] == len(outcome.results) or per_suite.keys() == set(RAW_SUITES)
    assert set(per_suite) == set(RAW_SUITES) and runs == len(RAW_SUITES)
    assert (tmp_path / "data_docs" / "index.html").exists()
    assert outcome.data_docs_index == tmp_path / "data_docs" / "index.html"


def test_layer_is_validated_in_one_call_with_one_docs_build(clean, tmp_path):
    """What check_raw runs: every raw suite in one GX context; each suite stored, Data Docs built once with
    the pages of every suite of this run."""
    outcomes = validate_many(
        RAW_SUITES, warehouse_uri=clean.uri("chiso_loader"), run_id="run-layer", window=qd.WINDOW, home=tmp_path
    )
    assert [o.suite for o in outcomes] == RAW_SUITES
    assert all(not _failed(o) for o in outcomes), [(o.suite, list(_failed(o))) for o in outcomes]
    index = tmp_path / "data_docs" / "index.html"
    assert index.exists() and all(o.data_docs_index == index for o in outcomes)
    pages = tmp_path / "data_docs" / "validations"
    rendered = {p.relative_to(pages).parts[0].split(".")[0] for p in pages.rglob("*.html")}
    assert rendered == set(RAW_SUITES)
    with clean.connect("chiso_loader") as conn:
        stored = dict(
            conn.execute(
                "SELECT suite, data_docs_path FROM quality.validation_runs WHERE run_id = 'run-layer'"
            ).fetchall()
        )
    assert stored == dict.fromkeys(RAW_SUITES, str(index))
    with clean.connect("chiso_loader") as conn:  # every scratch table of the run is dropped
        left = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'quality' AND tablename LIKE '\\_batch\\_%'"
        ).fetchone()
    assert left[0] == 0


def test_dossier_faults_are_caught_by_name(clean, tmp_path):
    unit, other = qd.CODES[1], qd.CODES[2]
    with clean.connect("chiso_loader", autocommit=True) as conn:
        b = qd.audit(conn, "one_stop_shop", "dossier_daily", date(2024, 1, 5), date(2024, 1, 12))
        rows = [
            qd.dossier_row(date(2024, 1, 5), unit, "1.001", b, 0, 0, tiep_nhan_truc_tiep=-2)[0],  # negative
            qd.dossier_row(date(2024, 1, 6), "999.99.99.H26", "1.001", b, 0, 0)[0],  # unknown unit
            qd.dossier_row(date(2024, 1, 6), unit, "9.999", b, 0, 0)[0],  # unknown procedure
            qd.dossier_row(date(2024, 1, 7), other, "1.002", b, 0, 0, tiep_nhan_toan_trinh=50)[0],  # flow
            qd.dossier_row(date(2024, 1, 8), other, "1.002", b, 0, 0, co_ket_qua_dien_tu=40)[0],  # e-result
            qd.dossier_row(date(2024, 1, 20), unit, "1.001", b, 0, 0)[0],  # outside the load's window
            qd.dossier_row(date(2024, 1, 9), unit, "1.001", b, 0, 0, so_hoa=1)[0],  # duplicate key ...
            qd.dossier_row(date(2024, 1, 9), unit, "1.001", b, 0, 0, so_hoa=2)[0],  # ... in one batch
        ]
        qd.insert(conn, "oss_dossier_daily", rows)
    outcome = _run(clean, "raw_oss_dossier_daily", tmp_path, run_id="run-faults")
    failed = _failed(outcome)
    expected = {
        "count_non_negative__tiep_nhan_truc_tiep": "không được âm",
        "unit_known": "999.99.99.H26",
        "procedure_known": "9.999",
        "full_online_le_online": "toàn trình",
        "e_result_le_resolved": "kết quả điện tử",
        "date_not_after_window": "2024-01-20",
        "key_unique_per_version": "2024-01-09",
        "synced_le_received": "đồng bộ",  # the negative row received (2 + 0 - 2) < synced
    }
    for name, text in expected.items():
        assert name in failed, f"{name} did not fail"
        assert failed[name].severity == "critical"
        assert "KHÔNG ĐẠT" in failed[name].message_vi and text in failed[name].message_vi, failed[name].message_vi
    for name in ("paid_online_le_fee", "date_not_before_window", "key_present__ma_dinh_danh"):
        assert outcome.result(name).success, outcome.result(name).message_vi
    assert failed["unit_known"].unexpected_sample[0]["ma_dinh_danh"] == "999.99.99.H26"
    with pytest.raises(QualityGateError) as exc:
        raise_on_critical(outcome)
    assert "[unit_known]" in str(exc.value) and "nghiêm trọng" in str(exc.value)
    with clean.connect("chiso_loader") as conn:
        stored = dict(
            conn.execute(
                "SELECT expectation_name, success FROM quality.expectation_results WHERE run_id = 'run-faults'"
            ).fetchall()
        )
        sample = conn.execute(
            "SELECT unexpected_sample, message_vi, unexpected_count FROM quality.expectation_results "
            "WHERE run_id = 'run-faults' AND expectation_name = 'count_non_negative__tiep_nhan_truc_tiep'"
        ).fetchone()
    assert len(stored) == len(outcome.results) and stored["unit_known"] is False and stored["paid_online_le_fee"]
    assert sample[0][0]["tiep_nhan_truc_tiep"] == -2 and sample[2] == 1 and "dòng vi phạm" in sample[1]
    # A retry of the same run replaces its rows instead of duplicating them.
    _run(clean, "raw_oss_dossier_daily", tmp_path, run_id="run-faults", build_docs=False)
    with clean.connect("chiso_loader") as conn:
        n = conn.execute("SELECT count(*) FROM quality.expectation_results WHERE run_id = 'run-faults'").fetchone()
    assert n[0] == len(outcome.results)


def test_window_restricts_what_is_checked(clean, tmp_path):
    with clean.connect("chiso_loader", autocommit=True) as conn:
        b = qd.audit(conn, "one_stop_shop", "dossier_daily", date(2024, 3, 1), date(2024, 3, 1))
        qd.insert(
            conn,
            "oss_dossier_daily",
            [qd.dossier_row(date(2024, 3, 1), qd.CODES[0], "1.001", b, 0, 0, thanh_toan_truc_tuyen=9)[0]],
        )
    january = _run(
        clean, "raw_oss_dossier_daily", tmp_path, window=(date(2024, 1, 1), date(2024, 1, 31)), build_docs=False
    )
    assert january.result("paid_online_le_fee").success
    march = _run(
        clean,
        "raw_oss_dossier_daily",
        tmp_path,
        window=(date(2024, 3, 1), date(2024, 3, 31)),
        build_docs=False,
        run_id="run-march",
    )
    assert not march.result("paid_online_le_fee").success
    assert "thanh toán trực tuyến" in march.result("paid_online_le_fee").message_vi


def test_warning_alone_is_stored_but_does_not_stop(clean, tmp_path):
    with clean.connect("chiso_loader", autocommit=True) as conn:
        conn.execute("UPDATE raw.oss_petition_daily SET khong_hai_long = 5 WHERE ngay = '2024-01-04'")
    outcome = _run(clean, "raw_oss_petition_daily", tmp_path, build_docs=False)
    assert not outcome.critical_failures
    assert [r.name for r in outcome.warnings] == ["dissatisfied_le_handled"]
    assert "cho phép tối đa 1.00%" in outcome.warnings[0].message_vi
    raise_on_critical(outcome)  # does not raise
    with clean.connect("chiso_loader") as conn:
        sev = conn.execute(
            "SELECT severity, success FROM quality.expectation_results "
            "WHERE expectation_name = 'dissatisfied_le_handled'"
        ).fetchone()
    assert sev == ("warning", False)


def test_stock_flow_balance_by_hand(clean, tmp_path):
    """Clean petitions: closing stock = previous closing + 2 received - 1 handled, every day. One unit's closing
    stock on 5 Jan is raised from 5 to 9: 5 Jan is off by +4 (4 + 2 - 1 = 5, not 9) and 6 Jan by -4
    (9 + 2 - 1 = 10, not 6). A window starting on 5 Jan does not judge its first day."""
    unit = qd.CODES[1]
    with clean.connect("chiso_loader", autocommit=True) as conn:
        conn.execute(
            "UPDATE raw.oss_petition_daily SET dang_xu_ly_trong_han = 9 "
            "WHERE ngay = '2024-01-05' AND ma_dinh_danh = %s",
            (unit,),
        )
    outcome = _run(clean, "raw_oss_petition_daily", tmp_path, build_docs=False)
    r = outcome.result("stock_flow_balance")
    assert not r.success and r.unexpected_count == 2 and r.element_count == 40
    got = {(s["ngay"], s["ma_dinh_danh"]): s for s in r.unexpected_sample}
    jan5, jan6 = got[("2024-01-05", unit)], got[("2024-01-06", unit)]
    assert (jan5["ton_dau_ngay"], jan5["ton_cuoi_ngay"], jan5["_chk_stock_flow_balance"]) == (4, 9, 4)
    assert (jan6["ton_dau_ngay"], jan6["ton_cuoi_ngay"], jan6["_chk_stock_flow_balance"]) == (9, 6, -4)
    assert [x.name for x in outcome.warnings] == ["stock_flow_balance"] and not outcome.critical_failures
    later = _run(
        clean, "raw_oss_petition_daily", tmp_path, window=(date(2024, 1, 5), date(2024, 1, 31)), build_docs=False
    )
    r = later.result("stock_flow_balance")
    assert r.unexpected_count == 1 and r.unexpected_sample[0]["ngay"] == "2024-01-06"


def test_document_and_signature_faults(clean, tmp_path):
    with clean.connect("chiso_loader", autocommit=True) as conn:
        conn.execute(
            "UPDATE raw.edoc_documents_daily SET outgoing_signed = 30 "
            "WHERE report_date = '2024-01-03' AND org_code = %s",
            (qd.CODES[1],),
        )
        b = qd.audit(conn, "esign", "signatures_daily", date(2024, 1, 4), date(2024, 1, 4))
        qd.insert(
            conn,
            "esign_signatures_daily",
            [
                qd.esign_row(
                    date(2024, 1, 4),
                    qd.CODES[2],
                    b,
                    remote_signatures=99,
                    file_version=2,
                    source_file="2024/01/chu_ky_so_20240104_v2.csv",
                ),
                qd.esign_row(
                    date(2024, 1, 5), qd.CODES[3], b, source_file="2024/01/chu_ky_so_20240104_v2.csv", file_version=2
                ),  # a row dated unlike its file
                qd.esign_row(date(2024, 1, 4), "888.88.88.H26", b),  # a holder outside the register
            ],
        )
    edoc = _run(clean, "raw_edoc_documents_daily", tmp_path, build_docs=False)
    assert set(_failed(edoc)) == {"signed_le_outgoing"}
    assert qd.CODES[1] in edoc.result("signed_le_outgoing").message_vi
    esign = _run(clean, "raw_esign_signatures_daily", tmp_path, build_docs=False)
    failed = _failed(esign)
    assert {"remote_le_all_signatures", "date_matches_file", "unit_known"} <= set(failed)
    assert failed["unit_known"].severity == "warning" and "888.88.88.H26" in failed["unit_known"].message_vi
    assert failed["remote_le_all_signatures"].severity == "critical"


def test_register_faults(clean, tmp_path):
    with clean.connect("chiso_loader", autocommit=True) as conn:
        b = qd.audit(conn, "one_stop_shop", "units", None, None)
        qd.insert(
            conn,
            "oss_units",
            [
                {
                    "ma_dinh_danh": qd.CODES[3],
                    "ten_don_vi": "UBND xã Tân Tiến (mới)",
                    "loai_don_vi": "UBND_XA",
                    "ma_dinh_danh_cha": "000.00.12.H26",
                    "hieu_luc_tu": date(2023, 6, 1),
                    "_batch_id": b,
                    "_row_hash": "n",
                },
                {
                    "ma_dinh_danh": "000.00.77.H26",
                    "ten_don_vi": "Ban lạ",
                    "loai_don_vi": "BAN_QUAN_LY",
                    "hieu_luc_tu": date(2020, 1, 1),
                    "so_can_bo": -1,
                    "_batch_id": b,
                    "_row_hash": "m",
                },
            ],
        )
    outcome = _run(clean, "raw_oss_units", tmp_path, build_docs=False)
    assert outcome.window is None  # the register is checked whole
    assert {"validity_not_overlapping", "unit_type_known", "staff_non_negative"} <= set(_failed(outcome))
    assert "BAN_QUAN_LY" in outcome.result("unit_type_known").message_vi


def test_missing_relation_is_a_failed_check_not_a_silent_pass(clean, tmp_path):
    outcome = _run(clean, "marts", tmp_path, build_docs=False)
    assert outcome.critical_failures and all(r.error for r in outcome.critical_failures)
    assert "KHÔNG CHẠY ĐƯỢC" in outcome.critical_failures[0].message_vi


def test_freshness(clean):
    with clean.connect("chiso_loader", autocommit=True) as conn:
        conn.execute("UPDATE raw.load_audit SET finished_at = now() - interval '3 days' WHERE entity = 'units'")
        qd.audit(conn, "edoc", "documents_daily", date(2024, 1, 11), date(2024, 1, 11), status="failed")
        qd.audit(conn, "esign", "signatures_daily", date(2024, 1, 11), date(2024, 1, 20))
    rows = {(r["source"], r["entity"]): r for r in freshness(clean.uri("chiso_loader"))}
    assert rows[("one_stop_shop", "dossier_daily")]["status"] == "ok"
    assert rows[("one_stop_shop", "dossier_daily")]["newest_data_date"] == qd.END
    assert rows[("one_stop_shop", "units")]["status"] == "late"
    assert "giờ" in rows[("one_stop_shop", "units")]["status_vi"]
    assert rows[("edoc", "documents_daily")]["status"] == "failing"
    esign = rows[("esign", "signatures_daily")]
    assert esign["status"] == "late" and esign["window_gap_days"] == 10 and "Thiếu dữ liệu" in esign["status_vi"]
