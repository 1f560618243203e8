"""Per-model dbt tasks that cost nothing while the build succeeds.

Cosmos' watcher mode runs the whole project as one `dbt build` (the producer task) and shows every model and
its tests as a sensor task fed from that build's log. As Cosmos ships it, each sensor starts on a worker twice
(to defer, then to finish), every start parses the DAG file (about a second of CPU), and each sensor waits for
the sensors of its parents: ~190 starts along a chain 20 tasks deep, more than the build itself on 2 cores.

Here every sensor starts *in the triggerer* (Airflow's `start_from_trigger`) as soon as the run starts, and
ends there (`TaskSuccessEvent`) the moment its node's result is in: no worker, no DAG parse, no waiting on a
chain. The producer also keeps one XCom with every node's result so far; all sensors of a run share one read
of it per poll. Anything but success (a failed node, a build that died) resumes the task on a worker with
Cosmos' own event, so Cosmos keeps deciding what a failure means; when a node has to be run on its own (a
retry, or a build that died before reaching it), its sensor first waits until the tasks of its parents are
done, so models are still rebuilt in dependency order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from airflow.triggers.base import (
    StartTriggerArgs,
    TaskFailedEvent,
    TaskSkippedEvent,
    TaskSuccessEvent,
    TriggerEvent,
)
from cosmos.listeners.dag_run_listener import EventStatus
from cosmos.operators._watcher.state import (
    is_dbt_node_status_failed,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators._watcher.triggerer import WatcherEventReason, WatcherTrigger

TRIGGER_PATH = "chiso.dbt_watch.ModelResultTrigger"
RESULTS_KEY = "chiso_node_results"  # XCom of the producer: {status key: status} of every node finished so far
# Producer states after which no more results come.
PRODUCER_DONE = {"success", "failed", "skipped"}
PRODUCER_NEVER_RAN = {"upstream_failed", "removed"}
UPSTREAM_OK = {"success", "skipped"}
UPSTREAM_BAD = {"failed", "upstream_failed", "removed"}


def status_key(unique_id: str, tests: bool) -> str:
    """Cosmos' XCom key for a node's result (tests: the aggregate of the model's tests)."""
    return f"{unique_id.replace('.', '__')}_{'tests_status' if tests else 'status'}"


def _status_value(value: Any) -> Any:
    return value.get("status") if isinstance(value, dict) else value


def record_node_results(context: dict) -> None:
    """Producer's on_execute_callback: mirror every node result Cosmos pushes into one XCom (RESULTS_KEY)."""
    ti = context["ti"]
    push = ti.xcom_push
    results: dict[str, Any] = {}

    def xcom_push(key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        out = push(key, value, *args, **kwargs)
        if key.endswith("_status") and key != "task_status":
            results[key] = _status_value(value)
            push(RESULTS_KEY, dict(results))
        return out

    object.__setattr__(ti, "xcom_push", xcom_push)


@dataclass
class _RunResults:
    """One read of the producer's results per poll interval, shared by every sensor of a run in this triggerer."""

    results: dict[str, Any] = field(default_factory=dict)
    producer_state: str | None = None
    read_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


_RUNS: dict[tuple[str, str], _RunResults] = {}


class ModelResultTrigger(WatcherTrigger):
    """Waits, in the triggerer, for one node's result in the producer's build."""

    def __init__(
        self,
        model_unique_id: str,
        producer_task_id: str,
        poke_interval: float = 2.0,
        is_test_sensor: bool = False,
        upstream_task_ids: list[str] | None = None,
        dag_id: str = "",
        run_id: str = "",
        map_index: int | None = -1,
        **_: Any,
    ) -> None:
        super().__init__(
            model_unique_id=model_unique_id,
            producer_task_id=producer_task_id,
            dag_id=dag_id,
            run_id=run_id,
            map_index=map_index,
            poke_interval=poke_interval,
            is_test_sensor=is_test_sensor,
        )
        self.upstream_task_ids = list(upstream_task_ids or [])

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return TRIGGER_PATH, {**kwargs, "upstream_task_ids": self.upstream_task_ids}

    def _bind_run(self) -> int:
        """Take the dag run from the task instance the triggerer attached; returns the try number."""
        ti = getattr(self, "task_instance", None)
        if ti is None:
            return 1
        self.dag_id = self.dag_id or ti.dag_id
        self.run_id = self.run_id or ti.run_id
        self.map_index = ti.map_index if ti.map_index is not None else -1
        return int(getattr(ti, "try_number", 1) or 1)

    async def _task_states(self, task_ids: list[str]) -> dict[str, str | None]:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
        from asgiref.sync import sync_to_async

        states = await sync_to_async(RuntimeTaskInstance.get_task_states)(
            dag_id=self.dag_id, task_ids=task_ids, run_ids=[self.run_id]
        )
        got = (states or {}).get(self.run_id, {})
        return {t: (str(got[t]) if got.get(t) is not None else None) for t in task_ids}

    async def _shared_read(self, run: _RunResults) -> tuple[dict[str, Any], str | None]:
        async with run.lock:
            if time.monotonic() - run.read_at >= self.poke_interval:
                run.producer_state = (await self._task_states([self.producer_task_id]))[self.producer_task_id]
                run.results = await self.get_xcom_val(RESULTS_KEY) or {}
                run.read_at = time.monotonic()
            return run.results, run.producer_state

    async def _parents_done(self) -> bool:
        """Wait until the tasks of this node's parents ended; True when they all succeeded (or were skipped)."""
        while self.upstream_task_ids:
            states = await self._task_states(self.upstream_task_ids)
            if any(s in UPSTREAM_BAD for s in states.values()):
                return False
            if all(s in UPSTREAM_OK for s in states.values()):
                return True
            await asyncio.sleep(self.poke_interval)
        return True

    async def _run_alone(self) -> AsyncIterator[TriggerEvent]:
        """The build gave no usable result for this node: Cosmos runs it on a worker, after its parents."""
        if not await self._parents_done():
            yield TaskFailedEvent()
            return
        yield TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try_number = self._bind_run()
        key = status_key(self.model_unique_id, self.is_test_sensor)
        run_key = (self.dag_id, self.run_id)
        run = _RUNS.setdefault(run_key, _RunResults())
        run.users += 1
        try:
            while True:
                results, producer = await self._shared_read(run)
                status = results.get(key)
                if status is None and producer in PRODUCER_DONE:
                    # A retried producer restores Cosmos' per-node keys, not ours: read this node's own key.
                    status, _ = await self._parse_dbt_node_status_and_compiled_sql()
                if is_dbt_node_status_success(status) or (status is None and producer == "success"):
                    yield TaskSuccessEvent()  # a node that did not run in a successful build has nothing to do
                    return
                if is_dbt_node_status_skipped(status):
                    yield TaskSkippedEvent()
                    return
                if is_dbt_node_status_failed(status):
                    if try_number == 1:
                        # Cosmos fails the task with the node's error; its retry runs the node alone.
                        yield TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.NODE_FAILED})
                    else:
                        async for event in self._run_alone():
                            yield event
                    return
                if producer in PRODUCER_NEVER_RAN:
                    yield TaskSkippedEvent()  # the run stopped before dbt (e.g. the raw data check failed)
                    return
                if producer in PRODUCER_DONE:
                    async for event in self._run_alone():
                        yield event
                    return
                await asyncio.sleep(self.poke_interval)
        finally:
            run.users -= 1
            if run.users <= 0:
                _RUNS.pop(run_key, None)


def start_in_triggerer(task_group: Any, poke_interval: float = 2.0) -> int:
    """Make every watcher sensor of a Cosmos task group start (and, on success, end) in the triggerer, and the
    producer keep the shared results. Returns how many sensors were changed (checked by the DAG tests)."""
    from cosmos.operators._watcher.base import BaseConsumerSensor

    tasks = list(_leaf_tasks(task_group))
    sensors = [t for t in tasks if isinstance(t, BaseConsumerSensor)]
    producers = {t.producer_task_id for t in sensors}
    for task in tasks:
        if task.task_id in producers:
            task.on_execute_callback = [record_node_results]
    for task in sensors:
        task.poke_interval = poke_interval
        # Watch from the start: dbt orders the build; the parents matter only when a node runs alone.
        task.trigger_rule = "always"
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=TRIGGER_PATH,
            trigger_kwargs={
                "model_unique_id": task.model_unique_id,
                "producer_task_id": task.producer_task_id,
                "poke_interval": poke_interval,
                "is_test_sensor": task.is_test_sensor,
                "upstream_task_ids": sorted(task.upstream_task_ids - producers),
            },
            next_method="execute_complete",
            next_kwargs=None,
            timeout=None,
        )
    return len(sensors)


def _leaf_tasks(group: Any):
    for child in group.children.values():
        if hasattr(child, "children"):
            yield from _leaf_tasks(child)
        else:
            yield child
