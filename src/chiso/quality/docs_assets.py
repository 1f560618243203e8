"""Serve GX Data Docs without internet: vendor the CDN assets from the npm registry and point every page at them.

GX renders Data Docs pages that load Bootstrap, bootstrap-table, jQuery, vega, ... from public CDNs. A provincial
data centre has no internet, so the pages come out unstyled and their tables (filled by bootstrap-table's JS)
stay empty. The npm registry is the one outside source we can reach (often through a local mirror), so the same
files are fetched from there once, cached, copied into the site and linked with relative paths, which keeps the
site working both through `python -m http.server` and when opened from disk.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VENDOR_SUBDIR = Path("static") / "vendor"
_MARKER = ".chiso-vendored"  # written last, so a half-extracted package is never taken as complete


@dataclass(frozen=True)
class _Package:
    spec: str  # exact version: the cache must not change under a running site, and builds stay reproducible
    folder: str  # folder under the assets dir; the package's own layout is kept below it so CSS url()s still resolve
    files: tuple[str, ...] = ()  # paths inside the tarball, without its "package/" prefix
    dirs: tuple[str, ...] = ()  # whole folders, e.g. font files a stylesheet refers to

    @property
    def name(self) -> str:
        return self.spec.rsplit("@", 1)[0]


# The CDN versions GX 1.x pins. vega*, given on the CDN as a major range, are pinned to the newest release of that
# major at the time of writing; jsDelivr serves the package's "jsdelivr" entry, which is build/<name>.min.js.
PACKAGES: tuple[_Package, ...] = (
    _Package("jquery@3.7.1", "jquery", ("dist/jquery.min.js",)),
    _Package("bootstrap@4.3.1", "bootstrap", ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js")),
    _Package(
        "bootstrap-table@1.19.1",
        "bootstrap-table",
        (
            "dist/bootstrap-table.min.css",
            "dist/bootstrap-table.min.js",
            "dist/extensions/filter-control/bootstrap-table-filter-control.css",
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        ),
    ),
    _Package("popper.js@1.12.9", "popper.js", ("dist/umd/popper.min.js",)),
    _Package(
        "bootstrap-datepicker@1.9.0",
        "bootstrap-datepicker",
        ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"),
    ),
    # all.min.css loads its fonts from ../webfonts/, so the folder comes along.
    _Package("@fortawesome/fontawesome-free@6.6.0", "fontawesome-free", ("css/all.min.css",), ("webfonts",)),
    _Package("vega@5.33.1", "vega", ("build/vega.min.js",)),
    _Package("vega-lite@5.23.0", "vega-lite", ("build/vega-lite.min.js",)),
    _Package("vega-embed@6.29.0", "vega-embed", ("build/vega-embed.min.js",)),
    _Package("@forevolve/bootstrap-dark@1.1.0", "bootstrap-dark", ("dist/css/bootstrap-prefers-dark.css",)),
)

_BT = "https://unpkg.com/bootstrap-table"
_FC = "dist/extensions/filter-control/bootstrap-table-filter-control"
# CDN URL -> file under the assets dir. GX links the filter-control CSS of bootstrap-table 1.19.0 next to the
# 1.19.1 JS; the 1.19.1 stylesheet is used for both, so only one bootstrap-table release has to be vendored.
CDN_MAP: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    f"{_BT}@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/dist/bootstrap-table.min.css",
    f"{_BT}@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    f"{_BT}@1.19.1/{_FC}.min.js": f"bootstrap-table/{_FC}.min.js",
    f"{_BT}@1.19.1/{_FC}.min.css": f"bootstrap-table/{_FC}.min.css",
    f"{_BT}@1.19.1/{_FC}.css": f"bootstrap-table/{_FC}.css",
    f"{_BT}@1.19.0/{_FC}.min.css": f"bootstrap-table/{_FC}.min.css",
    f"{_BT}@1.19.0/{_FC}.css": f"bootstrap-table/{_FC}.css",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark/dist/css/bootstrap-prefers-dark.css"
    ),
}

_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r"""\b(src|href)\s*=\s*(["'])(https?://[^"']+)\2""", re.IGNORECASE)
# SRI hashes were computed for the CDN's bytes; the npm copy is checked by npm's own tarball integrity instead,
# and crossorigin on a same-origin (or file://) script only adds ways to fail.
_SRI_ATTR = re.compile(r"""\s+(?:integrity|crossorigin)\s*=\s*(["'])[^"']*\1""", re.IGNORECASE)
_LOGO_HOST = "great-expectations-web-assets.s3"
_LOGO_IMG = re.compile(r"<img\b[^>]*" + re.escape(_LOGO_HOST) + r"[^>]*>", re.IGNORECASE | re.DOTALL)
_LOGO_CSS = re.compile(r"""url\(\s*(["']?)https?://""" + re.escape(_LOGO_HOST) + r"""[^)]*\1\s*\)""", re.IGNORECASE)
_LOGO_TEXT = '<span class="h4 m-0 align-middle">Great Expectations</span>'
_CDN_HOSTS = ("unpkg.com", "jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "bootstrapcdn.com", _LOGO_HOST)
_HEAD_BYTES = 4096  # the first CDN <link> sits in <head>, a few hundred bytes in


def default_cache_dir() -> Path:
    from chiso.settings import get_settings

    return get_settings().home / "cache" / "docs_assets"


def _complete(dest: Path, pkg: _Package) -> bool:
    root = dest / pkg.folder
    marker = root / _MARKER
    return marker.is_file() and marker.read_text().strip() == pkg.spec


def _extract(tgz: Path, pkg: _Package, target: Path) -> None:
    """Copy only the wanted members out of an npm tarball (all of which live under "package/")."""
    wanted_files = {f"package/{f}" for f in pkg.files}
    wanted_dirs = tuple(f"package/{d.rstrip('/')}/" for d in pkg.dirs)
    found: set[str] = set()
    with tarfile.open(tgz, "r:gz") as tar:
        for m in tar.getmembers():
            if not m.isfile() or ".." in Path(m.name).parts:
                continue
            if m.name in wanted_files or m.name.startswith(wanted_dirs):
                out = target / m.name[len("package/") :]
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                with src, open(out, "wb") as fh:
                    shutil.copyfileobj(src, fh)
                found.add(m.name)
    missing = wanted_files - found
    if missing or any(not any(f.startswith(d) for f in found) for d in wanted_dirs):
        raise RuntimeError(f"{pkg.spec}: tarball lacks {sorted(missing) or list(pkg.dirs)}")


def vendor_assets(dest: Path | None = None, *, timeout: float = 300) -> Path:
    """Make sure every Data Docs asset is in `dest` (default $CHISO_HOME/cache/docs_assets); returns `dest`.

    Idempotent: packages already extracted are skipped without touching npm, so the call is cheap on every
    validation. Missing ones are fetched with a single `npm pack` (the registry, or whatever mirror npm is
    configured for). Each package is extracted into a temporary folder and renamed into place, so parallel
    validations never see half a package.
    """
    dest = Path(dest) if dest is not None else default_cache_dir()
    todo = [p for p in PACKAGES if not _complete(dest, p)]
    if not todo:
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed; cannot vendor the Data Docs assets")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pack-", dir=dest) as tmp:
        tmpdir = Path(tmp)
        proc = subprocess.run(
            [npm, "pack", "--json", "--prefer-offline", "--pack-destination", str(tmpdir), *[p.spec for p in todo]],
            cwd=tmpdir,  # no package.json here, so npm packs the registry specs and nothing local
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"npm pack failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        tarballs = {d["name"]: tmpdir / d["filename"] for d in json.loads(proc.stdout)}
        for pkg in todo:
            if pkg.name not in tarballs:
                raise RuntimeError(f"npm pack did not return {pkg.spec}")
            staged = tmpdir / f"stage-{pkg.folder}"
            _extract(tarballs[pkg.name], pkg, staged)
            (staged / _MARKER).write_text(pkg.spec + "\n")
            final = dest / pkg.folder
            if final.exists():  # a stale or partial copy (another version, or an interrupted run)
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.replace(staged, final)
            except OSError:
                if not _complete(dest, pkg):  # a parallel run that won the race is fine; anything else is not
                    raise
            log.info("vendored %s into %s", pkg.spec, final)
    return dest


def _copy_assets(assets_dir: Path, vendor_dir: Path) -> None:
    """Mirror the cache into the site; files already there with the same size are left alone."""
    for src in assets_dir.rglob("*"):
        rel = src.relative_to(assets_dir)
        if not src.is_file() or rel.name == _MARKER or rel.parts[0].startswith(".pack-"):
            continue
        out = vendor_dir / rel
        if out.is_file() and out.stat().st_size == src.stat().st_size:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, out)  # never serve a half-copied file to a browser that is open on the site


def _already_local(page: Path) -> bool:
    """Pages are rewritten whole, so a <head> that points at static/vendor means the page is done."""
    with open(page, "rb") as fh:
        head = fh.read(_HEAD_BYTES).decode("utf-8", "replace")
    return "static/vendor/" in head and not any(h in head for h in _CDN_HOSTS)


def localise_html(text: str, vendor_rel: str) -> tuple[str, set[str]]:
    """Rewrite one page: CDN URLs -> `vendor_rel`/<file>, GX logo -> text. Returns the page and unknown URLs left."""
    unknown: set[str] = set()

    def tag(m: re.Match[str]) -> str:
        t = m.group(0)
        u = _URL_ATTR.search(t)
        if u is None:
            return t
        local = CDN_MAP.get(u.group(3))
        if local is None:
            unknown.add(u.group(3))
            return t
        t = t[: u.start(3)] + f"{vendor_rel}/{local}" + t[u.end(3) :]
        return _SRI_ATTR.sub("", t)

    text = _TAG.sub(tag, text)
    text = _LOGO_IMG.sub(_LOGO_TEXT, text)
    text = _LOGO_CSS.sub("none", text)
    return text, unknown


def localise(site_dir: Path, assets_dir: Path | None = None) -> int:
    """Copy the vendored assets to `<site_dir>/static/vendor/` and point every page there; returns pages rewritten.

    Links are made relative per page (index.html sits at the top, validation pages five or more folders down),
    so the site works from any URL prefix and from disk. Pages already localised are recognised by their first
    few KB and skipped, which keeps this cheap when the site holds thousands of old validation pages.
    """
    site_dir = Path(site_dir)
    assets_dir = Path(assets_dir) if assets_dir is not None else default_cache_dir()
    missing = sorted({f for f in CDN_MAP.values() if not (assets_dir / f).is_file()})
    if missing:
        raise FileNotFoundError(f"vendored Data Docs assets missing in {assets_dir}: {missing}")
    vendor_dir = site_dir / VENDOR_SUBDIR
    _copy_assets(assets_dir, vendor_dir)

    rewritten = 0
    unknown: set[str] = set()
    for page in site_dir.rglob("*.html"):
        if vendor_dir in page.parents or _already_local(page):
            continue
        text = page.read_text(encoding="utf-8")
        vendor_rel = Path(os.path.relpath(vendor_dir, page.parent)).as_posix()
        new, left = localise_html(text, vendor_rel)
        unknown |= left
        if new != text:
            tmp = page.with_name(page.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, page)
            rewritten += 1
    if unknown:  # a newer GX may link another CDN file; say so instead of failing the validation
        log.warning("Data Docs still load these external assets (add them to CDN_MAP): %s", sorted(unknown))
    return rewritten


def make_offline(site_dir: Path, cache_dir: Path | None = None) -> bool:
    """Vendor (if needed) and localise; never raises, because Data Docs must not fail a validation."""
    try:
        n = localise(site_dir, vendor_assets(cache_dir))
        log.debug("Data Docs: %d page(s) pointed at local assets", n)
        return True
    except Exception as exc:  # pages keep their CDN links: still fine for anyone with internet
        log.warning("Data Docs keep their CDN links (vendoring the assets failed: %s)", exc)
        return False
