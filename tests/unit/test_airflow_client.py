"""The Airflow REST API caps a page at 100 task instances; the transform run has more (a task per dbt node)."""

from __future__ import annotations

from chiso.airflow_client import AirflowClient


class PagedApi(AirflowClient):
    def __init__(self, n: int, failed: set[int]) -> None:
        self.tis = [{"task_id": f"t{i:03d}", "state": "failed" if i in failed else "success"} for i in range(n)]
        self.calls = 0

    def get(self, path: str, **kw) -> dict:
        self.calls += 1
        p = kw["params"]
        limit, offset = min(p["limit"], 100), p.get("offset", 0)
        return {"task_instances": self.tis[offset : offset + limit], "total_entries": len(self.tis)}


def test_every_page_is_read():
    api = PagedApi(230, failed={3, 150, 229})
    assert [t["task_id"] for t in api.task_instances("d", "r")] == [t["task_id"] for t in api.tis]
    assert api.calls == 3
    assert api.failed_tasks("d", "r") == ["t003", "t150", "t229"]


def test_an_empty_run_is_one_call():
    api = PagedApi(0, failed=set())
    assert api.task_instances("d", "r") == [] and api.calls == 1
