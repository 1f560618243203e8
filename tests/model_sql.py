"""A dbt mart's SQL as dbt compiles it, for tests that run or inspect it without dbt: refs as marts.<name>, no
config, the dashboards' label macros (dbt_project/macros/labels.sql) expanded.

Not a test module: imported by tests/integration/test_superset_fake_marts.py and tests/unit/test_superset_bundle.py."""

from __future__ import annotations

from pathlib import Path

import jinja2

from chiso.settings import REPO_ROOT

MARTS_MODELS = REPO_ROOT / "dbt_project" / "models" / "marts"
LABEL_MACROS = REPO_ROOT / "dbt_project" / "macros" / "labels.sql"


def model_path(name: str) -> Path | None:
    """The model of a mart: marts/<name>.sql or marts/presentation/<name>.sql."""
    for path in (MARTS_MODELS / f"{name}.sql", MARTS_MODELS / "presentation" / f"{name}.sql"):
        if path.exists():
            return path
    return None


def model_sql(path: Path) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - SQL, not HTML
    template = env.from_string(LABEL_MACROS.read_text(encoding="utf-8") + path.read_text(encoding="utf-8"))
    return template.render(ref=lambda model: f"marts.{model}", config=lambda **_: "")
