"""The triggerer-side watch of one dbt build (chiso.dbt_watch): what each node's task does for each outcome."""

from __future__ import annotations

import asyncio

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

from chiso import dbt_watch
from chiso.dbt_watch import RESULTS_KEY, ModelResultTrigger, record_node_results, status_key

MODEL = "model.chiso.int_indicator_counts"
PRODUCER = "dbt.dbt_producer_watcher"


class FakeRun:
    """The producer's XComs and the task states of one dag run, as the triggerer would read them."""

    def __init__(self, results=None, producer="running", states=None, own=None):
        self.results = results or {}
        self.producer = producer
        self.states = states or {}
        self.own = own  # Cosmos' per-node key (restored on a producer retry)
        self.xcom_reads = 0

    def bind(self, trigger: ModelResultTrigger, try_number: int = 1) -> ModelResultTrigger:
        async def task_states(task_ids):
            return {t: (self.producer if t == PRODUCER else self.states.get(t)) for t in task_ids}

        async def get_xcom_val(key):
            assert key == RESULTS_KEY
            self.xcom_reads += 1
            return dict(self.results)

        async def own_status():
            return self.own, None

        trigger._task_states = task_states
        trigger.get_xcom_val = get_xcom_val
        trigger._parse_dbt_node_status_and_compiled_sql = own_status

        class TI:
            dag_id, run_id, map_index, task_id = "transform_warehouse", f"run{id(self)}", -1, "dbt.m.run"

        TI.try_number = try_number
        trigger.task_instance = TI()
        return trigger


def trigger(tests: bool = False, upstream=()) -> ModelResultTrigger:
    return ModelResultTrigger(MODEL, PRODUCER, poke_interval=0.01, is_test_sensor=tests,
                              upstream_task_ids=list(upstream))


def first_event(t: ModelResultTrigger):
    async def go():
        async for event in t.run():
            return event

    return asyncio.run(asyncio.wait_for(go(), timeout=5))


def test_success_ends_the_task_in_the_triggerer():
    run = FakeRun(results={status_key(MODEL, False): "success"})
    assert isinstance(first_event(run.bind(trigger())), TaskSuccessEvent)


def test_tests_sensor_reads_the_aggregate_of_the_models_tests():
    run = FakeRun(results={status_key(MODEL, True): "pass", status_key(MODEL, False): "error"})
    assert isinstance(first_event(run.bind(trigger(tests=True))), TaskSuccessEvent)


def test_failed_node_fails_on_the_worker_with_cosmos_reason_then_runs_alone_on_retry():
    run = FakeRun(results={status_key(MODEL, False): "error"}, producer="failed", states={"dbt.a.test": "success"})
    event = first_event(run.bind(trigger(upstream=["dbt.a.test"])))
    assert event.payload == {"status": "failed", "reason": "node_failed"}
    event = first_event(run.bind(trigger(upstream=["dbt.a.test"]), try_number=2))
    assert event.payload == {"status": "failed", "reason": "producer_skipped"}  # Cosmos runs the model alone


def test_build_that_died_runs_the_node_alone_only_after_its_parents():
    run = FakeRun(producer="skipped", states={"dbt.a.test": "running"})
    t = run.bind(trigger(upstream=["dbt.a.test"]))

    async def go():
        task = asyncio.ensure_future(t.run().__anext__())
        await asyncio.sleep(0.1)
        assert not task.done(), "must wait while a parent is still running"
        run.states["dbt.a.test"] = "success"
        return await asyncio.wait_for(task, 5)

    assert asyncio.run(go()).payload == {"status": "failed", "reason": "producer_skipped"}


def test_node_whose_parent_failed_is_failed_not_run():
    run = FakeRun(producer="skipped", states={"dbt.a.test": "failed"})
    assert isinstance(first_event(run.bind(trigger(upstream=["dbt.a.test"]))), TaskFailedEvent)


def test_result_restored_by_a_producer_retry_counts():
    run = FakeRun(producer="skipped", own="success")
    assert isinstance(first_event(run.bind(trigger())), TaskSuccessEvent)


def test_successful_build_without_this_node_needs_nothing_more():
    assert isinstance(first_event(FakeRun(producer="success").bind(trigger())), TaskSuccessEvent)


def test_run_stopped_before_dbt_skips_the_node():
    assert isinstance(first_event(FakeRun(producer="upstream_failed").bind(trigger())), TaskSkippedEvent)


def test_sensors_of_one_run_share_one_read_per_poll():
    run = FakeRun()
    triggers = [run.bind(ModelResultTrigger(f"model.chiso.m{i}", PRODUCER, poke_interval=0.2)) for i in range(30)]

    async def go():
        tasks = [asyncio.ensure_future(t.run().__anext__()) for t in triggers]
        await asyncio.sleep(0.5)
        reads = run.xcom_reads
        run.results = {status_key(f"model.chiso.m{i}", False): "success" for i in range(30)}
        done = await asyncio.wait_for(asyncio.gather(*tasks), 5)
        return reads, done

    reads, done = asyncio.run(go())
    assert all(isinstance(e, TaskSuccessEvent) for e in done)
    assert reads <= 4, f"{reads} reads for 30 sensors in 0.5 s at a 0.2 s interval"
    assert dbt_watch._RUNS == {} or all(r.users >= 0 for r in dbt_watch._RUNS.values())


def test_producer_keeps_every_node_result_in_one_xcom():
    pushed = {}

    class TI:
        def xcom_push(self, key, value):
            pushed[key] = value

    ti = TI()
    record_node_results({"ti": ti})
    ti.xcom_push("model__chiso__a_status", {"status": "success", "outlet_uris": []})
    ti.xcom_push("model__chiso__a_tests_status", "pass")
    ti.xcom_push("task_status", "completed")
    assert pushed[RESULTS_KEY] == {"model__chiso__a_status": "success", "model__chiso__a_tests_status": "pass"}
    assert pushed["task_status"] == "completed"


@pytest.mark.parametrize("tests", [False, True])
def test_status_key_is_cosmos_key(tests):
    from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
    from cosmos.operators._watcher.state import get_status_xcom_key

    expected = get_tests_status_xcom_key(MODEL) if tests else get_status_xcom_key(MODEL)
    assert status_key(MODEL, tests) == expected
