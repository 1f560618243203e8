"""vendor_assets really fetches the Data Docs assets from the npm registry (the one outside source a
data centre without internet can reach), and a second call is served from the cache."""

from __future__ import annotations

import shutil
import time

import pytest

from chiso.quality.docs_assets import CDN_MAP, PACKAGES, localise, vendor_assets

pytestmark = [pytest.mark.network, pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")]


def test_vendor_assets_fetches_real_files_once(tmp_path):
    cache = vendor_assets(tmp_path / "cache")

    for rel in set(CDN_MAP.values()):
        assert (cache / rel).stat().st_size > 100, rel  # real files, not error pages
    assert (cache / "jquery/dist/jquery.min.js").read_text()[:40].startswith("/*! jQuery v3.7.1")
    assert any((cache / "fontawesome-free/webfonts").glob("fa-solid-900.woff2"))
    assert {p.name for p in cache.iterdir()} == {p.folder for p in PACKAGES}  # no leftover temp folders

    t0 = time.monotonic()
    assert vendor_assets(cache) == cache
    assert time.monotonic() - t0 < 0.5  # cached: no npm call

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<html><head><script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>')
    assert localise(site, cache) == 1
    assert (site / "static/vendor/jquery/dist/jquery.min.js").read_bytes() == (
        cache / "jquery/dist/jquery.min.js"
    ).read_bytes()
