"""Extract+load rows/s vs PostgreSQL's COPY of the very same rows into an identical empty table (goal:
extract+load >= 0.5 x COPY), measured in one run against a throwaway embedded PostgreSQL.

Extract+load: the real extractors and loader read a year of the demo province from the simulator's HTTP
apps (uvicorn on loopback, in a child process, so the source side runs beside the extractor as a real
system would); the clock starts on an empty warehouse. Each source's time covers HTTP, JSON parsing,
validation, staging, versioning and the load audits.
COPY: the rows each raw table then holds are dumped (business and bookkeeping columns, text format) and
COPied back into a `LIKE raw.<table> INCLUDING ALL` copy (same columns, defaults, identity and indexes);
only the COPY is timed.

Fairness: the two are timed alternately, per source (extract+load, then COPY of what it loaded), over
CHISO_BENCH_REPS repetitions (default 3; the tables are emptied before each), so machine load hits both.

CHISO_BENCH_SPAN=year|month (default year: 2024; month: 2024-01), CHISO_BENCH_PG_PORT (5613),
CHISO_BENCH_SIM_PORT (8760; 8761 for the e-document app), CHISO_BENCH_CONCURRENCY (date chunks in flight,
default: the extractors' own), CHISO_BENCH_REPS (3), CHISO_BENCH_SOURCES (comma-separated, default all),
CHISO_BENCH_PROFILE=1 prints, to stderr, each thread's CPU during the extraction (by thread name) and a cProfile
of the extraction over all its threads (page readers included; the profiler roughly doubles the CPU);
CHISO_BENCH_PROFILE=cpu only each thread's CPU, unprofiled.
"""

from __future__ import annotations

import cProfile
import multiprocessing as mp
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from _util import cpu_seconds, wait_healthy  # noqa: E402

SPANS = {"year": (date(2024, 1, 1), date(2024, 12, 31)), "month": (date(2024, 1, 1), date(2024, 1, 31))}
SEED = 26
CLIENT_ID, CLIENT_SECRET, API_KEY = "bench", "bench-secret", "bench-key"
# source -> the raw tables its extractor writes
SOURCES = {
    "one_stop_shop": ["oss_units", "oss_procedures", "oss_dossier_daily", "oss_petition_daily"],
    "edoc": ["edoc_documents_daily"],
}
GOAL = 0.5


def sim_now(end: date) -> datetime:
    from chiso_simulator.engine import TZ

    # Late corrections land 1-5 days after a day: by then the span is final.
    return datetime.combine(end + timedelta(days=10), datetime.min.time(), TZ).replace(hour=12)


def serve(oss_port: int, edoc_port: int, end: date, sources: list[str]) -> None:
    """Child process: both simulated HTTP systems (one simulator, one event loop), no faults."""
    import asyncio

    import uvicorn

    from chiso_simulator.apps import EDOC_KEY, SimState, create_edoc_app, create_oss_app
    from chiso_simulator.engine import Clock, SimConfig, Simulator

    clock = Clock()
    clock.set(sim_now(end))
    state = SimState.create(Simulator(SimConfig(seed=SEED), clock))
    # The source's data exists before it is read: generate (and cache, JSON-encoded) the span first.
    start = SPANS[os.environ.get("CHISO_BENCH_SPAN", "year")][0]
    if "one_stop_shop" in sources:
        for system in ("dossier", "petition"):
            state.sim.rows_json(system, start, end)
    if "edoc" in sources:
        state.sim.rows_json_keyed("edoc", start, end, EDOC_KEY)
    apps = [
        (create_oss_app(state.sim, CLIENT_ID, CLIENT_SECRET, state=state), oss_port),
        (create_edoc_app(state.sim, API_KEY, state=state), edoc_port),
    ]

    async def main() -> None:
        servers = [
            uvicorn.Server(uvicorn.Config(a, host="127.0.0.1", port=p, log_level="warning", access_log=False))
            for a, p in apps
        ]
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(main())


def pg_cpu_seconds(pgdata: Path) -> float:
    """CPU of the PostgreSQL server so far: the postmaster, its reaped children and its live ones."""
    pm = int((pgdata / "postmaster.pid").read_text().split()[0])
    tck = os.sysconf("SC_CLK_TCK")

    def stat(pid: int | str) -> list[str] | None:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            return None

    own = stat(pm)
    total = sum(int(v) for v in own[11:15]) if own else 0  # utime stime cutime cstime
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = stat(d.name)
            if st and int(st[1]) == pm:
                total += int(st[11]) + int(st[12])
    return total / tck


def copy_same_rows(uri: str, table: str) -> tuple[int, float, int]:
    """Dump raw.<table>, COPY it into an identical empty table; returns (rows, seconds, bytes)."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped AND attidentity = '' ORDER BY attnum",
                (f"raw.{table}",),
            )
        ]
        collist = ", ".join(f'"{c}"' for c in cols)
        buf = bytearray()
        with conn.cursor() as cur, cur.copy(f"COPY (SELECT {collist} FROM raw.{table} ORDER BY _seq) TO STDOUT") as cp:
            for chunk in cp:
                buf += chunk
        copy = f"raw._bench_copy_{table}"  # the loader role owns schema raw only
        conn.execute(f"DROP TABLE IF EXISTS {copy}")
        conn.execute(f"CREATE TABLE {copy} (LIKE raw.{table} INCLUDING ALL)")
        data = bytes(buf)
        step = 1 << 20
        t0 = time.monotonic()
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY {copy} ({collist}) FROM STDIN") as cp:
                for i in range(0, len(data), step):
                    cp.write(data[i : i + step])
            n = cur.rowcount
        secs = time.monotonic() - t0
        conn.execute(f"DROP TABLE {copy}")
    return n, secs, len(data)


def empty_tables(uri: str, tables: list[str]) -> None:
    """Raw tables of a source back to empty (a repetition starts on an empty warehouse, as the first did)."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as c:
        c.execute("TRUNCATE " + ", ".join(f"raw.{t}" for t in tables) + " RESTART IDENTITY")


def batch_seconds(uri: str, run_id: str, tables: list[str]) -> dict[str, float]:
    """table -> seconds its batches of the run were open (started_at .. finished_at, summed)."""
    import psycopg

    with psycopg.connect(uri) as c:
        rows = c.execute(
            "SELECT source, entity, sum(extract(epoch FROM finished_at - started_at))::float FROM raw.load_audit"
            " WHERE run_id = %s AND status = 'succeeded' GROUP BY 1, 2",
            (run_id,),
        ).fetchall()
    by_entity = {f"{'oss' if s == 'one_stop_shop' else s}_{e}": secs for s, e, secs in rows}
    return {t: by_entity.get(t, 0.0) for t in tables}


class ThreadProfiles:
    """cProfile of the calling thread and of every thread started while enabled (Thread.run wrapped; cProfile
    itself sees one thread), with each thread's CPU seconds (time.thread_time) by name. The profiles count
    thread CPU time, not wall time: a thread waiting for the GIL or for the OS to run it (a loaded machine) would
    otherwise charge that wait to whatever call it was in."""

    def __init__(self, profile: bool = True) -> None:
        self.profile = profile  # False: each thread's CPU only, without the profiler's own cost
        self.main = cProfile.Profile(time.thread_time)
        self.done: list[tuple[str, float, cProfile.Profile]] = []
        self.main_cpu = 0.0
        self._lock = threading.Lock()
        self._run = threading.Thread.run
        self._t0 = 0.0

    def enable(self) -> None:
        run, done, lock, profile = self._run, self.done, self._lock, self.profile

        def profiled_run(thread: threading.Thread) -> None:
            prof, t0 = cProfile.Profile(time.thread_time), time.thread_time()
            if profile:
                prof.enable()
            try:
                run(thread)
            finally:
                prof.disable()
                with lock:
                    done.append((thread.name, time.thread_time() - t0, prof))

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        self._t0 = time.thread_time()
        if profile:
            self.main.enable()

    def disable(self) -> None:
        self.main.disable()
        self.main_cpu += time.thread_time() - self._t0
        threading.Thread.run = self._run  # type: ignore[method-assign]

    def print(self, out: object) -> None:
        by_name: dict[str, list[float]] = {"MainThread": [self.main_cpu, 1]}
        for name, cpu, _ in self.done:
            name = name.rstrip("0123456789_-").split(" (")[0]  # Thread-12 (job) -> Thread
            acc = by_name.setdefault(name, [0.0, 0])
            acc[0] += cpu
            acc[1] += 1
        print(f"CPU seconds by thread ({'profiled' if self.profile else 'not profiled'}, all repetitions):", file=out)
        for name, (cpu, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0]):
            print(f"  {name:<32}{cpu:>8.2f}s  ({n} threads)", file=out)
        if not self.profile:
            return
        stats = pstats.Stats(self.main, stream=out)
        for _, _, prof in self.done:
            stats.add(prof)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from chiso.extract import edoc, one_stop_shop
    from chiso.extract.common import DEFAULT_CONCURRENCY, SourceConn
    from chiso.settings import Settings
    from chiso.stack import credentials, postgres

    span = os.environ.get("CHISO_BENCH_SPAN", "year")
    chosen = os.environ.get("CHISO_BENCH_SOURCES", ",".join(SOURCES)).split(",")
    sources = {s: t for s, t in SOURCES.items() if s in chosen}
    if not sources:
        raise SystemExit(f"CHISO_BENCH_SOURCES: none of {chosen} is one of {list(SOURCES)}")
    start, end = SPANS[span]
    oss_port = int(os.environ.get("CHISO_BENCH_SIM_PORT", "8760"))
    edoc_port = oss_port + 1

    home = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    os.chmod(home, 0o755)  # noqa: S103 (the postgres OS user must reach its data dir)
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_BENCH_PG_PORT", "5613")))
    creds = credentials.load(home)
    proc: mp.Process | None = None
    postgres.ensure_running(settings, creds)
    try:
        uri = postgres.uri(settings, "chiso_loader", creds[postgres.ROLES["chiso_loader"]])
        proc = mp.get_context("spawn").Process(
            target=serve, args=(oss_port, edoc_port, end, list(sources)), daemon=True
        )
        proc.start()
        oss_url, edoc_url = f"http://127.0.0.1:{oss_port}", f"http://127.0.0.1:{edoc_port}"
        wait_healthy(oss_url)
        wait_healthy(edoc_url)

        prof_env = os.environ.get("CHISO_BENCH_PROFILE", "")
        profiler = ThreadProfiles(profile=prof_env != "cpu") if prof_env else None
        # cProfile sees one thread: profiling reads the chunks one at a time
        conc = 1 if profiler else int(os.environ.get("CHISO_BENCH_CONCURRENCY", str(DEFAULT_CONCURRENCY)))
        reps = int(os.environ.get("CHISO_BENCH_REPS", "3"))
        load_secs = dict.fromkeys(sources, 0.0)  # source -> extract+load wall time, all repetitions
        audit_secs: dict[str, float] = {}  # table -> time its batches were open (shares a source's wall time)
        copy_secs: dict[str, float] = {}
        copy_bytes: dict[str, int] = {}
        server_cpu = dict.fromkeys(sources, 0.0)
        client_cpu = dict.fromkeys(sources, 0.0)
        pg_cpu = dict.fromkeys(sources, 0.0)
        counts: dict[str, int] = {}
        for rep in range(reps):
            run_id = f"bench_{span}_{rep}"
            # Alternate: each source is extracted+loaded into empty tables, then COPY of the very same rows is
            # timed right after, so load on the (shared) machine hits both sides alike.
            for source, tables in sources.items():
                empty_tables(uri, tables)
                cpu0 = cpu_seconds(proc.pid)
                ccpu0, pg0 = time.process_time(), pg_cpu_seconds(settings.pgdata)
                if profiler:
                    profiler.enable()
                t0 = time.monotonic()
                if source == "one_stop_shop":
                    one_stop_shop.extract(
                        SourceConn(oss_url, CLIENT_ID, CLIENT_SECRET), uri, start, end, run_id=run_id, concurrency=conc
                    )
                else:
                    edoc.extract(
                        SourceConn(edoc_url, password=API_KEY), uri, start, end, run_id=run_id, concurrency=conc
                    )
                load_secs[source] += time.monotonic() - t0
                if profiler:
                    profiler.disable()
                server_cpu[source] += cpu_seconds(proc.pid) - cpu0
                client_cpu[source] += time.process_time() - ccpu0
                pg_cpu[source] += pg_cpu_seconds(settings.pgdata) - pg0
                for t, secs in batch_seconds(uri, run_id, tables).items():
                    audit_secs[t] = audit_secs.get(t, 0.0) + secs
                for t in tables:
                    n, secs, nbytes = copy_same_rows(uri, t)
                    if counts.setdefault(t, n) != n:
                        raise RuntimeError(f"raw.{t}: {n} rows in repetition {rep + 1}, {counts[t]} before")
                    copy_secs[t] = copy_secs.get(t, 0.0) + secs
                    copy_bytes[t] = nbytes
        if profiler:
            profiler.print(sys.stderr)

        days = (end - start).days + 1
        print(f"span: {span} {start}..{end} ({days} days), simulator seed {SEED}, {os.cpu_count()} CPUs")
        print("raw rows: " + ", ".join(f"{t}={n}" for t, n in counts.items()))
        print(
            f"{reps} repetitions, each: per source, extract+load into empty raw tables, then COPY of the same rows;"
            f" times summed over repetitions; {conc} date chunks in flight"
        )
        print("a table's extract+load time = its source's wall time x its share of the source's batch time (*)")
        print()
        print(f"{'':<24}{'rows':>9}{'extract+load':>14}{'rows/s':>10}{'COPY':>9}{'rows/s':>10}{'ratio':>8}")
        tot_rows = tot_load = tot_copy = 0.0
        ok = True

        def line(name: str, rows: float, load: float, c_secs: float) -> float:
            ratio = (rows / load) / (rows / c_secs) if load and c_secs else 0.0
            print(
                f"{name:<24}{rows:>9.0f}{load:>13.2f}s{rows / load if load else 0:>10.0f}{c_secs:>8.2f}s"
                f"{rows / c_secs if c_secs else 0:>10.0f}{ratio:>8.2f}"
            )
            return ratio

        for source, tables in sources.items():
            rows = reps * sum(counts[t] for t in tables)
            c_secs = sum(copy_secs[t] for t in tables)
            load = load_secs[source]
            ok &= line(source, rows, load, c_secs) >= GOAL
            share = sum(audit_secs.get(t, 0.0) for t in tables)
            for t in tables:
                t_load = load * audit_secs.get(t, 0.0) / share if share else 0.0
                line(f"  {t} (*)", reps * counts[t], t_load, copy_secs[t])
            print(
                f"  CPU meanwhile: simulator {server_cpu[source]:.1f}s (child process), extractor"
                f" {client_cpu[source]:.1f}s (this process, all threads), PostgreSQL {pg_cpu[source]:.1f}s"
            )
            tot_rows += rows
            tot_load += load
            tot_copy += c_secs
        ratio = line("total", tot_rows, tot_load, tot_copy)
        print("COPY input: " + ", ".join(f"{t} {b / 2**20:.1f} MiB" for t, b in copy_bytes.items()))
        print(f"ratio extract+load rows/s / COPY rows/s = {ratio:.2f} (goal >= {GOAL})")
        return 0 if ok and ratio >= GOAL else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.join(10)
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
