"""Where dbt lives and how Cosmos should call it: dbt runs from its own venv as a subprocess,
with the transformer role's credentials from the environment (set by the supervisor or the deployment)."""

from __future__ import annotations

import os
from pathlib import Path

from chiso.settings import REPO_ROOT


def project_dir() -> Path:
    return Path(os.environ.get("CHISO_DBT_PROJECT_DIR", REPO_ROOT / "dbt_project"))


def dbt_executable() -> str:
    return os.environ.get("CHISO_DBT_EXECUTABLE", str(REPO_ROOT / ".venvs" / "dbt" / "bin" / "dbt"))


def manifest_path() -> Path:
    return project_dir() / "target" / "manifest.json"


def parse_project(env: dict[str, str]) -> None:
    """`dbt parse` → target/manifest.json, which Cosmos renders from (fast, no dbt call at DAG parse time)."""
    import subprocess

    r = subprocess.run(
        [dbt_executable(), "parse", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir())],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if r.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")


def cosmos_configs():
    """(ProjectConfig, ProfileConfig, ExecutionConfig, RenderConfig) for the transform DAG."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    manifest = manifest_path()
    project = ProjectConfig(
        dbt_project_path=project_dir(),
        manifest_path=manifest if manifest.exists() else None,
        env_vars={k: v for k, v in os.environ.items() if k.startswith(("CHISO_PG_", "CHISO_DBT_"))},
    )
    profile = ProfileConfig(
        profile_name="chiso", target_name="local", profiles_yml_filepath=project_dir() / "profiles.yml"
    )
    # WATCHER: one `dbt build` (the producer task) does the work at the cost of one dbt invocation; each model and
    # its tests still show as a task (a deferrable sensor fed from the producer's JSON log), and a sensor retried
    # after the producer failed runs its own model, so a killed build is finished model by model.
    execution = ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER,
        dbt_executable_path=dbt_executable(),
        invocation_mode=InvocationMode.SUBPROCESS,
    )
    render = RenderConfig(
        # The manifest `chiso up` writes keeps DAG parsing to a file read; dbt ls is the fallback.
        load_method=LoadMode.DBT_MANIFEST if manifest.exists() else LoadMode.DBT_LS,
        dbt_executable_path=dbt_executable(),
        invocation_mode=InvocationMode.SUBPROCESS,
        test_behavior=TestBehavior.AFTER_EACH,
        # Tests spanning several models (relationships, singular) run once all their parents are built.
        should_detach_multiple_parents_tests=True,
        emit_datasets=False,  # the DAG emits one marts asset itself, after the marts are checked
        enable_mock_profile=False,
    )
    return project, profile, execution, render
