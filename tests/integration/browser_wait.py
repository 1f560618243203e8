"""Waiting on a page in the headless-browser tests."""

from __future__ import annotations

import sys

# Every chart of a dashboard drawn: at least n chart cells, no spinner left, each holding a canvas, svg, table,
# big number or an error message (an error is drawn too; callers check for errors themselves).
CHARTS_RENDERED_JS = """n => {
    const cs = document.querySelectorAll('[data-test="chart-grid-component"]');
    if (cs.length < n) return false;
    if (document.querySelector('[data-test="chart-grid-component"] [aria-label="Loading"],'
        + ' [data-test="chart-grid-component"] .loading')) return false;
    return [...cs].every(c => c.querySelector('canvas, svg, table, .header-line,'
        + ' .superset-legacy-chart-big-number, .big_number, [data-test="error-message"], .ant-alert'));
}"""


def settle(page, timeout: int = 30_000) -> None:
    """Let the page's last requests (thumbnails, logs, filter state) finish before a screenshot or a read of its texts.
    Callers first wait for what they check (charts drawn, a title); "network idle" (no request for 500 ms) is only
    a courtesy, which a busy CI machine can keep from happening for long: past the timeout, go on and say so."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_load_state("networkidle", timeout=timeout)
    except PlaywrightTimeout:
        print(f"superset: {page.url} still had requests in flight after {timeout} ms; going on", file=sys.stderr)


def page_screenshot(page, path) -> None:
    """A screenshot of the whole page, taken in a window as tall as the page. Playwright's own full-page capture
    resizes the window for an instant, and on the reconciliation dashboard Superset then drops its chart grid
    (seen every time in headless Chromium, never with an ordinary resize): the picture showed an empty dashboard."""
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(1000)
    try:
        page.screenshot(path=str(path))
    finally:
        if size and height > size["height"]:
            page.set_viewport_size(size)
