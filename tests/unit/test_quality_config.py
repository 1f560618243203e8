"""Quality suites as configuration: every suite parses, malformed entries are refused with a named reason,
and the gate raises only on critical failures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chiso.quality import QualityGateError, QualityOutcome, list_suites, load_suite, raise_on_critical
from chiso.quality.config import QualityConfigError, load_freshness, parse_suite, render_sql
from chiso.quality.outcome import ExpectationOutcome, message_vi

EXPECTED_SUITES = {
    "raw_oss_units",
    "raw_oss_procedures",
    "raw_oss_dossier_daily",
    "raw_oss_petition_daily",
    "raw_edoc_documents_daily",
    "raw_esign_signatures_daily",
    "raw_portal_indicator_scores",
    "staging",
    "marts",
}


def test_every_suite_parses_with_names_descriptions_and_severities():
    assert set(list_suites()) == EXPECTED_SUITES
    for name in list_suites():
        spec = load_suite(name)
        assert spec.expectations, name
        for e in spec.expectations:
            assert e.severity in ("critical", "warning")
            assert len(e.description_vi) > 15, e.name
            assert e.asset in spec.assets


def test_brief_checks_exist_by_name():
    names = {s: {e.name for e in load_suite(s).expectations} for s in EXPECTED_SUITES}
    assert {
        "full_online_le_online",
        "synced_le_received",
        "paid_online_le_fee",
        "e_result_le_resolved",
        "unit_known",
        "procedure_known",
        "key_unique_per_version",
        "date_not_before_window",
        "date_not_after_window",
        "count_non_negative__tiep_nhan_truc_tuyen",
    } <= names["raw_oss_dossier_daily"]
    assert {"signed_le_outgoing", "incoming_electronic_le_total"} <= names["raw_edoc_documents_daily"]
    assert "remote_le_all_signatures" in names["raw_esign_signatures_daily"]
    assert {
        "ratio_in_unit_interval",
        "points_le_max_points",
        "group_equals_sum_of_components",
        "total_equals_sum_of_groups",
        "rank_within_units_ranked",
        "every_unit_every_period",
        # across the 2025 reform (reform.md)
        "indicator_rows_only_for_units_of_basis",
        "scores_rows_only_for_units_of_basis",
        "dossier_report_rows_only_for_units_of_basis",
        "ranked_units_valid_at_period_end",
        "ranking_includes_every_unit_of_group",
        "previous_rank_from_preceding_period",
        "no_huyen_ranking_after_reform",
        "successors_have_bridge_rows",
        "succession_one_primary_per_unit",
        "succession_after_predecessor_ends",
        "periods_label_present",
        "periods_key_unique",
        "units_identity_consistent",
        "units_current_home",
    } <= names["marts"]


# Mart assets whose rows are per (basis, unit identity): reform.md's two bases, units keyed by identifier + validity.
BASIS_ASSETS = {
    "indicators": "indicator",
    "scores": "scores",
    "rankings": "rankings",
    "dossier_report": "dossier_report",
}


def test_mart_keys_carry_basis_and_unit_identity():
    spec = load_suite("marts")
    by_name = {e.name: e for e in spec.expectations}
    for asset, prefix in BASIS_ASSETS.items():
        key = spec.assets[asset].key_columns
        assert {"basis", "unit_code", "unit_valid_from"} <= set(key), asset
        assert by_name[f"{prefix}_key_unique"].kwargs["column_list"] == list(key), asset
        present = {e.kwargs["column"] for e in spec.for_asset(asset) if e.name.startswith(f"{prefix}_key_present__")}
        assert set(key) <= present, (asset, set(key) - present)
    # the dimensions: one unit version per row, one succession per (unit, successor), one period per row
    assert by_name["units_key_unique"].kwargs["column_list"] == ["unit_code", "valid_from"]
    assert "units_key_present__unit_valid_from" in by_name
    assert by_name["succession_key_unique"].kwargs["column_list"] == list(spec.assets["succession"].key_columns)
    assert by_name["periods_key_unique"].kwargs["column_list"] == ["period_type", "period_start"]


def test_mart_assets_stay_windowed():
    """Facts and dim_periods are read for the periods that meet the window; the unit dimensions whole."""
    spec = load_suite("marts")
    assert spec.windowed
    for name, asset in spec.assets.items():
        windowed = "$window_start" in asset.query and "$window_end" in asset.query
        assert windowed == (name not in {"units", "succession"}), name


def test_freshness_thresholds_cover_daily_entities():
    cfg = load_freshness()
    daily = {(e.source, e.entity) for e in cfg.entities if e.date_column}
    assert ("esign", "signatures_daily") in daily and ("one_stop_shop", "dossier_daily") in daily


BASE = {
    "suite": "t",
    "layer": "raw",
    "assets": {"a": {"query": "SELECT * FROM raw.x WHERE d BETWEEN $window_start AND $window_end"}},
}


def _suite(*expectations):
    return parse_suite({**BASE, "expectations": list(expectations)})


def test_for_columns_expands_with_stable_names():
    spec = _suite(
        {
            "name": "nonneg",
            "for_columns": ["a", "b"],
            "type": "ExpectColumnValuesToBeBetween",
            "kwargs": {"min_value": 0},
            "severity": "critical",
            "description_vi": "Không âm (cột {column})",
        }
    )
    assert [e.name for e in spec.expectations] == ["nonneg__a", "nonneg__b"]
    assert spec.expectations[1].kwargs == {"min_value": 0, "column": "b"}
    assert spec.expectations[1].description_vi == "Không âm (cột b)"


def test_for_columns_mapping_names_each_column_in_vietnamese():
    spec = _suite(
        {
            "name": "key_present",
            "for_columns": {"scope": "phạm vi", "period_start": "ngày đầu kỳ"},
            "type": "ExpectColumnValuesToNotBeNull",
            "severity": "critical",
            "description_vi": "Khoá phải có giá trị (cột {column})",
        }
    )
    assert [e.name for e in spec.expectations] == ["key_present__scope", "key_present__period_start"]
    assert spec.expectations[0].kwargs == {"column": "scope"}
    assert [e.description_vi for e in spec.expectations] == ["Khoá phải có giá trị (cột phạm vi)",
                                                              "Khoá phải có giá trị (cột ngày đầu kỳ)"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"type": "ExpectColumnValuesToNotBeNull", "severity": "fatal"}, "severity"),
        ({"type": "ExpectSomethingMagic", "severity": "critical"}, "chưa được hỗ trợ"),
        (
            {
                "type": "UnexpectedRowsExpectation",
                "severity": "critical",
                "mostly": 0.9,
                "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch}"},
            },
            "mostly",
        ),
        (
            {
                "type": "UnexpectedRowsExpectation",
                "severity": "critical",
                "kwargs": {"unexpected_rows_query": "SELECT * FROM raw.x"},
            },
            "{batch}",
        ),
        ({"type": "ExpectColumnValuesToNotBeNull", "severity": "critical", "asset": "nope"}, "asset"),
        ({"type": "ExpectColumnValuesToNotBeNull", "severity": "critical", "mostly": 1.5}, "mostly"),
        (
            {
                "type": "UnexpectedRowsExpectation",
                "severity": "critical",
                "sample_columns": ["a"],
                "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch}"},
            },
            "sample_columns",
        ),
    ],
)
def test_malformed_entries_are_refused(entry, reason):
    with pytest.raises(QualityConfigError, match=reason):
        _suite({"name": "x", "description_vi": "mô tả đủ dài cho kiểm tra", **entry})


def test_duplicate_names_are_refused():
    e = {"name": "x", "type": "ExpectColumnValuesToNotBeNull", "severity": "critical", "description_vi": "d"}
    with pytest.raises(QualityConfigError, match="trùng"):
        _suite(e, e)


def test_window_placeholders():
    q = "SELECT 1 WHERE d BETWEEN $window_start AND $window_end"
    assert "DATE '2024-01-01'" in render_sql(q, (date(2024, 1, 1), date(2024, 1, 31)))
    assert "'-infinity'::date" in render_sql(q, None)
    with pytest.raises(KeyError):
        render_sql("SELECT $nope", None)
    with pytest.raises(ValueError):
        render_sql(q, (date(2024, 2, 1), date(2024, 1, 1)))


def _result(name, severity, success):
    return ExpectationOutcome(
        suite="s",
        asset="a",
        name=name,
        expectation_type="T",
        severity=severity,
        success=success,
        description_vi=f"mô tả {name}",
        message_vi=f"thông điệp {name}",
    )


def _outcome(*results):
    now = datetime.now(UTC)
    return QualityOutcome(
        suite="s",
        layer="raw",
        run_id="r",
        window=(date(2024, 1, 1), date(2024, 1, 31)),
        started_at=now,
        finished_at=now,
        results=list(results),
    )


def test_raise_on_critical_lists_failed_critical_checks_in_vietnamese():
    outcome = _outcome(_result("a", "critical", False), _result("b", "warning", False), _result("c", "critical", True))
    assert [r.name for r in outcome.critical_failures] == ["a"]
    assert [r.name for r in outcome.warnings] == ["b"]
    with pytest.raises(QualityGateError) as exc:
        raise_on_critical(outcome)
    text = str(exc.value)
    assert "nghiêm trọng" in text and "[a] thông điệp a" in text and "[b] thông điệp b" in text
    assert "[c]" not in text


def test_warnings_alone_do_not_stop_the_pipeline():
    outcome = _outcome(_result("b", "warning", False), _result("c", "critical", True))
    assert raise_on_critical(outcome) is outcome
    assert outcome.success


def test_messages_say_what_failed_and_how_much():
    m = message_vi(
        description="Không âm",
        success=False,
        is_sql=False,
        element_count=200,
        unexpected_count=3,
        unexpected_percent=1.5,
        mostly=0.99,
        observed_value=None,
        sample=[{"ngay": "2024-01-03", "x": -1}],
        hint="Báo nguồn.",
    )
    assert "KHÔNG ĐẠT: 3 / 200 dòng vi phạm (1.50%; cho phép tối đa 1.00%)" in m
    assert "ngay=2024-01-03" in m and m.endswith("Gợi ý: Báo nguồn.")
    ok = message_vi(
        description="Không âm",
        success=True,
        is_sql=False,
        element_count=200,
        unexpected_count=0,
        unexpected_percent=0.0,
        mostly=None,
        observed_value=None,
        sample=[],
    )
    assert "đạt" in ok
    err = message_vi(
        description="X",
        success=False,
        is_sql=True,
        element_count=None,
        unexpected_count=None,
        unexpected_percent=None,
        mostly=None,
        observed_value=None,
        sample=[],
        error="relation missing",
    )
    assert "KHÔNG CHẠY ĐƯỢC" in err
