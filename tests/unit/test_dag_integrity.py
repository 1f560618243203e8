"""Every DAG file imports cleanly and follows the house rules (Cosmos-style DAG integrity tests)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap

import early
import pytest

from chiso.settings import REPO_ROOT

EXPECTED = {
    "extract_one_stop_shop",
    "extract_edoc",
    "extract_esign",
    "extract_national_portal",
    "transform_warehouse",
    "export_national_reports",
}

PARSE = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    out = {"errors": {k: v[-2000:] for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "tags": sorted(dag.tags),
            "timezone": str(dag.timezone),
            "catchup": dag.catchup,
            "retries": [t.retries for t in dag.tasks],
            "schedule": str(getattr(dag.timetable, "summary", None) or type(dag.timetable).__name__),
            "run_immediately": [str(getattr(t, "run_immediately", getattr(t, "_run_immediately", None)))
                                for t in [dag.timetable, getattr(dag.timetable, "timetable", None)] if t is not None
                                and type(t).__name__ == "CronTriggerTimetable"],
            "n_tasks": len(dag.tasks),
            "task_ids": [t.task_id for t in dag.tasks],
            "watchers": {t.task_id: {"start_from_trigger": t.start_from_trigger,
                                     "trigger": getattr(t.start_trigger_args, "trigger_cls", None),
                                     "trigger_rule": str(t.trigger_rule)}
                         for t in dag.tasks if hasattr(t, "model_unique_id")},
            "producers": [t.task_id for t in dag.tasks if type(t).__name__ == "DbtProducerWatcherOperator"],
            "trigger_rules": {t.task_id: str(t.trigger_rule) for t in dag.tasks},
            "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        }
    print("@@" + json.dumps(out))
    """
)


@early.job  # dbt parse + Airflow's DagBag (~20 s on one core): started when the session starts
def parse_dags() -> dict:
    with tempfile.TemporaryDirectory(prefix="airflow_home") as home:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",  # as the stack and docker-compose set it
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "CHISO_DBT_PASSWORD": os.environ.get("CHISO_DBT_PASSWORD", "parse-only"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        }
        # Render transform_warehouse from a fresh manifest, as `chiso up` does.
        from chiso.dbt_config import parse_project

        parse_project(env)
        # A subprocess: Airflow's settings are read at import and must not leak into other tests.
        r = early.run([sys.executable, "-c", PARSE, str(REPO_ROOT / "dags")], env=env, timeout=600)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("@@")), None)
    assert line, f"DagBag did not run:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return json.loads(line[2:])


@pytest.fixture(scope="module")
def parsed():
    return early.result(parse_dags)


def test_no_import_errors(parsed):
    assert parsed["errors"] == {}


def test_expected_dags_present(parsed):
    assert set(parsed["dags"]) >= EXPECTED


def test_house_rules(parsed):
    for dag_id, d in parsed["dags"].items():
        assert "chiso" in d["tags"], dag_id
        assert d["timezone"] == "Asia/Ho_Chi_Minh", dag_id
        assert d["catchup"] is False, dag_id
        assert all(r >= 1 for r in d["retries"]), f"{dag_id}: every task retries"


def test_a_fresh_deployment_does_not_run_the_day_at_once(parsed):
    """Cron DAGs start at their next time: Airflow's default runs the latest one at once when the scheduler
    first starts within 2.4 h after it — a `make run` at 01:xx would race the demo pipeline with the day's runs."""
    crons = {dag_id: d["run_immediately"] for dag_id, d in parsed["dags"].items() if d["run_immediately"]}
    assert {"extract_one_stop_shop", "extract_edoc", "extract_esign", "extract_national_portal"} <= set(crons)
    assert all(v == ["0:00:00"] for v in crons.values()), crons


def test_transform_shows_each_model_and_its_tests(parsed):
    ids = parsed["dags"]["transform_warehouse"]["task_ids"]
    assert any(i.endswith(".run") for i in ids) and any(i.endswith(".test") for i in ids)
    assert ids[0] == "check_raw" or "check_raw" in ids


def test_transform_run_fails_when_the_raw_check_fails(parsed):
    """A failed raw check skips the dbt tasks; a leaf that runs only then must fail the run (not "success")."""
    d = parsed["dags"]["transform_warehouse"]
    assert d["trigger_rules"]["fail_run"] in ("one_failed", "TriggerRule.ONE_FAILED")
    assert d["upstream"]["fail_run"] == ["check_raw"]


def test_transform_first_waits_for_a_portal_extract_under_way(parsed):
    d = parsed["dags"]["transform_warehouse"]
    assert d["upstream"]["check_raw"] == ["await_portal"] and d["upstream"]["await_portal"] == []


def test_transform_plans_its_refresh_before_the_build_and_records_it_after(parsed):
    """plan_refresh decides whether the producer's build is a full refresh (chiso.dbt_refresh); the definitions
    are recorded only once the build and the staging check succeeded."""
    d = parsed["dags"]["transform_warehouse"]
    assert d["upstream"]["plan_refresh"] == ["check_raw"]
    assert d["upstream"]["dbt.dbt_producer_watcher"] == ["plan_refresh"]
    assert d["upstream"]["record_definitions"] == ["check_staging"]


def test_transform_is_one_dbt_build_watched_from_the_triggerer(parsed):
    """One producer task runs `dbt build`; every model/test task watches it from the triggerer (no worker)."""
    d = parsed["dags"]["transform_warehouse"]
    assert d["producers"] == ["dbt.dbt_producer_watcher"]
    watchers = d["watchers"]
    assert len(watchers) > 50, "a task per model and per model's tests"
    assert all(w["start_from_trigger"] and w["trigger"] == "chiso.dbt_watch.ModelResultTrigger"
               for w in watchers.values()), watchers
    assert {w["trigger_rule"] for w in watchers.values()} == {"always"}
