"""Issue 13, acceptance 3, end to end on a real PostgreSQL and dbt: one simulated month extracted from the simulated
source systems and the simulated national portal (its own app, in the real request/response shapes), the warehouse
built, and marts.rpt_portal_reconciliation read. The portal computes from the same truth with the spec's rules, so
every published indicator is `same` except the documented classes: DOSSIER_SYNC on a temporary denominator
(portal_provisional) and the CLGQ group score (the portal's own formula). Then the portal recomputes the month; the
next read stores the new version and the staging and reconciliation follow it."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn

from chiso.extract import edoc, esign, one_stop_shop
from chiso.extract import national_portal as portal
from chiso.extract.common import SourceConn
from chiso.extract.http import RetryPolicy
from chiso_simulator.apps import SimState, create_edoc_app, create_oss_app
from chiso_simulator.engine import TZ, Clock, SimConfig, Simulator
from chiso_simulator.esign_drop import write_esign_drop
from chiso_simulator.portal import PortalConfig, create_portal_app

pytestmark = [pytest.mark.postgres, pytest.mark.dbt]

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"
START, END = date(2024, 5, 1), date(2024, 5, 31)
MAY = portal.Period("month", START)
ROOT = "000.00.00.H26"  # the province committee's identifier, which the simulated portal takes as its root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, app) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "simulator did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def dbt(wh, workdir: Path, *args: str) -> None:
    env = {
        **os.environ,
        "CHISO_PG_HOST": "127.0.0.1",
        "CHISO_PG_PORT": str(wh.settings.pg_port),
        "CHISO_PG_DB": "chiso",
        "CHISO_DBT_USER": "chiso_transformer",
        "CHISO_DBT_PASSWORD": wh.creds["pg_transformer"],
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
    }
    cmd = [str(DBT), *args, "--project-dir", str(REPO / "dbt_project"), "--profiles-dir", str(REPO / "dbt_project")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"dbt {' '.join(args)} failed:\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"


def reasons(wh) -> dict[tuple[str, str, str], int]:
    with wh.connect("chiso_reader") as conn:
        rows = conn.execute(
            "SELECT row_kind, group_code, reason, count(*) FROM marts.rpt_portal_reconciliation"
            " WHERE period_type = 'month' AND period_start = %s GROUP BY 1, 2, 3",
            (START,),
        ).fetchall()
    return {(k, g, r): n for k, g, r, n in rows}


def test_reconciliation_follows_the_portals_latest_version(fresh_schema, tmp_path):
    wh = fresh_schema
    clock = Clock()
    clock.set(datetime(2024, 6, 10, 12, 0, tzinfo=TZ))
    sim = Simulator(SimConfig(seed=7, scale=0.2), clock)
    state = SimState.create(sim)
    # No revision of its own: the test recomputes May when it wants; a quarter of the units on temporary figures.
    config = PortalConfig(temp_rate=0.25, revision_rate=0.0)
    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None, timeout=120)
    with (
        Served(create_oss_app(sim, "cid", "secret", state=state)) as oss_url,
        Served(create_edoc_app(sim, "key", state=state)) as edoc_url,
        Served(create_portal_app(sim, state=state, config=config)) as portal_url,
    ):
        one_stop_shop.extract(SourceConn(oss_url, "cid", "secret"), wh.uri(), START, END, run_id="t", policy=policy)
        edoc.extract(SourceConn(edoc_url, password="key"), wh.uri(), START, END, run_id="t", policy=policy)
        write_esign_drop(sim, tmp_path / "drop", START, END)
        esign.extract(SourceConn(extra={"path": str(tmp_path / "drop")}), wh.uri(), START, END, run_id="t")
        conn = SourceConn(portal_url, extra={"root_department_id": ROOT})
        first = portal.extract(conn, wh.uri(), [MAY], run_id="t1", policy=policy)["totals"]
        assert first["rows_new_versions"] == first["rows_received"] > 0 and first["rows_quarantined"] == 0

        dbt(wh, tmp_path, "seed")
        dbt(wh, tmp_path, "run")
        dbt(wh, tmp_path, "test", "--select", "stg_national_portal__scores", "rpt_portal_reconciliation")
        before = reasons(wh)
        with wh.connect() as c:
            units = c.execute("SELECT count(*) FROM raw.oss_units_latest WHERE hieu_luc_den IS NULL").fetchone()[0]
        # every published unit (today's, the province row included) matched, every indicator computed
        assert {r for _, _, r in before} <= {"same", "rounding", "rule_differs", "portal_provisional"}, before
        assert sum(n for (k, g, _), n in before.items() if k == "group" and g == "TDGQ") == units
        # the documented classes only: temporary denominators, and CLGQ published as the portal's own group score
        assert before[("indicator", "CKMB", "portal_provisional")] > 0
        assert {(k, g) for k, g, r in before if r != "same"} <= {
            ("indicator", "CKMB"), ("group", "CKMB"), ("group", "CLGQ")
        }, before  # fmt: skip
        assert {r for (k, g, r) in before if (k, g) == ("indicator", "CKMB") and r != "same"} == {"portal_provisional"}
        flagged = before[("indicator", "CKMB", "portal_provisional")]

        # the portal recomputes May (its temporary denominators replaced); the next read stores the new version
        r = httpx.post(f"{portal_url}/_sim/portal", json={"revise": {"timeType": "month", "periodStart": "2024-05-01"}})
        assert r.status_code == 201, r.text
        again = portal.extract(conn, wh.uri(), [MAY], run_id="t2", policy=policy)["totals"]
        assert 0 < again["rows_new_versions"] < first["rows_received"] and again["rows_deleted"] == 0
    with wh.connect() as c:
        sync = Counter(
            status
            for (status,) in c.execute(
                "SELECT v.data_quality_status FROM raw.portal_indicator_scores v"
                " JOIN raw.load_audit a ON a.batch_id = v._batch_id AND a.run_id = 't2'"
                " WHERE v.metric_code = 'DOSSIER_SYNC' AND v.period_start = %s",
                (START,),
            )
        )
        versions = c.execute(
            "SELECT count(*) FROM raw.portal_indicator_scores WHERE metric_code = 'DOSSIER_SYNC'"
            " AND data_quality_status = 'TEMP_NATIONAL_REPORT_DENOMINATOR'"
        ).fetchone()[0]
    assert sync and "TEMP_NATIONAL_REPORT_DENOMINATOR" not in sync  # the new versions carry no flag
    assert versions == flagged  # the flagged versions are kept, superseded

    dbt(wh, tmp_path, "run", "--select", "stg_national_portal__scores+")
    after = reasons(wh)
    assert not any(r == "portal_provisional" for _, _, r in after), after
    assert after[("indicator", "CKMB", "same")] == before[("indicator", "CKMB", "same")] + flagged
    assert {(k, g) for k, g, r in after if r != "same"} <= {("group", "CLGQ")}, after
    with psycopg.connect(wh.uri("chiso_reader")) as c:
        n = c.execute(
            "SELECT count(*) FROM marts.rpt_portal_reconciliation WHERE portal_quality_status IS NOT NULL"
            " AND portal_quality_status <> 'NO_NATIONAL_REPORT_DATA'"
        ).fetchone()[0]
    assert n == 0
