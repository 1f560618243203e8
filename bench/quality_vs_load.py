"""Raw-layer validation time vs extract-and-load time for the same span of the demo province (goal:
validation < 10% of extract+load), measured in one run against a throwaway embedded PostgreSQL.

Extract+load: the real extractors read the simulator's HTTP apps (uvicorn on loopback, in child
processes so the source side runs beside the extractor as a real system would) and the e-signature
drop folder, which is written to a temp folder before the clock starts (it is the source's work).
Validation: every `raw_*` suite with window = the span, as the DAG's check_raw calls it, in a process that has
not imported Great Expectations yet: the import is counted (every quality task pays it), overlapped with the
scratch tables PostgreSQL builds meanwhile, as in the task. Data Docs are built once at the end and counted.

CHISO_BENCH_SPAN=year|quarter (default year: 2024; quarter: 2024-Q1), CHISO_BENCH_PG_PORT (5631),
CHISO_BENCH_SIM_PORT (5633; 5634 for the e-document app),
CHISO_BENCH_PROFILE=1 prints a cProfile of the validation (cumulative, to stderr).
"""

from __future__ import annotations

import cProfile
import multiprocessing as mp
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from _util import cpu_seconds, wait_healthy  # noqa: E402

SPANS = {"year": (date(2024, 1, 1), date(2024, 12, 31)), "quarter": (date(2024, 1, 1), date(2024, 3, 31))}
SEED = 26
OSS_PORT = int(os.environ.get("CHISO_BENCH_SIM_PORT", "5633"))  # the benchmark's own loopback ports (5630-5639)
EDOC_PORT = OSS_PORT + 1
CLIENT_ID, CLIENT_SECRET, API_KEY = "bench", "bench-secret", "bench-key"
RAW_TABLES = [
    "oss_units",
    "oss_procedures",
    "oss_dossier_daily",
    "oss_petition_daily",
    "edoc_documents_daily",
    "esign_signatures_daily",
]


def sim_now(end: date) -> datetime:
    from chiso_simulator.engine import TZ

    # Late corrections land 1-5 days after a day: by then the span is final.
    return datetime.combine(end + timedelta(days=10), datetime.min.time(), TZ).replace(hour=12)


def serve(system: str, port: int, end: date) -> None:
    """Child process: one simulated system on a loopback port, no faults."""
    import uvicorn

    from chiso_simulator.apps import create_edoc_app, create_oss_app
    from chiso_simulator.engine import Clock, SimConfig, Simulator

    clock = Clock()
    clock.set(sim_now(end))
    sim = Simulator(SimConfig(seed=SEED), clock)
    app = create_oss_app(sim, CLIENT_ID, CLIENT_SECRET) if system == "oss" else create_edoc_app(sim, API_KEY)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def gx_import_seconds() -> float:
    """GX imported as the runner imports it (chiso.quality.gx_import), in a fresh interpreter."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    code = (
        f"import sys, time; sys.path.insert(0, {src!r}); from chiso.quality.gx_import import import_gx;"
        " t = time.monotonic(); import_gx(); print(time.monotonic() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def row_counts(uri: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(uri) as c:
        return {t: c.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in RAW_TABLES}


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from chiso.extract import edoc, esign, one_stop_shop
    from chiso.extract.common import SourceConn
    from chiso.quality import list_suites, validate_many
    from chiso.settings import Settings
    from chiso.stack import credentials, postgres
    from chiso_simulator.engine import Clock, SimConfig, Simulator
    from chiso_simulator.esign_drop import write_esign_drop

    span = os.environ.get("CHISO_BENCH_SPAN", "year")
    start, end = SPANS[span]
    suites = [s for s in list_suites() if s.startswith("raw_")]

    home = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    os.chmod(home, 0o755)  # noqa: S103 (the postgres OS user must reach its data dir)
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_BENCH_PG_PORT", "5631")))
    creds = credentials.load(home)
    procs: list[mp.Process] = []
    postgres.ensure_running(settings, creds)
    try:
        uri = postgres.uri(settings, "chiso_loader", creds[postgres.ROLES["chiso_loader"]])
        ctx = mp.get_context("spawn")  # a clean interpreter: no inherited threads or connections
        for system, port in (("oss", OSS_PORT), ("edoc", EDOC_PORT)):
            p = ctx.Process(target=serve, args=(system, port, end), daemon=True)
            p.start()
            procs.append(p)
        oss_url, edoc_url = f"http://127.0.0.1:{OSS_PORT}", f"http://127.0.0.1:{EDOC_PORT}"
        wait_healthy(oss_url)
        wait_healthy(edoc_url)

        # The CA's drop folder for the span, as the source would have written it.
        clock = Clock()
        clock.set(sim_now(end))
        t0 = time.monotonic()
        drop = home / "esign_drop"
        files = write_esign_drop(Simulator(SimConfig(seed=SEED), clock), drop, start, end)
        t_drop = time.monotonic() - t0

        cpu0 = sum(cpu_seconds(p.pid) for p in procs)
        run_id = f"bench_{span}"
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        one_stop_shop.extract(SourceConn(oss_url, CLIENT_ID, CLIENT_SECRET), uri, start, end, run_id=run_id)
        timings["one_stop_shop"] = time.monotonic() - t0
        t1 = time.monotonic()
        edoc.extract(SourceConn(edoc_url, password=API_KEY), uri, start, end, run_id=run_id)
        timings["edoc"] = time.monotonic() - t1
        t1 = time.monotonic()
        esign.extract(SourceConn(extra={"path": str(drop)}), uri, start, end, run_id=run_id)
        timings["esign"] = time.monotonic() - t1
        t_load = time.monotonic() - t0
        server_cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu0
        counts = row_counts(uri)

        per_suite: dict[str, tuple[float, int, int]] = {}
        assert "great_expectations" not in sys.modules  # its import belongs to the validation's time
        profiler = cProfile.Profile() if os.environ.get("CHISO_BENCH_PROFILE") else None
        if profiler:
            profiler.enable()
        # The Data Docs build, timed on its own (its share of the validation below).
        from chiso.quality import runner

        build_docs, t_docs = runner._build_docs, [0.0]

        def timed_docs(*a, **kw):
            t = time.monotonic()
            try:
                return build_docs(*a, **kw)
            finally:
                t_docs[0] += time.monotonic() - t

        runner._build_docs = timed_docs
        t0 = time.monotonic()
        # as the DAG's check_raw calls it: every raw suite, one GX context, Data Docs built once at the end
        outcomes = validate_many(suites, warehouse_uri=uri, run_id=run_id, window=(start, end), home=home)
        t_val = time.monotonic() - t0
        for out in outcomes:
            secs = (out.finished_at - out.started_at).total_seconds()
            per_suite[out.suite] = (secs, len(out.results), sum(not r.success for r in out.results))
        if profiler:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        t_import = gx_import_seconds()

        days = (end - start).days + 1
        print(f"span: {span} {start}..{end} ({days} days), simulator seed {SEED}, {os.cpu_count()} CPUs")
        print("raw rows: " + ", ".join(f"{t}={n}" for t, n in counts.items()))
        print(f"e-signature drop written beforehand: {len(files)} files in {t_drop:.1f}s (not timed below)")
        print(f"extract+load   {t_load:8.1f}s  (" + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()) + ")")
        print(f"  simulator servers' CPU meanwhile: {server_cpu:.1f}s (child processes, other core)")
        print(f"validation     {t_val:8.1f}s  ({len(suites)} raw suites incl. the GX import, then Data Docs once)")
        print(f"  {'(GX import alone, fresh interpreter:':<28} {t_import:.1f}s; overlapped above with table building)")
        for suite, (secs, n, failed) in per_suite.items():
            print(f"  {suite:<28} {secs:6.1f}s  {n:3d} expectations, {failed} failed")
        t_suites = sum(v[0] for v in per_suite.values())
        t_rest = t_val - t_suites - t_docs[0]
        print(
            f"  = suites {t_suites:.1f}s + Data Docs {t_docs[0]:.1f}s + the rest {t_rest:.1f}s (GX import and context,"
            f" waiting for the scratch tables; the import alone is {t_import / t_load:.1%} of extract+load)"
        )
        ratio = t_val / t_load
        print(f"ratio validation / extract+load = {ratio:.1%} (goal < 10%)")
        return 0 if ratio < 0.10 else 1
    finally:
        for p in procs:
            p.terminate()
            p.join(10)
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
