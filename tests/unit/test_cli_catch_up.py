"""`chiso up --pipeline` loads the demo window once, then only catches up the days after the end it reached."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from chiso.cli import _catch_up_start
from chiso.settings import Settings

S = replace(Settings(), province="25", demo_start=date(2025, 1, 1), demo_end=date(2026, 12, 1))


def test_nothing_loaded_runs_the_whole_window():
    assert _catch_up_start("", S) == date(2025, 1, 1)


def test_window_already_loaded_runs_nothing():
    assert _catch_up_start("25 2025-01-01..2026-12-01", S) is None


def test_a_later_yesterday_catches_up_with_the_seven_day_lookback():
    # loaded to 30/11: re-read 24/11 .. 30/11 (lookback) and the new 1/12
    assert _catch_up_start("25 2025-01-01..2026-11-30", S) == date(2026, 11, 24)
    # never before the window's start
    assert _catch_up_start("25 2025-01-01..2025-01-03", S) == date(2025, 1, 1)


def test_another_province_start_or_an_old_stamp_reloads_the_window():
    assert _catch_up_start("26 2025-01-01..2026-11-30", S) == date(2025, 1, 1)
    assert _catch_up_start("25 2024-01-01..2026-11-30", S) == date(2025, 1, 1)
    assert _catch_up_start("2024-01-01..2025-06-30", S) == date(2025, 1, 1)
