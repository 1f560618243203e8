"""`chiso pipeline` follows the transform our extracts caused, against a fake Airflow API: a transform started by
stale events before ours landed does not count, and queued events that cannot start a run (some assets of an
AssetAll schedule only) do not make it wait forever."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chiso import pipeline

ALL_RAW = {"all": [{"asset": {"id": 1}}, {"asset": {"id": 2}}, {"any": [{"asset": {"id": 3}}]}]}


class FakeAirflow:
    def __init__(self, runs: list[dict], queued: set[int], events: dict[str, list[str]]) -> None:
        self._runs, self.queued, self.events, self.triggered = runs, queued, events, []

    def get(self, path: str, params: dict | None = None) -> dict:
        if path.endswith("/assets/queuedEvents"):
            return {"queued_events": [{"asset_id": i} for i in sorted(self.queued)], "total_entries": len(self.queued)}
        if path.endswith("/details"):
            return {"asset_expression": ALL_RAW}
        if path == "/api/v2/assets/events":
            return {"asset_events": [{"timestamp": ts} for ts in self.events.get(params["source_run_id"], [])]}
        raise AssertionError(path)

    def runs(self, dag_id: str, limit: int = 100) -> list[dict]:
        return list(self._runs)

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> str:
        self.triggered.append(run_id)
        # the triggered run is queued now and, for this fake, already over
        self._runs.append({"dag_run_id": run_id, "state": "success", "queued_at": "2026-12-03T14:10:00Z"})
        return run_id


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(pipeline, "APPEAR_TIMEOUT", 0)
    monkeypatch.setattr(pipeline.time, "sleep", lambda s: None)


def test_the_schedule_assets_are_read_through_nested_conditions():
    assert pipeline._assets_of(ALL_RAW) == ("all", {1, 2, 3})
    assert pipeline._assets_of({"any": [{"asset": {"id": 7}}]}) == ("any", {7})
    assert pipeline._assets_of(None) == ("any", set())


def test_some_assets_of_an_assetall_schedule_start_no_run():
    assert not pipeline._run_coming(FakeAirflow([], {1, 2}, {}), "transform_warehouse")
    assert pipeline._run_coming(FakeAirflow([], {1, 2, 3}, {}), "transform_warehouse")
    assert not pipeline._run_coming(FakeAirflow([], set(), {}), "transform_warehouse")


def test_the_last_event_of_our_runs_is_when_the_data_is_in():
    events = {"r1": ["2026-12-03T14:01:03Z"], "r2": ["2026-12-03T14:01:15Z", "2026-12-03T14:01:10Z"]}
    fake = FakeAirflow([], set(), events)
    since = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    landed = pipeline.events_landed(fake, {"a": "r1", "b": "r2"}, since)
    assert landed == datetime(2026, 12, 3, 14, 1, 15, tzinfo=UTC)
    assert pipeline.events_landed(fake, {"a": "none"}, since) == since


def test_a_transform_started_before_our_events_landed_is_not_ours_and_one_is_triggered():
    # Stale events of a one-source backfill plus two of our sources started a transform at 14:01:03, before the
    # third source's events (14:01:15); those wait in the queue for the others, which will not come.
    premature = {"dag_run_id": "asset_triggered__early", "state": "success", "queued_at": "2026-12-03T14:01:03Z"}
    fake = FakeAirflow([premature], {1, 2}, {})
    landed = datetime(2026, 12, 3, 14, 1, 15, tzinfo=UTC)
    done = pipeline.follow_downstream(fake, "transform_warehouse", landed, {}, timeout=60)
    assert len(fake.triggered) == 1 and [r["dag_run_id"] for r in done] == fake.triggered


def test_an_asset_triggered_run_after_our_events_is_followed_without_triggering():
    ours = {"dag_run_id": "asset_triggered__ours", "state": "success", "queued_at": "2026-12-03T14:01:16Z"}
    fake = FakeAirflow([ours], set(), {})
    done = pipeline.follow_downstream(fake, "transform_warehouse", datetime(2026, 12, 3, 14, 1, 15, tzinfo=UTC), {},
                                      timeout=60)
    assert done == [ours] and not fake.triggered
