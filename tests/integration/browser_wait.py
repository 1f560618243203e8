"""Waiting on a page in the headless-browser tests."""

from __future__ import annotations

import sys


def settle(page, timeout: int = 30_000) -> None:
    """Let the page's last requests (thumbnails, logs, filter state) finish before a screenshot or a read of its texts.
    Callers first wait for what they check (charts drawn, a title); "network idle" (no request for 500 ms) is only
    a courtesy, which a busy CI machine can keep from happening for long: past the timeout, go on and say so."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_load_state("networkidle", timeout=timeout)
    except PlaywrightTimeout:
        print(f"superset: {page.url} still had requests in flight after {timeout} ms; going on", file=sys.stderr)
