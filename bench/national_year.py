"""National scale (scale.md, issue 15): N provinces of 1/7/2025 over a span, extracted, loaded, checked and
transformed in one run on this machine, with the physical limits of the same run: `COPY` of the same rows and one
`dbt build` of the same data. How cost grows from 1 to 4 to 34 provinces.

Per N (a throwaway embedded PostgreSQL each; provinces 25 | 25,01,79,31 | all):
- source: one simulator process serves every listed province (`--province` list, `NationalSimulator`) over HTTP
  (the one-stop shop and e-document apps, uvicorn on loopback) and writes the CA's e-signature drop for the span
  first, as the real server's drop loop would;
- extract+load: the DAGs' own extractors and loader (`chiso.extract.one_stop_shop / edoc / esign`), daily counts
  in chunks of `chunk_days` (the DAGs' parameter): 31 // N days, so a batch holds about the same rows at every N
  (a national day is ~10^5 dossier rows) and a chunk's first page, which the simulator generates whole, stays well
  inside the extractor's 30 s timeout;
- COPY: every raw table's rows dumped and COPied back into an identical empty table (load_vs_copy's method);
- validation: every raw suite, one GX context, Data Docs once (as the DAG's check_raw);
- transform: one `dbt build` (seeds, models, tests) outside Airflow.
Peak memory per process group (PostgreSQL, simulator, dbt, this process = extractor/loader/GX) is the peak of the
group's summed PSS (/proc/<pid>/smaps_rollup, polled every 0.25 s: shared buffers counted once), per phase; CPU
per group from /proc.

CHISO_BENCH_PROVINCES (default "1,4,34"; 34 = all), CHISO_BENCH_SPAN=year|month (year 2025, across the reform;
month: 2025-06-16..07-16), CHISO_BENCH_PG_PORT (5614), CHISO_BENCH_SIM_PORT (8762, +1 for e-documents).
Goals (34 provinces, a year): whole run <= 30 min, peak memory <= 4 GB, cost linear in rows.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from _util import cpu_seconds, wait_healthy  # noqa: E402
from load_vs_copy import copy_same_rows, pg_cpu_seconds  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"
SPANS = {"year": (date(2025, 1, 1), date(2025, 12, 31)), "month": (date(2025, 6, 16), date(2025, 7, 16))}
PROVINCES = {1: "25", 4: "25,01,79,31", 34: "all"}
SEED = 26
CLIENT_ID, CLIENT_SECRET, API_KEY = "bench", "bench-secret", "bench-key"
DAILY = ["oss_dossier_daily", "oss_petition_daily", "edoc_documents_daily", "esign_signatures_daily"]
RAW = ["oss_units", "oss_procedures", *DAILY]
GOAL_SECONDS, GOAL_BYTES = 30 * 60, 4 * 2**30


def sim_now(end: date) -> datetime:
    from chiso_simulator.engine import TZ

    # Late corrections land 1-5 days after a day: by then the span is final.
    return datetime.combine(end + timedelta(days=10), datetime.min.time(), TZ).replace(hour=12)


def serve(provinces: str, oss_port: int, edoc_port: int, drop: str, start: date, end: date) -> None:
    """Child process: the source systems of every listed province; the drop folder first, then HTTP."""
    import asyncio

    import uvicorn

    from chiso_simulator.apps import SimState, create_edoc_app, create_oss_app
    from chiso_simulator.engine import Clock, SimConfig, make_simulator
    from chiso_simulator.esign_drop import write_esign_drop

    clock = Clock()
    clock.set(sim_now(end))
    # lean caches at every N (what a national simulator keeps), so memory compares the data, not cache policies
    sim = make_simulator(SimConfig(seed=SEED, province=provinces, lean=True, json_cache_rows=1_000_000), clock)
    write_esign_drop(sim, drop, start, end)
    state = SimState.create(sim)
    apps = [
        (create_oss_app(sim, CLIENT_ID, CLIENT_SECRET, state=state), oss_port),
        (create_edoc_app(sim, API_KEY, state=state), edoc_port),
    ]

    async def main() -> None:
        servers = [
            uvicorn.Server(uvicorn.Config(a, host="127.0.0.1", port=p, log_level="warning", access_log=False))
            for a, p in apps
        ]
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(main())


# ---------------------------------------------------------------------------- memory per process group
def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(d.name))
    return out


def _tree(pid: int, kids: dict[int, list[int]]) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemoryWatch:
    """Polls the summed PSS of each process group; `phase()` starts a new phase's peaks."""

    def __init__(self, roots: dict[str, callable]) -> None:
        self.roots = roots  # group -> () -> root pid or None
        self.peaks: dict[str, dict[str, int]] = {}
        self.current = "start"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def phase(self, name: str) -> None:
        self.sample()
        self.current = name

    def sample(self) -> None:
        kids = _children()
        me = os.getpid()
        sizes: dict[str, int] = {}
        for group, root in self.roots.items():
            pid = root()
            if pid is None:
                continue
            pids = [me] if group == "python" else _tree(pid, kids)
            sizes[group] = sum(_pss(p) for p in pids)
        sizes["total"] = sum(sizes.values())
        peaks = self.peaks.setdefault(self.current, {})
        for g, v in sizes.items():
            peaks[g] = max(peaks.get(g, 0), v)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()


# ---------------------------------------------------------------------------- one N
def run_one(n: int, span: str) -> dict:
    from chiso.extract import edoc, esign, one_stop_shop
    from chiso.extract.common import SourceConn
    from chiso.quality import list_suites, validate_many
    from chiso.settings import Settings
    from chiso.stack import credentials, postgres

    start, end = SPANS[span]
    provinces = PROVINCES[n]
    chunk_days = max(1, 31 // n)  # ~the same rows per batch at every N (a national day is ~10^5 dossier rows)
    oss_port = int(os.environ.get("CHISO_BENCH_SIM_PORT", "8762"))
    edoc_port = oss_port + 1
    home = Path(tempfile.mkdtemp(prefix="chiso-bench-national-"))
    os.chmod(home, 0o755)  # noqa: S103 (the postgres OS user must reach its data dir)
    work = home / "dbt"
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_BENCH_PG_PORT", "5614")))
    creds = credentials.load(home)
    res: dict = {"n": n, "provinces": provinces, "chunk_days": chunk_days, "secs": {}, "cpu": {}}
    proc: mp.Process | None = None
    dbt_pid: list[int | None] = [None]

    def pm_pid() -> int | None:
        try:
            return int((settings.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    roots = {
        "postgres": pm_pid,
        "simulator": lambda: proc.pid if proc is not None and proc.is_alive() else None,
        "dbt": lambda: dbt_pid[0],
        "python": os.getpid,
    }
    t_all = time.monotonic()
    postgres.ensure_running(settings, creds)
    try:
        with MemoryWatch(roots) as mem:
            uri = postgres.uri(settings, "chiso_loader", creds[postgres.ROLES["chiso_loader"]])
            drop = home / "esign_drop"
            mem.phase("source start")
            t0 = time.monotonic()
            proc = mp.get_context("spawn").Process(
                target=serve, args=(provinces, oss_port, edoc_port, str(drop), start, end), daemon=True
            )
            proc.start()
            oss_url, edoc_url = f"http://127.0.0.1:{oss_port}", f"http://127.0.0.1:{edoc_port}"
            wait_healthy(oss_url, timeout=3600)
            wait_healthy(edoc_url, timeout=600)
            res["secs"]["source start"] = time.monotonic() - t0
            res["cpu"]["simulator start"] = cpu_seconds(proc.pid)

            mem.phase("extract+load")
            sim0, py0, pg0 = cpu_seconds(proc.pid), time.process_time(), pg_cpu_seconds(settings.pgdata)
            run_id = f"bench_national_{n}"
            t0 = time.monotonic()
            one_stop_shop.extract(
                SourceConn(oss_url, CLIENT_ID, CLIENT_SECRET), uri, start, end, run_id=run_id, chunk_days=chunk_days
            )
            res["secs"]["one_stop_shop"] = time.monotonic() - t0
            t1 = time.monotonic()
            edoc.extract(SourceConn(edoc_url, password=API_KEY), uri, start, end, run_id=run_id, chunk_days=chunk_days)
            res["secs"]["edoc"] = time.monotonic() - t1
            t1 = time.monotonic()
            esign.extract(SourceConn(extra={"path": str(drop)}), uri, start, end, run_id=run_id)
            res["secs"]["esign"] = time.monotonic() - t1
            res["secs"]["extract+load"] = time.monotonic() - t0
            res["cpu"]["extract+load"] = {
                "simulator": cpu_seconds(proc.pid) - sim0,
                "python": time.process_time() - py0,
                "postgres": pg_cpu_seconds(settings.pgdata) - pg0,
            }
            proc.terminate()  # the source's part is done: its memory is not the warehouse's
            proc.join(30)

            mem.phase("COPY")
            import psycopg

            with psycopg.connect(uri) as c:
                res["rows"] = {t: c.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in RAW}  # noqa: S608
            copy_secs = 0.0
            for t in RAW:
                rows, secs, _ = copy_same_rows(uri, t)
                assert rows == res["rows"][t], (t, rows, res["rows"][t])
                copy_secs += secs
            res["secs"]["COPY"] = copy_secs

            mem.phase("validation")
            suites = [s for s in list_suites() if s.startswith("raw_")]
            py0, pg0 = time.process_time(), pg_cpu_seconds(settings.pgdata)
            t0 = time.monotonic()
            outcomes = validate_many(suites, warehouse_uri=uri, run_id=run_id, window=(start, end), home=home)
            res["secs"]["validation"] = time.monotonic() - t0
            res["cpu"]["validation"] = {
                "python": time.process_time() - py0,
                "postgres": pg_cpu_seconds(settings.pgdata) - pg0,
            }
            res["failed_expectations"] = sum(not r.success for o in outcomes for r in o.results)

            mem.phase("dbt build")
            env = {
                **os.environ,
                "CHISO_PG_HOST": "127.0.0.1",
                "CHISO_PG_PORT": str(settings.pg_port),
                "CHISO_PG_DB": postgres.WAREHOUSE_DB,
                "CHISO_DBT_USER": "chiso_transformer",
                "CHISO_DBT_PASSWORD": creds[postgres.ROLES["chiso_transformer"]],
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            }
            cmd = [str(DBT), "build", "--project-dir", str(REPO / "dbt_project"), "--profiles-dir"]
            cmd += [str(REPO / "dbt_project"), "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
            ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            pg0 = pg_cpu_seconds(settings.pgdata)
            t0 = time.monotonic()
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            dbt_pid[0] = p.pid
            out, _ = p.communicate(timeout=7200)
            dbt_pid[0] = None
            res["secs"]["dbt build"] = time.monotonic() - t0
            ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res["cpu"]["dbt build"] = {
                "dbt": ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime,
                "postgres": pg_cpu_seconds(settings.pgdata) - pg0,
            }
            results = json.loads((work / "target" / "run_results.json").read_text())
            bad = [r["unique_id"] for r in results["results"] if r["status"] in ("error", "fail")]
            if p.returncode or bad:
                raise RuntimeError(f"dbt build exit {p.returncode}: {bad[:10] or out[-3000:]}")
            res["dbt_nodes"] = len(results["results"])
            with psycopg.connect(uri) as c:
                res["marts"] = {
                    t: c.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0]  # noqa: S608
                    for t in ("fct_indicator_values", "rpt_unit_rankings", "rpt_province_rankings")
                }
                res["provinces_ranked"] = c.execute(
                    "SELECT max(provinces_ranked) FROM marts.rpt_province_rankings WHERE basis = 'current'"
                ).fetchone()[0]
            mem.phase("end")
        res["peaks"] = mem.peaks
        res["secs"]["whole run"] = time.monotonic() - t_all
        return res
    finally:
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(10)
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------------------- report
def _gb(b: int) -> str:
    return f"{b / 2**30:.2f}G"


def section(r: dict, span: str) -> bool:
    """One N's figures, printed as soon as it is done (a long run keeps what finished)."""
    ok = True
    rows = r["rows"]
    daily = sum(rows[t] for t in DAILY)
    total = sum(rows.values())
    s = r["secs"]
    print(f"\n== {r['n']} province(s): {r['provinces']} (chunk_days {r['chunk_days']})")
    print("raw rows: " + ", ".join(f"{t}={v}" for t, v in rows.items()) + f"; total {total}")
    print(f"  source start (simulator build + e-signature drop) {s['source start']:8.1f}s"
          f"  (simulator CPU {r['cpu']['simulator start']:.1f}s)")  # fmt: skip
    el = s["extract+load"]
    print(f"  extract+load {el:8.1f}s  {total / el:9.0f} rows/s   (one_stop_shop {s['one_stop_shop']:.1f}s, "
          f"edoc {s['edoc']:.1f}s, esign {s['esign']:.1f}s)")  # fmt: skip
    c = r["cpu"]["extract+load"]
    print(f"    CPU: simulator {c['simulator']:.1f}s ({c['simulator'] / daily * 1e6:.1f} us/daily row), "
          f"extractor+loader {c['python']:.1f}s, PostgreSQL {c['postgres']:.1f}s")  # fmt: skip
    print(f"  COPY         {s['COPY']:8.1f}s  {total / s['COPY']:9.0f} rows/s   ratio extract+load / COPY rows/s"
          f" = {s['COPY'] / el:.2f}")  # fmt: skip
    print(f"  validation   {s['validation']:8.1f}s  ({r['failed_expectations']} failed expectations)")
    cd = r["cpu"]["dbt build"]
    print(f"  dbt build    {s['dbt build']:8.1f}s  {total / s['dbt build']:9.0f} raw rows/s  ({r['dbt_nodes']} "
          f"nodes; CPU dbt {cd['dbt']:.1f}s, PostgreSQL {cd['postgres']:.1f}s)")  # fmt: skip
    print("    marts: " + ", ".join(f"{k}={v}" for k, v in r["marts"].items())
          + f"; provinces ranked (current basis) {r['provinces_ranked']}")  # fmt: skip
    work = el + s["COPY"] + s["validation"] + s["dbt build"]
    print(f"  whole run    {s['whole run']:8.1f}s  (extract+load + COPY + validation + dbt build = {work:.1f}s)")
    groups = ["postgres", "simulator", "python", "dbt", "total"]
    print("  peak memory (PSS) by phase: " + " ".join(f"{g:>10}" for g in groups))
    worst = 0
    for phase, peaks in r["peaks"].items():
        if phase == "start" or not peaks:
            continue
        worst = max(worst, peaks.get("total", 0))
        print(f"    {phase:<26}" + " ".join(f"{_gb(peaks.get(g, 0)):>10}" for g in groups))
    print(f"    peak of the whole: {_gb(worst)}")
    r["worst"] = worst
    print(f"    load average at its end: {os.getloadavg()[0]:.2f} (2 CPUs)", flush=True)
    if r["n"] == 34 and span == "year":
        ok &= s["whole run"] <= GOAL_SECONDS and worst <= GOAL_BYTES
    return ok


def report(runs: list[dict]) -> None:
    if len(runs) > 1:
        base = runs[0]
        b_rows = sum(base["rows"].values())
        print(f"\ngrowth vs {base['n']} province(s) (x rows; x time per phase; time per million raw rows):")
        for r in runs:
            rows = sum(r["rows"].values())
            print(f"  {r['n']:>2} provinces: rows x{rows / b_rows:5.2f}; " + "; ".join(
                f"{ph} x{r['secs'][ph] / base['secs'][ph]:.2f} ({r['secs'][ph] / rows * 1e6:.1f}s/M)"
                for ph in ("extract+load", "COPY", "validation", "dbt build", "whole run")
            ) + f"; peak x{r['worst'] / base['worst']:.2f}")  # fmt: skip
    print(f"\ngoals (34 provinces, a year): whole run <= {GOAL_SECONDS // 60} min, peak memory <= {_gb(GOAL_BYTES)}")


def main() -> int:
    sys.path.insert(0, str(REPO / "src"))
    span = os.environ.get("CHISO_BENCH_SPAN", "year")
    ns = [int(x) for x in os.environ.get("CHISO_BENCH_PROVINCES", "1,4,34").split(",")]
    start, end = SPANS[span]
    print(f"span: {span} {start}..{end} ({(end - start).days + 1} days), seed {SEED}, {os.cpu_count()} CPUs",
          flush=True)
    runs, ok = [], True
    for n in ns:
        print(f"-- {n} province(s) ...", file=sys.stderr, flush=True)
        runs.append(run_one(n, span))
        print(f"   {json.dumps(runs[-1]['secs'])}", file=sys.stderr, flush=True)
        ok &= section(runs[-1], span)
    report(runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
