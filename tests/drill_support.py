"""What the failure drills (scale.md, "Drills") share: a PostgreSQL of their own that they may kill, the kill itself
(SIGKILL by PID, nothing graceful), row-for-row fingerprints of the tables that matter, and the figures each drill
reports (`CHISO_DRILLS_REPORT`: a JSON-lines file `make bench BENCH=drills` turns into docs/bench/drills.txt).

Not a test module: imported by tests/integration/test_drills.py and tests/dbt/test_dbt_drill.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg

from chiso.settings import Settings
from chiso.stack import credentials, postgres
from chiso.warehouse import connections

# Columns that say when or in which batch a row landed, not what it is: left out of the fingerprints.
LOAD_COLUMNS = {"_seq", "_batch_id", "_loaded_at", "batch_id", "loaded_at", "quarantine_id", "quarantined_at",
                "_refreshed_at"}
# Raw tables that are the loads' own bookkeeping (compared by their own checks, not row for row).
AUDIT_TABLES = {"load_audit", "esign_files"}


@dataclass
class KillablePG:
    """An embedded PostgreSQL of the drills alone (its own data folder and port), so killing it disturbs no other
    test; the same roles and schema as the `warehouse` fixture."""

    settings: Settings
    creds: dict[str, str]

    def uri(self, role: str = "chiso_loader") -> str:
        return connections.uri(self.settings, self.creds, role, postgres.WAREHOUSE_DB)

    def connect(self, role: str = "chiso_loader", **kw) -> psycopg.Connection:
        return psycopg.connect(self.uri(role), **kw)

    def reset(self, schemas: tuple[str, ...] = ("raw", "quality", "exports", "chiso_meta")) -> None:
        """Empty warehouse (and dbt's schemas), migrated back to head."""
        with self.connect("postgres", autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            for (schema,) in conn.execute(
                "SELECT nspname FROM pg_namespace WHERE nspowner = 'chiso_transformer'::regrole"
            ).fetchall():
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_transformer")  # dbt's incremental temp tables
        postgres.bootstrap(self.settings, self.creds)

    def kill(self) -> dict:
        """SIGKILL the postmaster by PID, then every process it had (as the OOM killer or a power cut would leave
        it: no shutdown checkpoint, uncommitted and not yet flushed work lost). Returns what was killed."""
        pid = postgres.postmaster_pid(self.settings)
        assert pid, "PostgreSQL is not running"
        children = psutil.Process(pid).children(recursive=True)
        t = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        for c in children:
            with suppress(ProcessLookupError):
                os.kill(c.pid, signal.SIGKILL)
        psutil.wait_procs([psutil.Process(pid), *children] if psutil.pid_exists(pid) else children, timeout=10)
        return {"pid": pid, "children": len(children), "at": t}

    def restart(self) -> float:
        """Start it again (crash recovery replays the WAL); seconds until it accepts connections."""
        t0 = time.monotonic()
        postgres.start(self.settings)
        while not postgres.is_ready(self.settings):
            assert time.monotonic() - t0 < 60, "PostgreSQL did not come back"
            time.sleep(0.1)
        return time.monotonic() - t0


@contextmanager
def killable_pg() -> Iterator[KillablePG]:
    home = Path(tempfile.mkdtemp(prefix="chiso-drill-"))
    os.chmod(home, 0o755)  # noqa: S103 - the postgres OS user must traverse it
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_TEST_DRILL_PG_PORT", "5498")))
    creds = credentials.load(home)
    postgres.ensure_running(settings, creds)
    try:
        yield KillablePG(settings, creds)
    finally:
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


def fingerprint(conn: psycopg.Connection, schema: str, skip: set[str] = frozenset()) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent md5 of every table of `schema`, without the columns saying when or in
    which batch a row landed: two loads of the same truth, however interrupted, must give the same."""
    out = {}
    tables = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'"
        " ORDER BY 1", (schema,))]
    for t in tables:
        if t in skip:
            continue
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
            " ORDER BY ordinal_position", (schema, t)) if r[0] not in LOAD_COLUMNS]
        out[t] = conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), ''))"  # noqa: S608
            f" FROM (SELECT {', '.join(cols)} FROM {schema}.{t}) x").fetchone()
    return out


def report(drill: str, **figures) -> None:
    """Append this drill's figures to $CHISO_DRILLS_REPORT (when set: `make bench BENCH=drills`)."""
    path = os.environ.get("CHISO_DRILLS_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"drill": drill, **figures}, ensure_ascii=False, default=str) + "\n")


OSS_RAW = {"dossier_daily": "oss_dossier_daily", "petition_daily": "oss_petition_daily", "units": "oss_units",
           "procedures": "oss_procedures"}


def audit_accounts_for_raw(conn: psycopg.Connection) -> None:
    """Nothing doubled: every stored one-stop-shop version was brought by exactly one succeeded batch, whose audit
    counted it, and no audit is left `running`."""
    assert conn.execute("SELECT count(*) FROM raw.load_audit WHERE status = 'running'").fetchone()[0] == 0
    for entity, table in OSS_RAW.items():
        stored, orphans = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE a.status IS DISTINCT FROM 'succeeded')"  # noqa: S608
            f" FROM raw.{table} t LEFT JOIN raw.load_audit a ON a.batch_id = t._batch_id").fetchone()
        counted = conn.execute(
            "SELECT coalesce(sum(rows_new_versions + rows_deleted), 0) FROM raw.load_audit"
            " WHERE source = 'one_stop_shop' AND entity = %s AND status = 'succeeded'", (entity,)).fetchone()[0]
        assert orphans == 0 and stored == counted, (table, stored, counted, orphans)
