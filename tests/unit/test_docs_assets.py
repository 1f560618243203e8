"""Data Docs offline: every CDN <script>/<link> in GX pages is rewritten to a relative path under
static/vendor that resolves from the page's own depth, the GX logo (an S3 image) turns into text,
and a failure to vendor leaves the pages (and the validation) alone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from chiso.quality import docs_assets
from chiso.quality.docs_assets import CDN_MAP, localise, make_offline

S3 = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"
LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&dataContextId=x"
POPPER = "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js"


def _page(title: str) -> str:
    """A GX-shaped page: CDN links in <head>, scripts after, the logo as <img> and as a CSS background."""
    links = "\n".join(
        f'<link rel="stylesheet" href="{u}"/>' if u.endswith(".css") else f'<script src="{u}"></script>'
        for u in CDN_MAP
        if u != POPPER
    )
    return f"""<!DOCTYPE html><html><head><title>{title}</title>
{links}
<script src="{POPPER}" integrity="sha384-abc" crossorigin="anonymous"></script>
<style>.navbar-brand a {{ background: url('{S3}/full_logo_dark.png') 0 0 no-repeat; }}</style>
</head><body><a href="index.html"><img class="NO-CACHE" src="{LOGO}" alt="Great Expectations" style="height: 50px"/></a>
<footer><a href="https://greatexpectations.io/newsletter">Subscribe</a></footer></body></html>"""


def _fake_assets(root: Path) -> Path:
    for rel in set(CDN_MAP.values()) | {"fontawesome-free/webfonts/fa-solid-900.woff2"}:
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"/* {rel} */")
    return root


def _site(root: Path) -> list[Path]:
    pages = [
        root / "index.html",
        root / "expectations" / "raw_oss_dossier_daily" / "latest.html",
        root / "validations" / "raw_oss_dossier_daily" / "latest" / "run_1" / "20260101T000000Z" / "wh-x.html",
    ]
    for p in pages:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(_page(p.stem))
    return pages


def test_localise_rewrites_every_cdn_url_to_a_relative_path_that_resolves(tmp_path):
    assets = _fake_assets(tmp_path / "assets")
    site = tmp_path / "site"
    pages = _site(site)

    assert localise(site, assets) == len(pages)

    for page in pages:
        html = page.read_text()
        assert not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']https?://", html), page
        assert "great-expectations-web-assets" not in html
        assert "Great Expectations</span>" in html
        assert "integrity=" not in html and "crossorigin=" not in html  # SRI was for the CDN's bytes
        refs = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=\"([^\"]+)\"", html)
        assert len(refs) == len(CDN_MAP)
        for ref in refs:
            assert not ref.startswith("/"), ref
            target = (page.parent / ref).resolve()
            assert target.is_file(), (page, ref)
            assert (site / "static" / "vendor") in target.parents
        assert 'href="https://greatexpectations.io/newsletter"' in html  # plain links are not assets
    deep = pages[-1].read_text()
    assert 'src="../../../../../static/vendor/jquery/dist/jquery.min.js"' in deep
    assert (site / "static/vendor/fontawesome-free/webfonts/fa-solid-900.woff2").is_file()


def test_localise_is_idempotent_and_picks_up_new_pages(tmp_path):
    assets = _fake_assets(tmp_path / "assets")
    site = tmp_path / "site"
    pages = _site(site)
    localise(site, assets)
    before = {p: p.read_text() for p in pages}

    new = site / "validations" / "s" / "latest" / "run_2" / "t" / "new.html"
    new.parent.mkdir(parents=True)
    new.write_text(_page("new"))
    assert localise(site, assets) == 1  # only the page GX just rendered
    assert {p: p.read_text() for p in pages} == before
    assert "https://unpkg.com" not in new.read_text()


def test_make_offline_keeps_cdn_links_when_vendoring_fails(tmp_path, monkeypatch, caplog):
    site = tmp_path / "site"
    (page,) = _site(site)[:1]
    original = page.read_text()
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # no npm on this machine

    assert make_offline(site, tmp_path / "empty-cache") is False
    assert page.read_text() == original
    assert "keep their CDN links" in caplog.text


def test_vendor_assets_skips_npm_when_the_cache_is_complete(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    for pkg in docs_assets.PACKAGES:
        (cache / pkg.folder).mkdir(parents=True)
        (cache / pkg.folder / docs_assets._MARKER).write_text(pkg.spec)

    def no_npm(*_a, **_k):
        raise AssertionError("npm must not run when every package is cached")

    monkeypatch.setattr(docs_assets.subprocess, "run", no_npm)
    assert docs_assets.vendor_assets(cache) == cache
