"""superset/remember_choice.py (the viewer's last unit on "Cần làm gì để tăng điểm"): what it keeps. Its hooks in a
running Superset: tests/integration/improvement_dashboard.py (browser)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import textwrap

import yaml

from chiso.settings import REPO_ROOT

SPEC = importlib.util.spec_from_file_location("remember_choice", REPO_ROOT / "superset" / "remember_choice.py")
remember_choice = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(remember_choice)


def _mask(value: list | None) -> dict:
    return {"extraFormData": {"filters": [{"col": "x", "op": "IN", "val": value}]} if value else {},
            "filterState": {"value": value} if value else {}, "ownState": {}}


def test_remembered_filters_are_the_dashboards_basis_group_and_unit():
    dashboards = {d["slug"]: d for d in (yaml.safe_load(p.read_text(encoding="utf-8"))
                                         for p in (REPO_ROOT / "superset" / "assets" / "dashboards").glob("*.yaml"))}
    for slug, ids in remember_choice.REMEMBERED.items():
        filters = {f["id"]: f for f in dashboards[slug]["metadata"]["native_filter_configuration"]}
        assert set(ids) <= set(filters), slug
        assert [filters[i]["name"] for i in ids] == ["Cơ sở số liệu", "Nhóm đơn vị", "Đơn vị"]
        # the period is not kept: it opens on the latest complete one
        assert not {i for i in ids if filters[i]["targets"][0]["column"]["name"] == "period_label"}


def test_pick_keeps_only_the_remembered_filters_once_a_unit_is_chosen():
    slug = "can-lam-gi-de-tang-diem"
    basis, group, unit = remember_choice.REMEMBERED[slug]
    mask = {basis: _mask(["Theo đơn vị tại thời điểm"]), group: _mask(["Sở, ban, ngành"]),
            unit: _mask(["Sở Tư pháp"]), "NATIVE_FILTER-improve-period": _mask(["2025 – Tháng 07"])}
    assert remember_choice.pick(slug, mask) == {basis: mask[basis], group: mask[group], unit: mask[unit]}
    assert remember_choice.pick(slug, {**mask, unit: _mask(None)}) is None  # cleared: nothing to keep
    assert remember_choice.pick(slug, {basis: mask[basis]}) is None
    assert remember_choice.pick("chi-so-766", mask) is None  # a dashboard that keeps nothing


def test_hooks_match_superset_paths():
    assert remember_choice.STATE_API.fullmatch("/api/v1/dashboard/12/filter_state")
    assert remember_choice.STATE_API.fullmatch("/api/v1/dashboard/12/filter_state/AbC-d_9")
    assert not remember_choice.STATE_API.fullmatch("/api/v1/dashboard/12/permalink")
    assert remember_choice.PAGE.fullmatch("/superset/dashboard/can-lam-gi-de-tang-diem/").group(1) == (
        "can-lam-gi-de-tang-diem")
    assert not remember_choice.PAGE.fullmatch("/superset/dashboard/p/AbCd/")  # a permalink keeps its own state
    assert remember_choice.choice_key(7, "a") != remember_choice.choice_key(8, "a")  # per user


def test_superset_config_installs_the_hooks(tmp_path):
    """The stack's superset_config puts both hooks on Superset's app; an anonymous visitor is never redirected."""
    code = textwrap.dedent("""
        import json
        from superset.app import create_app

        app = create_app()
        before = [f.__name__ for f in app.before_request_funcs.get(None, [])]
        after = [f.__name__ for f in app.after_request_funcs.get(None, [])]
        with app.test_request_context("/superset/dashboard/can-lam-gi-de-tang-diem/"):
            restore = next(f for f in app.before_request_funcs[None] if f.__name__ == "restore")
            anonymous = restore()
        print("RESULT" + json.dumps({"before": before, "after": after, "anonymous": anonymous}))
    """)
    env = {**os.environ, "SUPERSET_SECRET_KEY": "test", "SUPERSET_METADATA_URI": f"sqlite:///{tmp_path / 'meta.db'}",
           "SUPERSET_HOME": str(tmp_path), "SUPERSET_CONFIG_PATH": str(REPO_ROOT / "superset" / "superset_config.py")}
    python = REPO_ROOT / ".venvs" / "superset" / "bin" / "python"
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=180, env=env, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.split("RESULT", 1)[1])
    assert "restore" in out["before"] and "remember" in out["after"]
    assert out["anonymous"] is None
