"""Drill (scale.md): PostgreSQL killed (SIGKILL of the postmaster by PID, and of its backends) in the middle of a
`dbt build`, restarted, and the next plain `dbt build` (incremental models resume from what survived) ends with the
marts of an undisturbed build, row for row. The hand-made dataset (dbt_dataset.py) keeps the build short; the
drill is about what a build leaves behind when the database dies under it, not about volume."""

from __future__ import annotations

import os
import re
import subprocess
import time

import dbt_dataset as ds
import handmade_source as hs
import pytest
from drill_support import fingerprint, killable_pg, report

from chiso.stack import postgres

pytestmark = [pytest.mark.dbt, pytest.mark.postgres]

PORTS = range(5681, 5690)  # loopback ports of this module's source apps
DBT_SCHEMAS = ("staging", "intermediate", "marts", "seeds")


def _dbt_env(pg, workdir) -> dict:
    return {
        **os.environ,
        "CHISO_PG_HOST": "127.0.0.1",
        "CHISO_PG_PORT": str(pg.settings.pg_port),
        "CHISO_PG_DB": "chiso",
        "CHISO_DBT_USER": "chiso_transformer",
        "CHISO_DBT_PASSWORD": pg.creds["pg_transformer"],
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
    }


def _done(log: str) -> int:
    """Nodes a running build has finished, from its console output."""
    return len(re.findall(r"^\S+ +\d+ of \d+ (OK|PASS|WARN|ERROR|FAIL)", log, re.MULTILINE))


def test_postgres_killed_during_dbt_build_rebuild_gives_the_undisturbed_marts(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dbt_drill")
    with (
        killable_pg() as pg,
        hs.serve(ds.hand_made_source(), tmp_path_factory.mktemp("esign_drop"), ports=PORTS) as sources,
    ):
        pg.reset()
        ds.load_all(sources, pg.uri())

        def dbt(*args: str, check: bool = True):
            return ds.dbt(list(args), port=pg.settings.pg_port, password=pg.creds["pg_transformer"], workdir=workdir,
                          check=check)

        t0 = time.monotonic()
        first = dbt("build")  # seeds included
        undisturbed_s = time.monotonic() - t0
        nodes = _done(first.stdout)
        with pg.connect("chiso_reader") as c:
            expected = fingerprint(c, "marts")
        assert len(expected) >= 10 and nodes >= 30

        # The same build from empty dbt schemas (raw kept), killed when about half its nodes are done.
        with pg.connect("postgres", autocommit=True) as c:
            for schema in DBT_SCHEMAS:
                c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        postgres.provision(pg.settings, pg.creds)  # the schemas and their grants, as every stack start does
        out = workdir / "killed.log"
        t0 = time.monotonic()
        with out.open("w") as fh:
            proc = subprocess.Popen(
                [str(ds.DBT), "build", "--project-dir", str(ds.DBT_PROJECT), "--profiles-dir", str(ds.DBT_PROJECT)],
                env=_dbt_env(pg, workdir), stdout=fh, stderr=subprocess.STDOUT, text=True)
            while _done(out.read_text()) < nodes // 2:
                assert proc.poll() is None, "dbt build ended before it could be killed:\n" + out.read_text()[-3000:]
                assert time.monotonic() - t0 < 600
                time.sleep(0.05)
            killed = pg.kill()
            at_node = _done(out.read_text())
            proc.wait(300)
        log = out.read_text()
        assert proc.returncode != 0, "dbt build survived PostgreSQL's death"
        restart_s = pg.restart()
        t1 = time.monotonic()
        dbt("build")  # plain: incremental models pick up from what survived the crash
        rebuild_s = time.monotonic() - t1
        with pg.connect("chiso_reader") as c:
            got = fingerprint(c, "marts")
    assert got == expected
    errors = sorted(set(re.findall(r"(server closed the connection unexpectedly|Connection refused|"
                                   r"terminating connection)", log)))
    report(
        "postgres_killed_during_dbt_build",
        killed=f"postmaster PID {killed['pid']} and its {killed['children']} children, SIGKILL",
        when=f"{killed['at'] - t0:.1f}s into `dbt build`, after {at_node} of {nodes} nodes",
        error=f"dbt build exit {proc.returncode}: {', '.join(errors) or 'connection lost'}",
        recover=f"restart {restart_s:.1f}s (crash recovery), plain `dbt build` {rebuild_s:.1f}s "
                f"(undisturbed build {undisturbed_s:.1f}s)",
        outcome=f"marts fingerprint equal ({len(got)} tables, {sum(n for n, _ in got.values())} rows)",
    )
