"""Data quality on the running stack: results stored per expectation per run, freshness exposed to the
dashboards, and the Data Docs site served after `make run` (screenshot)."""

from __future__ import annotations

import shutil

import httpx
import psycopg
import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_results_stored_for_every_layer(loader_uri):
    with psycopg.connect(loader_uri) as conn:
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


@pytest.mark.browser
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


def _marts_fingerprint(conn, day) -> tuple:
    return conn.execute(
        "SELECT count(*), sum(points), sum(numerator) FROM marts.fct_indicator_values "
        "WHERE period_type = 'month' AND period_start = date_trunc('month', %s::date)::date", (day,)
    ).fetchone()


def _land_version(conn, row: dict, day, note: str) -> None:
    """Store a new raw version of one dossier row, with its load audit, as a load would."""
    import uuid

    batch = uuid.uuid4()
    conn.execute(
        "INSERT INTO raw.load_audit (batch_id, source, entity, window_start, window_end, run_id, "
        "finished_at, status, rows_received, rows_new_versions) "
        "VALUES (%s, 'one_stop_shop', 'dossier_daily', %s, %s, %s, now(), 'succeeded', 1, 1)",
        (batch, day, day, note),
    )
    cols = [c for c in row if not c.startswith("_")]
    conn.execute(
        f"INSERT INTO raw.oss_dossier_daily ({', '.join(cols)}, _batch_id, _row_hash) "
        f"VALUES ({', '.join(['%s'] * len(cols))}, %s, %s)",
        [row[c] for c in cols] + [batch, f"{note}-{batch}"],
    )


def test_critical_failure_blocks_marts_and_clean_run_recovers(live_stack, loader_uri, airflow):
    """Bad raw data (full-online > online) stops transform_warehouse before dbt; marts keep their
    values; once the source sends the row right again, the next run rebuilds without manual steps."""
    from psycopg.rows import dict_row

    with psycopg.connect(loader_uri, autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT * FROM raw.oss_dossier_daily_latest WHERE tiep_nhan_truc_tuyen > 0 "
            "ORDER BY ngay DESC, ma_dinh_danh, ma_thu_tuc LIMIT 1").fetchone()
        day = row["ngay"]
    with psycopg.connect(live_stack["warehouse"]["marts_reader_uri"]) as reader:
        before = _marts_fingerprint(reader, day)
    conf = {"start": day.isoformat(), "end": day.isoformat()}

    with psycopg.connect(loader_uri, autocommit=True) as conn:
        _land_version(conn, {**row, "tiep_nhan_toan_trinh": row["tiep_nhan_truc_tuyen"] + 5}, day, "e2e-bad")
    run_id = airflow.trigger("transform_warehouse", conf, run_id=f"e2e_bad__{day}")
    assert airflow.wait("transform_warehouse", run_id, timeout=1800) == "failed"
    failed = airflow.failed_tasks("transform_warehouse", run_id)
    assert "check_raw" in failed
    with psycopg.connect(live_stack["warehouse"]["marts_reader_uri"]) as reader:
        assert _marts_fingerprint(reader, day) == before, "marts were rebuilt from bad raw data"
    with psycopg.connect(loader_uri) as conn:
        (msg,) = conn.execute(
            "SELECT message_vi FROM quality.expectation_results WHERE run_id = %s "
            "AND expectation_name = 'full_online_le_online'", (run_id,)).fetchone()
    assert msg

    with psycopg.connect(loader_uri, autocommit=True) as conn:
        _land_version(conn, row, day, "e2e-fixed")
    run_id = airflow.trigger("transform_warehouse", conf, run_id=f"e2e_fixed__{day}")
    assert airflow.wait("transform_warehouse", run_id, timeout=3600) == "success"
    with psycopg.connect(live_stack["warehouse"]["marts_reader_uri"]) as reader:
        assert _marts_fingerprint(reader, day) == before
