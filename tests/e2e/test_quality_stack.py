"""Data quality on the running stack: results stored per expectation per run, freshness exposed to the
dashboards, and the Data Docs site served after `make run` (screenshot)."""

from __future__ import annotations

import shutil

import httpx
import psycopg
import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_results_stored_for_every_layer(live_stack):
    with psycopg.connect(live_stack["warehouse"]["uri"]) as conn:
        layers = dict(conn.execute(
            "SELECT layer, count(*) FROM quality.expectation_results GROUP BY layer").fetchall())
        dup = conn.execute(
            "SELECT count(*) FROM (SELECT run_id, suite, expectation_name FROM quality.expectation_results "
            "GROUP BY 1, 2, 3 HAVING count(*) > 1) d").fetchone()[0]
    assert {"raw", "staging", "marts"} <= set(layers), layers
    assert dup == 0


def test_freshness_visible_to_the_dashboard_role(live_stack):
    with psycopg.connect(live_stack["warehouse"]["marts_reader_uri"]) as conn:
        rows = conn.execute("SELECT source, entity, status FROM marts.quality_source_freshness").fetchall()
    assert {r[0] for r in rows} >= {"one_stop_shop", "edoc", "esign"}
    assert all(r[2] in ("ok", "late", "failing", "never_loaded") for r in rows)


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed (make browser)")
def test_data_docs_open_in_a_browser(live_stack, artifacts_dir):
    from playwright.sync_api import sync_playwright

    url = live_stack["data_docs"]["url"]
    assert httpx.get(url + "index.html", timeout=10).status_code == 200
    shot = artifacts_dir / "data-docs.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url + "index.html", wait_until="networkidle")
        text = page.inner_text("body")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert "raw_oss_dossier_daily" in text, text[:500]
    assert shot.exists() and shot.stat().st_size > 10_000
