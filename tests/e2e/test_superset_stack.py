"""The Sở TT&TT dashboards on the full local stack after the pipeline has filled the marts (`live_stack`).

Same checks as tests/integration/test_superset_dashboards.py, but over real pipeline data: every chart of
every dashboard returns rows (as saved, and as each dashboard opens, by today's units or by the units of the
time), the viewer sees the dashboards render without an error box and is refused SQL Lab and editing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from test_superset_dashboards import (  # noqa: E402
    DASHBOARDS,
    SupersetTarget,
    browse_dashboards,
    check_assets_once,
    check_chart_data,
    check_dashboard_defaults,
    check_viewer_refused,
    viewer_session,
)


def _target(live_stack, superset_admin) -> SupersetTarget:
    s = live_stack["superset"]
    return SupersetTarget(s["url"], superset_admin, s["viewer_user"], s["viewer_password"])


def test_assets_exist_once(live_stack, superset_admin):
    check_assets_once(_target(live_stack, superset_admin))


def test_every_chart_returns_pipeline_rows(live_stack, superset_admin):
    check_chart_data(superset_admin)
    check_chart_data(viewer_session(_target(live_stack, superset_admin)))


def test_dashboards_open_on_rows_in_current_basis(live_stack, superset_admin):
    """Each dashboard as a reader opens it (default filters: today's units, the latest period), and with the
    historical basis chosen: every chart has rows, a ranking lists each unit once."""
    check_dashboard_defaults(superset_admin)


def test_viewer_refused_sql_lab_and_editing(live_stack, superset_admin):
    check_viewer_refused(_target(live_stack, superset_admin))


@pytest.mark.browser
def test_dashboards_render_for_viewer(live_stack, superset_admin, artifacts_dir):
    target = _target(live_stack, superset_admin)
    report = browse_dashboards(target, artifacts_dir)
    for slug, (_title, n_charts) in DASHBOARDS.items():
        got = report[slug]
        assert got["charts"] == n_charts and got["errors"] == 0 and not got["data_errors"], (slug, got)
    writes = report["writes"]
    assert writes["token"] and writes["put"] == 403 and writes["del"] == 403 and writes["sql"] in (401, 403), writes
    sqllab = report["sqllab"]
    assert sqllab["editor"] == 0 and (sqllab["status"] in (401, 403) or "/sqllab" not in sqllab["url"]), sqllab
