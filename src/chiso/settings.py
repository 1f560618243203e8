"""Paths, ports and the demo window: one place, every value overridable from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _port(name: str, default: int) -> int:
    text = _env(name, str(default))
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValueError(f"{name} phải là số cổng 1–65535, nhận '{text}'")
    return port


EXECUTORS = ("local", "celery")


def _executor() -> str:
    text = _env("CHISO_EXECUTOR", "local")
    if text not in EXECUTORS:
        raise ValueError(f"CHISO_EXECUTOR phải là {' hoặc '.join(EXECUTORS)}, nhận '{text}'")
    return text


def _date(name: str, default: str) -> date:
    text = _env(name, default)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} phải là ngày dạng YYYY-MM-DD, nhận '{text}'") from None


def _yesterday() -> str:
    """The last whole day in the province's time zone."""
    return (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() - timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Settings:
    repo: Path = REPO_ROOT
    home: Path = field(default_factory=lambda: Path(_env("CHISO_HOME", str(REPO_ROOT / "var"))).resolve())
    venvs: Path = field(default_factory=lambda: Path(_env("CHISO_VENVS", str(REPO_ROOT / ".venvs"))))
    host: str = "127.0.0.1"
    pg_port: int = field(default_factory=lambda: _port("CHISO_PG_PORT", 5433))
    oss_port: int = field(default_factory=lambda: _port("CHISO_OSS_PORT", 8701))
    edoc_port: int = field(default_factory=lambda: _port("CHISO_EDOC_PORT", 8702))
    national_port: int = field(default_factory=lambda: _port("CHISO_NATIONAL_PORT", 8703))
    portal_port: int = field(default_factory=lambda: _port("CHISO_PORTAL_PORT", 8704))  # national portal (§5)
    airflow_port: int = field(default_factory=lambda: _port("CHISO_AIRFLOW_PORT", 8080))
    superset_port: int = field(default_factory=lambda: _port("CHISO_SUPERSET_PORT", 8088))
    docs_port: int = field(default_factory=lambda: _port("CHISO_DOCS_PORT", 8089))
    # Airflow's own listeners (log servers of workers and the triggerer, the scheduler's health check), on `host`
    # too. By default beside the API port (8793, 8794, 8974 for 8080), so a stack on another CHISO_AIRFLOW_PORT
    # takes other ports as well.
    airflow_worker_log_port: int = field(
        default_factory=lambda: _port("CHISO_AIRFLOW_WORKER_LOG_PORT", _port("CHISO_AIRFLOW_PORT", 8080) + 713)
    )
    airflow_trigger_log_port: int = field(
        default_factory=lambda: _port("CHISO_AIRFLOW_TRIGGER_LOG_PORT", _port("CHISO_AIRFLOW_PORT", 8080) + 714)
    )
    airflow_health_port: int = field(
        default_factory=lambda: _port("CHISO_AIRFLOW_HEALTH_PORT", _port("CHISO_AIRFLOW_PORT", 8080) + 894)
    )
    # CHISO_EXECUTOR=celery: Airflow's CeleryExecutor with a Redis broker and two Celery workers, all on loopback
    # (scale.md); `local` (LocalExecutor) otherwise. Redis' port moves with the API port too (8795 for 8080), away
    # from 6379, where Debian's own redis-server service may listen.
    executor: str = field(default_factory=_executor)
    redis_port: int = field(
        default_factory=lambda: _port("CHISO_REDIS_PORT", _port("CHISO_AIRFLOW_PORT", 8080) + 715)
    )
    # Demo window: both sides of the 1/7/2025 reform, up to yesterday.
    demo_start: date = field(default_factory=lambda: _date("CHISO_DEMO_START", "2025-01-01"))
    demo_end: date = field(default_factory=lambda: _date("CHISO_DEMO_END", _yesterday()))
    sim_seed: int = field(default_factory=lambda: int(_env("CHISO_SIM_SEED", "26")))
    # The simulated province: a province of 1/7/2025 (25 = Phú Thọ, with Hòa Bình 17, Phú Thọ 25 and Vĩnh Phúc 26
    # before the reform) or an old one alone (26 = Vĩnh Phúc); CHISO_PROVINCE_ERA=legacy asks for the old province
    # of a code that is also a new one (25 = old Phú Thọ alone).
    province: str = field(default_factory=lambda: _env("CHISO_PROVINCE", "25"))

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def esign_drop(self) -> Path:
        return self.home / "esign_drop"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    def venv_bin(self, env: str) -> Path:
        return self.venvs / env / "bin"


def get_settings() -> Settings:
    return Settings()
