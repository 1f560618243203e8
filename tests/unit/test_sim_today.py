"""The simulated world's clock the stack starts: the last day of a past demo window is fully delivered (its
e-signature report arrives 01:00-03:00 the next morning), whatever the real time of day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chiso.settings import Settings
from chiso.stack.components import sim_clock, sim_today
from chiso_simulator.engine import TZ
from chiso_simulator.esign_drop import schedule
from chiso_simulator.server import build_state, parser

ICT = ZoneInfo("Asia/Ho_Chi_Minh")


def _settings(tmp_path: Path, end: date) -> Settings:
    return Settings(home=tmp_path, demo_start=end - timedelta(days=30), demo_end=end)


def test_a_past_window_starts_the_clock_at_noon_after_its_last_day(tmp_path):
    at_0125 = datetime(2026, 12, 3, 1, 25, tzinfo=ICT)  # when CI found the last e-signature file missing
    assert sim_today(_settings(tmp_path, date(2025, 7, 31)), at_0125) == "2025-08-01T12:00:00+07:00"
    # a window ending yesterday keeps the real time of day: that report's delivery is real
    assert sim_today(_settings(tmp_path, date(2026, 12, 2)), at_0125) == "2026-12-03"


def test_the_simulator_runs_its_clock_from_an_instant_and_the_last_day_is_delivered(monkeypatch):
    monkeypatch.setenv("CHISO_SIM_TODAY", "2025-08-01T12:00:00+07:00")
    state = build_state(parser().parse_args(["serve"]))
    now = state.sim.now()
    assert now.astimezone(TZ).date() == date(2025, 8, 1) and now.astimezone(TZ).hour == 12
    first = schedule(state.sim, date(2025, 7, 31))[0]
    assert first.at <= now  # without faults, the day's first delivery is due by then



def test_a_past_window_stands_still_and_a_live_one_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("CHISO_SIM_TODAY", raising=False)
    at_0125 = datetime(2026, 12, 3, 1, 25, tzinfo=ICT)
    assert sim_clock(_settings(tmp_path, date(2025, 7, 31)), at_0125) == {
        "CHISO_SIM_TODAY": "2025-08-01T12:00:00+07:00", "CHISO_SIM_CLOCK": "frozen"}
    assert sim_clock(_settings(tmp_path, date(2026, 12, 2)), at_0125) == {
        "CHISO_SIM_TODAY": "2026-12-03", "CHISO_SIM_CLOCK": "running"}
    monkeypatch.setenv("CHISO_SIM_TODAY", "2025-08-02")  # the operator's own date wins, and runs
    assert sim_clock(_settings(tmp_path, date(2025, 7, 31)), at_0125)["CHISO_SIM_CLOCK"] == "running"


def test_a_frozen_clock_stands_at_its_instant_and_late_corrections_wait(monkeypatch):
    monkeypatch.setenv("CHISO_SIM_TODAY", "2025-08-01T12:00:00+07:00")
    monkeypatch.setenv("CHISO_SIM_CLOCK", "frozen")
    state = build_state(parser().parse_args(["serve"]))
    first = state.sim.now()
    assert state.sim.clock.state()["frozen"] and state.sim.now() == first
    assert first == datetime(2025, 8, 1, 12, tzinfo=ICT)
    monkeypatch.setenv("CHISO_SIM_TODAY", "2025-08-02")
    with pytest.raises(SystemExit, match="instant"):
        build_state(parser().parse_args(["serve"]))
