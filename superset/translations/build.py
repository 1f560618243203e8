"""Superset language packs kept in this repo: check, build and install them into a Superset installation.

Superset 6.1 ships no Vietnamese. The source of a pack is `superset/translations/<lang>/LC_MESSAGES/messages.po`
and holds only the strings we translate (what a dashboard reader meets); every other string falls back to
English. From it this script builds, per language:

* `messages.mo`   the backend catalogue: Flask-Babel reads `superset/translations/<lang>/LC_MESSAGES/` of the
                  Superset package (FAB adds the relative folder `translations` to BABEL_TRANSLATION_DIRECTORIES);
* `messages.json` the frontend pack (Jed format, as `translations/empty_language_pack.json`), which the browser
                  fetches from `/superset/language_pack/<lang>/`: `superset.views.core.Superset.language_pack`
                  sends `translations/<lang>/LC_MESSAGES/messages.json` of the package, and
                  `superset.translations.utils.get_language_pack` reads the same file.

`install` writes the three files there; a file whose bytes would not change is left alone, so it is idempotent
and cheap (`make` runs it after syncing the Superset venv). Nothing is written when a check fails: a
translation whose placeholders (%s, %(name)s, {name}) differ from its msgid would break the string at runtime.
A msgid the target Superset does not ask for (neither in its messages.pot nor a t()/tn() key of its built
frontend, which calls some strings the 6.1 catalogue lacks) fails `check` and is only reported by `install`.

Run it with the Superset venv's Python (babel is a Superset dependency; the default target is found there):

    .venvs/superset/bin/python superset/translations/build.py check
    .venvs/superset/bin/python superset/translations/build.py install [--target DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE = Path(__file__).resolve().parent
DOMAIN = "superset"  # the Jed domain the frontend's translator reads
# Python %-format (Flask-Babel, Jed's sprintf) and the {name} fields some frontend strings fill in themselves.
PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*\d*(?:\.\d+)?(?P<conv>[sdifrxXeEgGc%])|\{\w*\}")


def languages(root: Path = HERE) -> list[str]:
    return sorted(p.parent.parent.name for p in root.glob("*/LC_MESSAGES/messages.po"))


def po_path(lang: str, root: Path = HERE) -> Path:
    return root / lang / "LC_MESSAGES" / "messages.po"


def load(lang: str, root: Path = HERE) -> Catalog:
    with po_path(lang, root).open("rb") as f:
        return read_po(f, locale=lang, domain="messages")


def placeholders(text: str) -> tuple[tuple[str, ...], Counter]:
    """(positional conversions in order, named placeholders with their counts); `%%` is a literal percent."""
    positional: list[str] = []
    named: Counter = Counter()
    for m in PLACEHOLDER.finditer(text):
        token = m.group(0)
        if token == "%%":
            continue
        if token.startswith("{"):
            named[token] += 1
        elif m.group("name") is not None:
            named[f"%({m.group('name')}){m.group('conv')}"] += 1
        else:
            positional.append(m.group("conv"))
    return tuple(positional), named


NOT_IN_SUPERSET = "not a string this Superset translates (typo, or a string of another version)"


@dataclass(frozen=True)
class Problem:
    msgid: str
    reason: str

    def __str__(self) -> str:
        return f"{self.msgid!r}: {self.reason}"


def _pairs(catalog: Catalog):
    """(msgid to compare with, msgstr) per translated form. Vietnamese has one plural form; it stands for every
    count, so it is compared with the plural msgid (the one carrying the count's placeholder)."""
    for msg in catalog:
        if not msg.id:
            continue
        if isinstance(msg.id, tuple | list):
            forms = msg.string if isinstance(msg.string, tuple | list) else (msg.string,)
            for form in forms:
                yield msg, msg.id[1], form
        else:
            yield msg, msg.id, msg.string


def check(catalog: Catalog, known: set[str] | None = None) -> list[Problem]:
    """Placeholders match, nothing is empty or fuzzy, the plural form count fits, and (given Superset's own
    catalogue `known`) every msgid is one Superset asks for."""
    problems: list[Problem] = []
    nplurals = catalog.num_plurals
    for msg in catalog:
        if not msg.id:
            continue
        key = msg.id[0] if isinstance(msg.id, tuple | list) else msg.id
        if msg.fuzzy:
            problems.append(Problem(key, "marked fuzzy"))
        if isinstance(msg.id, tuple | list) and len(msg.string) != nplurals:
            problems.append(Problem(key, f"{len(msg.string)} plural forms, the language has {nplurals}"))
        if known is not None and key not in known:
            problems.append(Problem(key, NOT_IN_SUPERSET))
    for msg, source, text in _pairs(catalog):
        key = msg.id[0] if isinstance(msg.id, tuple | list) else msg.id
        if not text or not text.strip():
            problems.append(Problem(key, "empty translation"))
            continue
        want, got = placeholders(source), placeholders(text)
        if want != got:
            problems.append(Problem(key, f"placeholders {_show(want)} in the msgid, {_show(got)} in the translation"))
    return problems


def _show(p: tuple[tuple[str, ...], Counter]) -> str:
    return str(["%" + c for c in p[0]] + sorted(p[1].elements()))


def language_pack(catalog: Catalog, lang: str) -> dict:
    """The frontend's pack: Jed locale data keyed by msgid, each value the list of plural forms."""
    data: dict[str, object] = {
        "": {"domain": DOMAIN, "plural_forms": catalog.plural_forms, "lang": lang},
    }
    for msg in catalog:
        if not msg.id:
            continue
        if isinstance(msg.id, tuple | list):
            data[msg.id[0]] = list(msg.string)
        else:
            data[msg.id] = [msg.string]
    return {"domain": DOMAIN, "locale_data": {DOMAIN: data}}


def build(lang: str, root: Path = HERE) -> dict[str, bytes]:
    """The files of one language, as bytes (deterministic: same .po, same bytes)."""
    catalog = load(lang, root)
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    pack = json.dumps(language_pack(catalog, lang), ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    return {
        "messages.po": po_path(lang, root).read_bytes(),
        "messages.mo": mo.getvalue(),
        "messages.json": pack.encode("utf-8"),
    }


def superset_translations() -> Path:
    """The translations folder of the Superset package this Python imports (found without importing Superset)."""
    spec = importlib.util.find_spec("superset")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no Superset package in this Python; run with .venvs/superset/bin/python or give --target")
    return Path(next(iter(spec.submodule_search_locations))) / "translations"


# A translation call in Superset's built frontend: `(0,x.t)("msgid"` or `(0,x.tn)("singular","plural"`.
FRONTEND_CALL = re.compile(r'\.tn?\)\("((?:[^"\\]|\\.)*)"(?:,"((?:[^"\\]|\\.)*)")?')


def known_msgids(target: Path) -> set[str] | None:
    """The strings Superset asks to translate: its catalogue next to the target (`messages.pot`) and, since the
    6.1 frontend calls some strings that catalogue lacks, the keys of the t()/tn() calls in its built frontend
    (`../static/assets/*.js`). None when the target is not a Superset package (e.g. a scratch dir)."""
    pot = target / "messages.pot"
    if not pot.exists():
        return None
    with pot.open("rb") as f:
        known = {m.id[0] if isinstance(m.id, tuple | list) else m.id for m in read_po(f) if m.id}
    for js in sorted((target.parent / "static" / "assets").glob("*.js")):
        for m in FRONTEND_CALL.finditer(js.read_text(encoding="utf-8", errors="replace")):
            for literal in m.groups():
                if literal is not None:
                    try:
                        known.add(json.loads(f'"{literal}"'))
                    except ValueError:
                        continue
    return known


def install(target: Path, root: Path = HERE, langs: list[str] | None = None) -> dict[Path, bool]:
    """Write each language's files into `target/<lang>/LC_MESSAGES/`; returns {path: written}. Checks first."""
    langs = langs or languages(root)
    known = known_msgids(target)
    built = {}
    for lang in langs:
        problems = check(load(lang, root), known)
        # A msgid this Superset no longer asks for is dead weight, not a fault: say so, install the rest.
        stale = [p for p in problems if p.reason.startswith(NOT_IN_SUPERSET)]
        problems = [p for p in problems if p not in stale]
        if stale:
            print(f"{po_path(lang, root)}: {len(stale)} msgid(s) this Superset does not use: "
                  + ", ".join(repr(p.msgid) for p in stale), file=sys.stderr)
        if problems:
            raise SystemExit(f"{po_path(lang, root)}: {len(problems)} problem(s)\n  " + "\n  ".join(map(str, problems)))
        built[lang] = build(lang, root)
    written: dict[Path, bool] = {}
    for lang, files in built.items():
        folder = target / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = folder / name
            changed = not path.exists() or path.read_bytes() != data
            if changed:
                tmp = path.with_suffix(path.suffix + ".tmp")
                tmp.write_bytes(data)
                tmp.replace(path)  # a running Superset never reads half a file
            written[path] = changed
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["check", "install"])
    ap.add_argument("--target", type=Path, help="a Superset translations folder (default: this Python's Superset)")
    ap.add_argument("--lang", action="append", help="only this language (repeatable; default: every .po here)")
    args = ap.parse_args(argv)
    langs = args.lang or languages()
    if args.command == "check":
        target = args.target or superset_translations()
        known = known_msgids(target)
        failed = False
        for lang in langs:
            catalog = load(lang)
            problems = check(catalog, known)
            print(f"{lang}: {sum(1 for m in catalog if m.id)} strings, {len(problems)} problem(s)")
            for p in problems:
                print(f"  {p}")
            failed |= bool(problems)
        return 1 if failed else 0
    target = args.target or superset_translations()
    written = install(target, langs=langs)
    changed = [p for p, w in written.items() if w]
    print(f"language packs {', '.join(langs)} -> {target}: "
          + (f"{len(changed)} file(s) written" if changed else "unchanged"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
