"""The Vietnamese language pack for Superset (superset/translations, issue 16): its strings keep their placeholders
and are strings Superset asks for, the frontend pack has Superset's format, `build.py install` puts the files where
Superset reads them (Superset's own functions, in the Superset venv), and the English detector of the browser test
flags English but none of the dashboards' own Vietnamese."""

from __future__ import annotations

import gettext
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml
from babel.messages.catalog import Catalog

from chiso.settings import REPO_ROOT
from chiso.stack import superset_setup

sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
from english_ui import EnglishDetector, superset_translations_dir  # noqa: E402

TRANSLATIONS = REPO_ROOT / "superset" / "translations"
SUPERSET_PY = REPO_ROOT / ".venvs" / "superset" / "bin" / "python"
TEMPLATE = REPO_ROOT / "superset" / "templates" / "tail_js_custom_extra.html"


def _load_build():
    spec = importlib.util.spec_from_file_location("superset_translations_build_test", TRANSLATIONS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = _load_build()


@pytest.fixture(scope="module")
def installed() -> Path:
    """The translations folder of the Superset package in the stack's venv (make creates it)."""
    return superset_translations_dir()


def _superset(code: str, env: dict | None = None, timeout: int = 180) -> subprocess.CompletedProcess:
    r = subprocess.run([str(SUPERSET_PY), "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


# ---------------------------------------------------------------- the catalogue


def test_vietnamese_catalogue_passes_its_checks():
    catalog = build.load("vi")
    assert catalog.num_plurals == 1 and catalog.plural_forms == "nplurals=1; plural=0;"
    assert build.check(catalog) == []
    assert sum(1 for m in catalog if m.id) >= 500  # the reader's strings, not a token few


def test_check_refuses_broken_placeholders_empty_and_fuzzy():
    c = Catalog(locale="vi")
    c.add("Waiting on %s", "Đang chờ")  # lost %s
    c.add("Search %(name)s", "Tìm %(ten)s")  # renamed
    c.add("between {down} and {up}", "từ {down} đến")  # lost a field
    c.add("%s of %d", "%d của %s")  # swapped conversions
    c.add("Apply", "")
    c.add("Clear", "Xóa", flags=["fuzzy"])
    c.add("Fine %s", "Ổn %s")
    c.add(("%s row", "%s rows"), ("%s dòng", "%s dòngs"))  # two forms for a one-form language
    problems = {p.msgid: p.reason for p in build.check(c)}
    assert set(problems) == {"Waiting on %s", "Search %(name)s", "between {down} and {up}", "%s of %d", "Apply",
                             "Clear", "%s row"}, problems
    assert "placeholders" in problems["Waiting on %s"] and "fuzzy" in problems["Clear"]


def test_placeholders_parser():
    assert build.placeholders("%s of %(n)d {x} 100%% %s") == (("s", "s"), {"%(n)d": 1, "{x}": 1})
    assert build.placeholders("%(a)s %(a)s") != build.placeholders("%(a)s")


def test_every_msgid_is_one_this_superset_translates(installed):
    """A msgid Superset never asks for is a typo or a string of another version: it would never show."""
    known = build.known_msgids(installed)
    assert known and "Filters and controls" in known and "Grid view" in known  # catalogue and frontend keys
    assert [str(p) for p in build.check(build.load("vi"), known)] == []


def test_the_strings_of_issue_16_are_translated():
    pack = build.language_pack(build.load("vi"), "vi")["locale_data"]["superset"]
    for msgid in ("Filters and controls", "Apply filters", "Clear all", "Dashboards", "Settings", "Search %s records",
                  "%s record", "Waiting on %s", "Loading...", "No results", "Download", "View as table",
                  "Last queried at", "Cached %s", "Fetched %s", "Force refresh", "Enter fullscreen", "Sign in",
                  "Logout", "Last week", "No filter", "%s option", "Add the name of the dashboard"):
        assert msgid in pack and pack[msgid][0] != msgid, msgid


# ---------------------------------------------------------------- built files


def test_language_pack_has_superset_frontend_format(installed):
    files = build.build("vi")
    pack = json.loads(files["messages.json"])
    reference = json.loads((installed / "fr" / "LC_MESSAGES" / "messages.json").read_text(encoding="utf-8"))
    empty = json.loads((installed / "empty_language_pack.json").read_text(encoding="utf-8"))
    assert set(pack) == set(reference) == set(empty) == {"domain", "locale_data"}
    assert pack["domain"] == "superset" and set(pack["locale_data"]) == {"superset"}
    data = pack["locale_data"]["superset"]
    assert set(data[""]) == set(reference["locale_data"]["superset"][""])
    assert data[""] == {"domain": "superset", "lang": "vi", "plural_forms": "nplurals=1; plural=0;"}
    for key, forms in data.items():
        if key:
            assert isinstance(forms, list) and len(forms) == 1 and all(isinstance(f, str) and f for f in forms), key
    assert data["Apply filters"] == ["Áp dụng bộ lọc"]
    assert data["%s option"] == ["%s lựa chọn"]  # tn("%s option", "%s options", n): one Vietnamese form


def test_mo_catalogue_translates():
    files = build.build("vi")
    t = gettext.GNUTranslations(io.BytesIO(files["messages.mo"]))
    assert t.gettext("Dashboards") == "Bảng điều khiển"
    assert t.ngettext("%s row", "%s rows", 1) == t.ngettext("%s row", "%s rows", 7) == "%s dòng"
    assert t.gettext("a string nobody translated") == "a string nobody translated"


def test_build_is_deterministic():
    assert build.build("vi") == build.build("vi")


# ---------------------------------------------------------------- installed where Superset reads it


def test_install_is_idempotent_and_superset_reads_the_pack(tmp_path, installed):
    """Installed into a scratch translations folder, Superset's get_language_pack and Flask-Babel read it; the
    default target is the folder get_language_pack and the /superset/language_pack/<lang>/ view read."""
    target = tmp_path / "translations"
    r = _superset(f"""
        import json, os, sys
        sys.path.insert(0, {str(TRANSLATIONS)!r})
        import build
        from pathlib import Path
        target = Path({str(target)!r})
        first = build.install(target)
        second = build.install(target)
        assert all(first.values()) and len(first) == 3 and not any(second.values()), (first, second)

        import superset.translations.utils as u
        assert os.path.realpath(build.superset_translations()) == os.path.realpath(u.DIR)
        english = u.get_language_pack("en")  # English stays Superset's built-in (empty) pack
        assert english["locale_data"]["superset"][""]["lang"] == "en" and len(english["locale_data"]["superset"]) == 1
        u.DIR = str(target)
        u.ALL_LANGUAGE_PACKS.pop("vi", None)
        pack = u.get_language_pack("vi")
        assert pack["locale_data"]["superset"]["Filters and controls"] == ["Bộ lọc và điều khiển"], pack

        from flask import Flask
        import flask_babel
        app = Flask("t")
        app.config.update(BABEL_DEFAULT_LOCALE="vi", BABEL_TRANSLATION_DIRECTORIES=str(target))
        flask_babel.Babel(app)
        with app.test_request_context():
            assert flask_babel.gettext("Dashboards") == "Bảng điều khiển"
        print("ok")
    """)
    assert r.stdout.strip().endswith("ok")
    # the view sends translations/<lang>/LC_MESSAGES/messages.json of the package: the layout install writes
    core = (installed.parent / "views" / "core.py").read_text(encoding="utf-8")
    assert 'os.path.join(os.path.dirname(__file__), "..", "translations")' in core
    assert 'safe_join(base_dir, lang, "LC_MESSAGES", "messages.json")' in core
    assert (target / "vi" / "LC_MESSAGES" / "messages.json").is_file()


def test_installed_pack_is_the_repo_pack(installed):
    """make installs the pack after syncing the Superset venv; a stale install means a reader sees old strings."""
    folder = installed / "vi" / "LC_MESSAGES"
    for name, data in build.build("vi").items():
        path = folder / name
        assert path.exists() and path.read_bytes() == data, (
            f"{path} is not the repo's pack: run `make venvs` (or .venvs/superset/bin/python "
            "superset/translations/build.py install)")


def test_superset_app_serves_vietnamese_and_keeps_english(tmp_path, installed):
    """Superset itself, with the stack's superset_config (no server: the Flask app in the Superset venv)."""
    env = {"SUPERSET_SECRET_KEY": "test", "SUPERSET_METADATA_URI": f"sqlite:///{tmp_path / 'meta.db'}",
           "SUPERSET_HOME": str(tmp_path), "SUPERSET_CONFIG_PATH": str(REPO_ROOT / "superset" / "superset_config.py")}
    r = _superset("""
        import inspect, json
        import flask_babel
        from flask import render_template
        from superset.app import create_app

        app = create_app()
        from superset.views.core import Superset  # importable once the app exists
        out = {"languages": sorted(app.config["LANGUAGES"]), "default": app.config["BABEL_DEFAULT_LOCALE"],
               "d3": app.config["D3_FORMAT"], "months": app.config["D3_TIME_FORMAT"]["months"][0]}
        with app.test_request_context("/"):
            out["locale"] = str(flask_babel.get_locale())
            out["menu"] = flask_babel.gettext("Dashboards")
            view = next(v for v in app.appbuilder.baseviews if isinstance(v, Superset))
            resp = inspect.unwrap(Superset.language_pack)(view, "vi")  # the view behind /superset/language_pack/vi/
            resp.direct_passthrough = False
            out["status"] = resp.status_code
            out["pack"] = json.loads(resp.get_data())["locale_data"]["superset"]["Apply filters"]
            out["template"] = app.jinja_env.get_template("tail_js_custom_extra.html").filename
            out["script"] = render_template("tail_js_custom_extra.html")
        print("RESULT" + json.dumps(out, ensure_ascii=False))
    """, env=env)
    out = json.loads(r.stdout.split("RESULT", 1)[1])
    assert out["languages"] == ["en", "vi"] and out["default"] == "vi" and out["locale"] == "vi"
    assert out["menu"] == "Bảng điều khiển"  # backend catalogue, through Superset's Babel setup
    assert out["status"] == 200 and out["pack"] == ["Áp dụng bộ lọc"]
    assert out["d3"]["decimal"] == "," and out["d3"]["thousands"] == "." and out["months"] == "Tháng 1"
    assert Path(out["template"]) == TEMPLATE  # the repo's template wins over Superset's empty one
    assert "DAYJS_MODULE" in out["script"] and "<script" in out["script"]


def test_template_names_the_dayjs_module_of_this_superset(installed):
    """The dayjs module id in tail_js_custom_extra.html is dayjs in the installed bundle (its body, not a guess)."""
    module = int(re.search(r"DAYJS_MODULE = (\d+);", TEMPLATE.read_text(encoding="utf-8")).group(1))
    head = re.compile(rf'[,{{]{module}\(e\){{e\.exports=function\(\){{"use strict";var e="millisecond"')
    hits = []
    for js in (installed.parent / "static" / "assets").glob("*.js"):
        text = js.read_text(encoding="utf-8", errors="replace")
        m = head.search(text)
        if m:
            body = text[m.start():m.start() + 20000]
            hits.append(".isDayjs=" in body and ".locale=" in body and ".extend=" in body)
    assert hits and all(hits), f"module {module} is not dayjs in this Superset build"


def test_template_locale_is_complete():
    text = TEMPLATE.read_text(encoding="utf-8")
    for key in ("s:", "m:", "mm:", "h:", "hh:", "d:", "dd:", "M:", "MM:", "y:", "yy:", "future:", "past:"):
        assert key in text.split("relativeTime")[1], key
    for fmt in ("LT:", "LTS:", "L:", "LL:", "LLL:", "LLLL:"):
        assert fmt in text, fmt
    assert 'L: "DD/MM/YYYY"' in text and 'past: "%s trước"' in text


# ---------------------------------------------------------------- login page: the Public role


class _FakeSuperset:
    """Superset's security API as ensure_public_language_pack uses it."""

    def __init__(self, public_perms: set[int]):
        self.public_perms = set(public_perms)
        self.posts: list[dict] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/security/roles/" and request.method == "GET":
            return httpx.Response(200, json={"result": [{"id": 3, "name": "Public"}]})
        if path == "/api/v1/security/permissions-resources/":
            rows = [{"id": i, "permission": {"name": f"can_x{i}"}, "view_menu": {"name": "V"}} for i in range(1, 150)]
            rows[76] = {"id": 77, "permission": {"name": "can_language_pack"}, "view_menu": {"name": "Superset"}}
            page = int(re.search(r"page:(\d+)", request.url.params["q"]).group(1))
            return httpx.Response(200, json={"count": len(rows), "result": rows[page * 100:(page + 1) * 100]})
        if path == "/api/v1/security/roles/3/permissions/":
            return httpx.Response(200, json={"result": [{"id": i} for i in sorted(self.public_perms)]})
        if path == "/api/v1/security/roles/3/permissions" and request.method == "POST":
            body = json.loads(request.content)
            self.posts.append(body)
            self.public_perms = set(body["permission_view_menu_ids"])
            return httpx.Response(200, json={})
        return httpx.Response(404, json={"path": path})


def _client(fake: _FakeSuperset) -> superset_setup.SupersetApi:
    client = superset_setup.SupersetApi.__new__(superset_setup.SupersetApi)
    client.http = httpx.Client(base_url="http://superset.test", transport=httpx.MockTransport(fake.handler))
    return client


def test_public_role_gets_the_language_pack_only_once():
    assert superset_setup.PUBLIC_PERMISSIONS == [("can_language_pack", "Superset")]
    fake = _FakeSuperset({5})  # something an administrator granted stays
    superset_setup.ensure_public_language_pack(_client(fake))
    assert fake.posts == [{"permission_view_menu_ids": [5, 77]}]
    superset_setup.ensure_public_language_pack(_client(fake))  # already there: nothing posted
    assert len(fake.posts) == 1


# ---------------------------------------------------------------- the browser test's English detector


VISIBLE_KEYS = {"dashboard_title", "slice_name", "sliceName", "verbose_name", "name", "label", "y_axis_title",
                "x_axis_title", "subheader", "code", "text", "certified_by", "certification_details"}


def _asset_texts() -> list[str]:
    """What the dashboards show of their own: titles, chart names, labels, markdown, filter names, and the labels of
    the datasets their charts read (a dataset no chart reads is never on screen)."""
    texts: list[str] = []
    assets = REPO_ROOT / "superset" / "assets"
    read = {yaml.safe_load(p.read_text(encoding="utf-8"))["dataset_uuid"] for p in (assets / "charts").glob("*.yaml")}

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str):
            if node.lstrip().startswith(("{", "[")):
                try:
                    walk(json.loads(node), key)
                    return
                except ValueError:
                    pass
            if key in VISIBLE_KEYS:
                texts.extend(line for line in node.splitlines() if line.strip())

    for path in sorted(assets.rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.relative_to(assets).parts[0] != "datasets" or doc["uuid"] in read:
            walk(doc)
    return texts


@pytest.fixture(scope="module")
def detector() -> EnglishDetector:
    return EnglishDetector.for_superset()


def test_detector_leaves_the_dashboards_vietnamese_alone(detector):
    texts = _asset_texts()
    assert len(texts) > 300 and "Xếp hạng chuyển đổi số" in texts
    assert [str(f) for f in detector.flagged(texts)] == []


def test_detector_leaves_the_quality_checks_vietnamese_alone(detector):
    """The quality dashboard shows each suite's and check's Vietnamese description and hint to the viewer."""
    from chiso.quality.config import list_suites, load_suite

    texts = []
    for name in list_suites():
        suite = load_suite(name)
        texts += [suite.description_vi, *(a.description_vi for a in suite.assets.values())]
        texts += [t for e in suite.expectations for t in (e.description_vi, e.hint_vi)]
    assert len(texts) > 200
    assert [str(f) for f in detector.flagged(texts)] == []


def test_detector_leaves_the_vietnamese_pack_alone(detector):
    pack = build.language_pack(build.load("vi"), "vi")["locale_data"]["superset"]
    translations = [form for key, forms in pack.items() if key for form in forms]
    filled = [re.sub(r"%\([^)]*\)[sd]|%[sd]|\{\w+\}", "12", t) for t in translations]  # as the page shows them
    assert [str(f) for f in detector.flagged(filled)] == []
    assert not detector.flagged(["Tiếng Việt", "English", "Apache Superset", "000.00.00.H25", "raw_oss_units",
                                 "Thanh Sơn", "22/06/2025 15:04:05", "1.234,5", "3 phút trước", "Tháng 6/2025"])


@pytest.mark.parametrize("text", [
    "Filters and controls", "APPLY FILTERS", "Clear all", "Sign in", "Loading...", "No results",
    "Fetched a few seconds ago", "Cached 3 minutes ago", "Search 25 records", "12 records...", "Show 10 entries",
    "Waiting on Postgres", "Last queried at: 06/22/2025 3:04:05 PM", "Modified 2 days ago",
    "Đã lấy dữ liệu a few seconds ago", "1-6 items per page", "Grid view",
])
def test_detector_flags_english(detector, text):
    assert detector.why(text), text
