"""Which texts on a Superset page are English interface strings (issue 16: the Sở reads Vietnamese only).

A text a page shows (a visible element's text, or a placeholder) is English when
* it is one of the strings Superset translates (its messages.pot, or a t()/tn() key of its built frontend) and the
  Vietnamese pack does not turn it into something else: exactly (case-insensitive, CSS may upper-case it), or with
  its placeholders filled in ("Fetched %s" -> "Fetched 3 minutes ago");
* or it holds a run of unaccented words with a word of Superset's English UI vocabulary (MARKERS) in it: catches
  English that is in no catalogue, and English left inside a Vietnamese sentence ("Đã lấy a few seconds ago").
Names are not interface language: ALLOWED words (Superset, CSV, ...) alone never make a text English; identifiers
with `_` or `.` (data such as expectation names or unit codes) are skipped.

tests/unit/test_superset_translations.py runs it over the dashboards' own texts and the Vietnamese pack (nothing
may be flagged) and over English samples (each must be); tests/e2e/test_superset_stack.py over the pages the
viewer sees.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Words that are names or formats, not English prose.
ALLOWED = {"superset", "apache", "chiso", "english", "csv", "pdf", "excel", "sql", "url", "json", "png", "ok", "id",
           "gx", "sotttt", "admin", "dti", "par", "ubnd", "a-z", "z-a"}
# English UI words that are not Vietnamese syllables written without diacritics (so data like "Thanh Sơn" or
# "Long" never matches): what Superset's chrome says in English.
_MARKER_WORDS = """
the and with from your this that are was were has have not all any none only than then there their what when
which while into onto over under about after before between above below again later now today yesterday ago few
minute minutes hour hours day days week weeks month months quarter quarters year years second seconds
filter filters filtered search searching apply applied clear cleared reset loading loaded load records record
results result page pages settings setting dashboard dashboards chart charts modified created changed owner owners
table tables view views download downloads share shared refresh refreshed fullscreen full screen select selected
option options cancel save saved edit edited close closed error errors sorry please value values total totals
previous next show showing hide hidden entries entry sort sorted sorting ascending descending yes more less data
query queries queried cached cache fetched fetching waiting wait copy copied link email login logout password
username sign register user users info about version language languages theme light dark favorite published
draft actions action name names status tags tag certified export exported image embed enter exit drill detail
details columns column rows row metric metrics dataset datasets empty found match matching matches available
unknown unexpected occurred something wrong try again failed failure success successful warning loading
cross scope scoped scoping horizontal vertical top left right bottom collapse expand expanded collapsed more
items item per entries summary average median minimum maximum count sum other others percentage
range time date start end custom advanced relative specific anchor midnight last current
"""
MARKERS = frozenset(_MARKER_WORDS.split())

PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]|\{\w*\}")
WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def _norm(text: str) -> str:
    return " ".join(text.split()).strip(" :…").removesuffix("...").strip().casefold()


def _ascii_words(text: str) -> list[str]:
    return [w.casefold() for w in WORD.findall(text) if w.isascii() and len(w) >= 3]


def _prose(msgid: str) -> bool:
    """Does the msgid say something in English (not only placeholders, punctuation or allowed names)?"""
    words = _ascii_words(PLACEHOLDER.sub(" ", msgid))
    return any(w not in ALLOWED for w in words)


def _pattern(msgid: str) -> str:
    """A regex of the msgid with its placeholders filled by anything: "Fetched %s" -> r"Fetched\\s*(.+?)"."""
    hole = "QQHOLEQQ"
    text = PLACEHOLDER.sub(hole, " ".join(msgid.split()))
    return re.escape(text).replace("\\ ", r"\s*").replace(hole, "(.+?)")


def _build_module():
    spec = importlib.util.spec_from_file_location("chiso_superset_translations_build",
                                                  REPO / "superset" / "translations" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def superset_translations_dir(venvs: Path | None = None) -> Path:
    """The translations folder of the Superset package in the stack's venv."""
    venvs = venvs or REPO / ".venvs"
    found = sorted((venvs / "superset" / "lib").glob("python3*/site-packages/superset/translations"))
    if not found:
        raise FileNotFoundError(f"no Superset venv under {venvs} (make venvs)")
    return found[-1]


@dataclass(frozen=True)
class Flagged:
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.text!r} ({self.why})"


class EnglishDetector:
    def __init__(self, catalogue: Iterable[str], pack: dict[str, list[str]]):
        exact: set[str] = set()
        patterns: list[str] = []
        for msgid in catalogue:
            if not _prose(msgid):
                continue
            forms = pack.get(msgid) or []
            if forms and all(_norm(f) == _norm(msgid) for f in forms):
                continue  # the same in Vietnamese (a name, an abbreviation)
            if PLACEHOLDER.search(msgid):
                patterns.append(_pattern(msgid))
            else:
                exact.add(_norm(msgid))
        self.exact = exact
        # One alternation per few hundred patterns keeps each regex small enough to compile quickly.
        self.patterns = [re.compile(r"^\s*(?:" + "|".join(patterns[i:i + 300]) + r")\s*$", re.IGNORECASE | re.S)
                         for i in range(0, len(patterns), 300)]

    @classmethod
    def for_superset(cls, translations: Path | None = None, lang: str = "vi") -> EnglishDetector:
        """Superset's own strings (catalogue and frontend keys of the installed Superset) against the repo's pack."""
        build = _build_module()
        translations = translations or superset_translations_dir()
        known = build.known_msgids(translations)
        if known is None:
            raise FileNotFoundError(f"{translations} has no messages.pot")
        pack = build.language_pack(build.load(lang), lang)["locale_data"][build.DOMAIN]
        return cls(known, {k: v for k, v in pack.items() if k})

    def why(self, text: str) -> str | None:
        chunks = [c for c in text.split() if not ("_" in c or re.search(r"\w\.\w", c))]  # identifiers are data
        text = " ".join(chunks)
        words = _ascii_words(text)
        if not words or all(w in ALLOWED for w in words):
            return None
        if _norm(text) in self.exact:
            return "Superset string left in English"
        if any(p.match(" ".join(text.split())) for p in self.patterns):
            return "Superset string left in English (placeholders filled)"
        run: list[str] = []
        for token in [*WORD.findall(text), ""]:
            if token and token.isascii():
                run.append(token.casefold())
                continue
            hits = [w for w in run if w in MARKERS and w not in ALLOWED]
            if hits:
                return f"English words {hits}"
            run = []
        return None

    def flagged(self, texts: Iterable[str]) -> list[Flagged]:
        out, seen = [], set()
        for text in texts:
            key = " ".join(text.split())
            if not key or key in seen:
                continue
            seen.add(key)
            why = self.why(key)
            if why:
                out.append(Flagged(key, why))
        return out


# The visible texts of a page, for Playwright's page.evaluate: each visible element's own text (its inner text when
# it has a text node of its own, so "Fetched <b>3 minutes ago</b>" stays one text) and each visible placeholder.
PAGE_TEXTS_JS = """() => {
  const visible = el => el.checkVisibility ? el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})
                                           : el.getClientRects().length > 0;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('script, style, noscript, template')) continue;
    const own = [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.nodeValue.trim());
    if (own && visible(el)) out.push(el.innerText || el.textContent);
    const ph = el.getAttribute('placeholder');
    if (ph && visible(el)) out.push(ph);
  }
  return out;
}"""
