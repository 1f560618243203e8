"""Failure drills of scale.md at the component level: a real process killed by PID (SIGKILL) in the middle of its
work, then restarted, and the outcome compared row for row with an undisturbed run's.

- PostgreSQL killed during a load (the one-stop shop's 90 days from the simulator): the rerun converges to the raw
  layer of an undisturbed load, nothing doubled (the load audits account for every stored version once).
- The national receiver killed during an export (a document stored but its answer lost), down while the exporter's
  runs come and go, then restarted: every document accepted exactly once, each period's revisions in order.
- The e-signature drop folder read by a non-root reader (root reads everything): read-only folders, an unreadable
  file and an unlistable month folder give a clear error naming each, the other days load, and once readable
  the raw layer equals an undisturbed load's.

The dbt build's drill is tests/dbt/test_dbt_drill.py; figures: drill_support.report (docs/bench/drills.txt)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from drill_support import AUDIT_TABLES, audit_accounts_for_raw, fingerprint, killable_pg, report

from chiso.export import runner
from chiso.extract import esign, one_stop_shop
from chiso.extract.common import SourceConn
from chiso.extract.http import RetryPolicy
from chiso_simulator.apps import SimState, create_oss_app
from chiso_simulator.engine import TZ, Clock, SimConfig, Simulator

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg():
    with killable_pg() as p:
        yield p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- PostgreSQL killed during a load

START, END = date(2024, 1, 1), date(2024, 3, 30)


def test_postgres_killed_during_a_load_converges_to_the_undisturbed_raw(pg):
    clock = Clock()
    clock.set(datetime.combine(END + timedelta(days=12), datetime.min.time(), TZ).replace(hour=12), running=False)
    sim = Simulator(SimConfig(seed=7, scale=0.2), clock)
    app = create_oss_app(sim, "cid", "secret", state=SimState.create(sim))
    policy = RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.5, timeout=10)
    from test_extract_simulator import Served

    with Served(app) as url:
        conn = SourceConn(url, "cid", "secret")

        def load(run_id: str) -> dict:
            # One-day chunks: many batches, so the kill lands between committed ones and inside others.
            return one_stop_shop.extract(conn, pg.uri(), START, END, run_id=run_id, chunk_days=7, policy=policy)

        pg.reset()
        t0 = time.monotonic()
        load("undisturbed")
        undisturbed_s = time.monotonic() - t0
        with pg.connect() as c:
            expected = fingerprint(c, "raw", AUDIT_TABLES)
            audit_accounts_for_raw(c)
        assert expected["oss_dossier_daily"][0] > 10_000

        pg.reset()
        failure: list[BaseException] = []

        def disturbed() -> None:
            try:
                load("killed")
            except BaseException as e:  # noqa: BLE001 - what the killed load raised is the point
                failure.append(e)

        worker = threading.Thread(target=disturbed)
        t0 = time.monotonic()
        worker.start()
        # Kill once some daily batches have committed and others are still running.
        with pg.connect(autocommit=True) as c:
            while True:
                done, running = c.execute(
                    "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'running')"
                    " FROM raw.load_audit WHERE entity = 'dossier_daily'").fetchone()
                if done >= 3 and running:
                    break
                assert worker.is_alive() and time.monotonic() - t0 < 120, "the load ended before it could be killed"
                time.sleep(0.05)
        killed = pg.kill()
        killed_after = killed["at"] - t0
        worker.join(120)
        assert not worker.is_alive() and failure, "the load did not notice PostgreSQL's death"
        down_s = pg.restart()
        with pg.connect() as c:
            partial = fingerprint(c, "raw", AUDIT_TABLES)
            committed_before = c.execute(
                "SELECT count(*) FROM raw.load_audit WHERE status = 'succeeded'").fetchone()[0]
        assert partial != expected  # the kill really cut the load short

        t1 = time.monotonic()
        load("rerun")
        rerun_s = time.monotonic() - t1
        with pg.connect() as c:
            got = fingerprint(c, "raw", AUDIT_TABLES)
            audit_accounts_for_raw(c)
            audits = dict(c.execute("SELECT status, count(*) FROM raw.load_audit GROUP BY 1").fetchall())
            stale = c.execute("SELECT count(*) FROM raw.load_audit WHERE status = 'failed'"
                              " AND error LIKE 'Lượt tải bị gián đoạn%%'").fetchone()[0]
        assert got == expected
    report(
        "postgres_killed_during_load",
        killed=f"postmaster PID {killed['pid']} and its {killed['children']} children, SIGKILL",
        when=f"{killed_after:.1f}s into the load of {START}..{END} (one-stop shop, scale 0.2), "
             f"{committed_before} batches committed",
        error=f"{type(failure[0]).__name__}: {str(failure[0]).splitlines()[0][:160]}",
        recover=f"restart {down_s:.1f}s (crash recovery), rerun of the window {rerun_s:.1f}s "
                f"(undisturbed load {undisturbed_s:.1f}s)",
        outcome=f"raw fingerprint equal ({len(got)} tables, {sum(n for n, _ in got.values())} rows); "
                f"audits {audits}, {stale} left running by the dead loader marked failed; "
                "every stored version counted once by a succeeded batch",
    )


# ---------------------------------------------------------------- the national receiver killed during an export

TOKEN = "drill-token"
TODAY = date(2024, 7, 5)
EXPORT_START, EXPORT_END = date(2024, 1, 1), date(2024, 7, 3)
COMMUNE = "000.12.31.H26"
# Quick retries: the exporter's backoff is driven by its `sleep`, which here only advances a simulated clock.
POLICY = runner.RetryPolicy(max_attempts=4, backoff_base=30, backoff_max=600, timeout=2)

RECEIVER = """
import sys, uvicorn
from chiso_simulator.national import create_app
port, token, store, faults = sys.argv[1:5]
import json
uvicorn.run(create_app(token, store_path=store, faults=json.loads(faults)), host="127.0.0.1", port=int(port),
            log_level="warning")
"""


class ReceiverProcess:
    """The simulator's national receiver in a process of its own, its accepted documents kept in a file (as the
    real system keeps them across its restarts)."""

    def __init__(self, store: Path) -> None:
        self.store, self.port = store, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, faults: dict | None = None) -> float:
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(self.port), TOKEN, str(self.store), json.dumps(faults or {})],
            env={**os.environ, "PYTHONPATH": str(REPO / "src")}, start_new_session=True)
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None and time.monotonic() - t0 < 60, "receiver did not start"
            time.sleep(0.1)

    def kill(self) -> int:
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)
        return pid

    def received(self) -> list[dict]:
        return httpx.get(f"{self.url}/_sim/received").json()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill()


def test_receiver_killed_during_an_export_gets_every_document_once_in_revision_order(pg, tmp_path):
    from test_export_marts import build_marts

    pg.reset()

    def marts(**kw) -> None:
        with pg.connect("chiso_transformer", autocommit=True) as conn:
            build_marts(conn, EXPORT_START, EXPORT_END, **kw)

    marts()
    rcv = ReceiverProcess(tmp_path / "received.jsonl")
    clock = [0.0]  # simulated seconds: the exporter's backoff sleeps advance it, nothing waits for real

    def run(tag: str) -> runner.ExportSummary:
        return runner.run_exports(pg.uri(), rcv.url, TOKEN, tmp_path / "out", today=TODAY, run_id=tag,
                                  policy=POLICY, sleep=lambda s: clock.__setitem__(0, clock[0] + s))

    try:
        rcv.start()
        first = run("first")
        assert first.ok and len(first.accepted) == 14, first.describe()

        # Two corrections: a day of March restated (revision 2 of the 4 periods holding it) ...
        marts(overrides={(COMMUNE, date(2024, 3, 20)): {"online": 50, "synced": 10}})
        # ... the receiver stores the first of them, then hangs before answering; it is killed right there.
        httpx.post(f"{rcv.url}/_sim/faults", json={"rate": 1, "kinds": {"lost_timeout": 1},
                                                   "slow_seconds": 60}).raise_for_status()
        stored_before = len(rcv.received())
        during: list = []
        t = threading.Thread(target=lambda: during.append(run("during")))
        t.start()
        t0 = time.monotonic()
        while len(rcv.store.read_text().splitlines()) == stored_before:  # one accepted document per line
            assert time.monotonic() - t0 < 60, "the receiver never stored the correction"
            time.sleep(0.05)
        killed_pid = rcv.kill()
        killed_at = time.monotonic() - t0
        t.join(60)
        assert not t.is_alive()
        down = during[0]
        assert not down.ok and not down.accepted and len(down.pending) == 4, down.describe()
        assert any("lần chạy sau sẽ gửi tiếp" in e for e in down.errors)  # the circuit breaker, not 4 × 4 attempts

        # Down for an hour: the exporter's runs every 10 minutes all fail fast, nothing is lost or duplicated;
        # meanwhile a second correction of the same day arrives (it waits: revision 3 follows 2's acceptance).
        marts(overrides={(COMMUNE, date(2024, 3, 20)): {"online": 60, "synced": 12}})
        for i in range(6):
            clock[0] += 600
            s = run(f"outage-{i}")
            assert not s.accepted and not s.created and len(s.pending) == 4, s.describe()
        outage_s = clock[0]

        restart_s = rcv.start()  # back, no faults, with what it had stored
        back = run("back")  # revision 2 resent first, then revision 3 built on its acceptance and sent
        settled = run("settled")
        received = rcv.received()
    finally:
        rcv.stop()

    assert back.ok and len(back.created) == 4 and len(back.accepted) == 8, back.describe()
    assert [a["revision"] for a in back.accepted] == [2] * 4 + [3] * 4
    assert settled.ok and not settled.created and not settled.accepted and settled.unchanged == 14

    # Every document accepted exactly once: one receipt per (report, period, revision), 14 + 4 + 4 in all.
    def key(d: dict) -> tuple:
        b = d["baoCao"]
        return b["maBaoCao"], b["kyBaoCao"]["loaiKy"], b["kyBaoCao"]["tuNgay"], b["lanGui"]

    per_doc = Counter(key(d) for d in received)
    assert len(received) == 22 and set(per_doc.values()) == {1}
    assert Counter(d["baoCao"]["lanGui"] for d in received) == {1: 14, 2: 4, 3: 4}
    # In order of revision: for each period, receipts (numbered in arrival order) rise with lanGui.
    by_period: dict[tuple, list] = {}
    for d in sorted(received, key=lambda d: d["maTiepNhan"]):
        by_period.setdefault(key(d)[:3], []).append(d["baoCao"]["lanGui"])
    assert all(revs == sorted(revs) == list(range(1, len(revs) + 1)) for revs in by_period.values()), by_period
    # The document stored before the kill was answered 200 with its first receipt when sent again.
    with pg.connect() as c:
        outcomes = Counter(dict(c.execute(
            "SELECT outcome, count(*) FROM exports.submission_attempts GROUP BY 1").fetchall()))
        subs = c.execute("SELECT status, count(*) FROM exports.submissions GROUP BY 1").fetchall()
    assert outcomes["already_accepted"] == 1 and outcomes["accepted"] == 21, outcomes
    assert subs == [("accepted", 22)]
    report(
        "national_receiver_down",
        killed=f"receiver PID {killed_pid}, SIGKILL",
        when=f"{killed_at:.1f}s into the export of a correction, after it had stored the first document and "
             "before it answered",
        recover=f"down {outage_s / 60:.0f} simulated minutes (the interrupted run, then 6 runs 10 minutes apart; the "
                "exporter's backoff sleeps advance the same clock; each run stopped by the circuit breaker after 3 "
                f"submissions x {POLICY.max_attempts} attempts); receiver restart {restart_s:.1f}s, then 1 run "
                "(revision 2 resent, revision 3 built on its acceptance and sent)",
        outcome=f"{len(received)} documents received, each exactly once (revisions 1: 14, 2: 4, 3: 4, in order per "
                f"period); attempts {dict(outcomes)}; the one stored before the kill answered 200 with its receipt",
    )


# ---------------------------------------------------------------- the drop folder, read by a non-root reader

UNITS = ["000.00.12.H26", "000.00.13.H26"]
DAYS = [date(2024, 4, 29), date(2024, 4, 30), *(date(2024, 5, d) for d in range(1, 6)), date(2024, 6, 1)]


def _write_drop(root: Path) -> dict[date, Path]:
    files = {}
    for day in DAYS:
        folder = root / f"{day:%Y}" / f"{day:%m}"
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"chu_ky_so_{day:%Y%m%d}.csv"
        rows = [[u, f"{day:%d/%m/%Y}", "1", "12", "0", "2", "0", str(day.day), str(100 + day.day), "30"]
                for u in UNITS]
        p.write_bytes(esign.csv_bytes(rows))
        p.with_name(p.name + ".done").touch()
        files[day] = p
    return files


def _read_as_reader(root: Path, uri: str, user: str | None) -> dict:
    """The extract in a forked process that has dropped to `user` (root reads every file whatever its mode; the
    interpreter lives under /root, out of that user's reach, so the child is forked with what the parent imported,
    not exec'd)."""
    import encodings.utf_8_sig  # noqa: F401 - imported lazily by the reader, unreachable once dropped
    import pwd
    import traceback

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, extract, send the summary back, never return into pytest
        code = 0
        try:
            os.close(r)
            if user:
                pw = pwd.getpwnam(user)
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            out = json.dumps(esign.extract(SourceConn(extra={"path": str(root)}), uri, "2024-04-01", "2024-06-30",
                                           run_id="drill"))
        except BaseException:  # noqa: BLE001 - reported to the parent
            out, code = traceback.format_exc(), 1
        with os.fdopen(w, "w") as f:
            f.write(out)
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out[-3000:]
    return json.loads(out)


def test_unreadable_drop_folder_names_each_file_and_the_other_days_load(pg):
    from chiso.stack import postgres as pgmod

    user = pgmod.PG_OS_USER if os.geteuid() == 0 else None  # root reads every file: read as another user
    base = Path(tempfile.mkdtemp(prefix="chiso-drill-drop-"))
    os.chmod(base, 0o755)  # noqa: S103 - the reader (another OS user) must traverse it
    try:
        pg.reset()
        clean = base / "clean"
        _write_drop(clean)
        esign.extract(SourceConn(extra={"path": str(clean)}), pg.uri(), "2024-04-01", "2024-06-30", run_id="clean")
        with pg.connect() as c:
            expected = fingerprint(c, "raw", AUDIT_TABLES | {"quarantine"})

        pg.reset()
        root = base / "drop"
        files = _write_drop(root)
        bad_file, bad_folder = files[date(2024, 5, 3)], root / "2024" / "06"
        os.chmod(bad_file, 0)
        os.chmod(bad_folder, 0)
        for d in (root / "2024" / "04", root / "2024" / "05", root / "2024", root):  # the reader writes nothing
            os.chmod(d, 0o555)  # noqa: S103 - read-only, for everyone
        t0 = time.monotonic()
        first = _read_as_reader(root, pg.uri(), user)
        first_s = time.monotonic() - t0
        rejected = {r["file"]: r for r in first["rejected_files"]}
        assert set(rejected) == {"2024/05/chu_ky_so_20240503.csv", "2024/06"}
        assert {r["status"] for r in rejected.values()} == {"unreadable"}
        assert rejected["2024/05/chu_ky_so_20240503.csv"]["reason"].startswith(
            "Không đọc được tệp 2024/05/chu_ky_so_20240503.csv (Permission denied)")
        assert rejected["2024/06"]["reason"].startswith("Không đọc được thư mục 2024/06 (Permission denied)")
        loaded = sorted(b["window_start"] for b in first["batches"])
        assert loaded == [d.isoformat() for d in DAYS if d not in (date(2024, 5, 3), date(2024, 6, 1))]
        with pg.connect() as c:
            named = {r[0] for r in c.execute(
                "SELECT q.record_ref FROM raw.quarantine q JOIN raw.load_audit a USING (batch_id)"
                " WHERE a.status = 'failed' AND a.error = q.reason")}
        assert named == set(rejected)

        # Permissions fixed (as an operator would): the next run reads what it could not.
        for d in (root, root / "2024", root / "2024" / "05"):
            os.chmod(d, 0o755)  # noqa: S103
        os.chmod(bad_file, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.chmod(bad_folder, 0o755)  # noqa: S103
        second = _read_as_reader(root, pg.uri(), user)
        assert second["rejected_files"] == []
        assert sorted(b["window_start"] for b in second["batches"]) == ["2024-05-03", "2024-06-01"]
        with pg.connect() as c:
            got = fingerprint(c, "raw", AUDIT_TABLES | {"quarantine"})
        assert got == expected
    finally:
        for p in sorted(base.rglob("*"), reverse=True):
            if p.is_dir():
                os.chmod(p, 0o755)  # noqa: S103
        subprocess.run(["rm", "-rf", str(base)], check=False)
    report(
        "drop_folder_unreadable",
        killed="nothing: a reader as OS user " + (user or "(not root)") + " facing read-only folders, a file of "
               "mode 000 (3/5) and a month folder of mode 000 (06)",
        when=f"an e-signature load of {DAYS[0]}..{DAYS[-1]}",
        recover=f"first run {first_s:.1f}s, {len(first['batches'])} days loaded; after the permissions were fixed "
                f"the next run loaded the 2 missing days",
        outcome="errors: " + " | ".join(r["reason"] for r in first["rejected_files"])
                + f"; raw fingerprint then equal to an undisturbed load's ({sum(n for n, _ in got.values())} rows)",
    )
