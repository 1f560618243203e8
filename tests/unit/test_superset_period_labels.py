"""Dashboards mark a period that is not complete (marts.dim_periods.is_complete: some day lacks a successful load of
some source) "chưa đủ dữ liệu" in the period label (issue 15). The label is dim_periods.period_label, computed once in
the mart (its dbt unit test period_labels_mark_estimates_and_incomplete_periods); every dataset showing a period label
takes it from there instead of building its own (issue 16)."""

import re
from pathlib import Path

import yaml

from chiso.settings import REPO_ROOT

DATASETS = REPO_ROOT / "superset" / "assets" / "datasets"
MARTS = REPO_ROOT / "dbt_project" / "models" / "marts"


def _sql(doc: dict) -> str:
    """What a dataset runs: its own SQL, or the presentation mart it reads as a physical table."""
    if doc.get("sql"):
        return doc["sql"]
    model = MARTS / "presentation" / f"{doc['table_name']}.sql"
    return model.read_text(encoding="utf-8") if model.exists() else ""


def _labelled() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(DATASETS.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "period_label" in {c["column_name"] for c in doc["columns"]}:
            out.append((path, _sql(doc)))
    return out


def test_the_period_label_marks_incomplete_periods():
    sql = (MARTS / "dim_periods.sql").read_text(encoding="utf-8")
    label = sql[: sql.index("as period_label")]
    assert "when not is_complete then ' (chưa đủ dữ liệu)'" in label[label.rindex("label_vi"):]


def test_every_period_label_is_dim_periods():
    labelled = _labelled()
    names = {p.stem for p, _ in labelled}
    assert names >= {"v_indicator_values", "v_qd766_scores", "v_unit_rankings", "v_dossier_report"}
    for path, sql in labelled:
        assert re.search(r"\bp\.period_label\b", sql), path.name
        assert re.search(r"(marts\.dim_periods|\{\{ ref\('dim_periods'\) \}\}) (as )?p\b", sql, re.I), path.name
        assert "(chưa đủ dữ liệu)" not in sql, path.name  # no label of its own
