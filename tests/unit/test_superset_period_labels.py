"""Dashboards mark a period that is not complete (marts.dim_periods.is_complete: some day lacks a successful load of
some source) "chưa đủ dữ liệu" in the period label every dataset on dim_periods shows (issue 15)."""

from pathlib import Path

import yaml

from chiso.settings import REPO_ROOT

DATASETS = REPO_ROOT / "superset" / "assets" / "datasets"


def _labelled() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(DATASETS.rglob("*.yaml")):
        sql = yaml.safe_load(path.read_text(encoding="utf-8")).get("sql") or ""
        if "marts.dim_periods p" in sql and "AS period_label" in sql:
            out.append((path, sql))
    return out


def test_every_period_label_marks_incomplete_periods():
    labelled = _labelled()
    names = {p.stem for p, _ in labelled}
    assert names >= {"v_indicator_values", "v_qd766_scores", "v_unit_rankings", "v_dossier_report"}
    for path, sql in labelled:
        label = sql[: sql.index("AS period_label")]
        label = label[label.rindex("coalesce(p.label_vi") :]
        assert "WHEN NOT p.is_complete THEN ' (chưa đủ dữ liệu)'" in label, path.name
