"""Daily dbt run with a year of history vs a month of history (goal: ratio within 1.5x).

A throwaway embedded PostgreSQL (port CHISO_BENCH_PG_PORT, default 5620) gets raw data from the simulator
(seed 26) through the real loader: unit register and procedure catalogue snapshots, then the daily dossier /
petition / e-document / e-signature rows of the history, loaded a month per batch like a backfill. Then
`dbt seed` + `dbt build` (full, untimed for the ratio). The daily run: the simulator clock moves one day on,
the new day is loaded together with the restated lookback days (late corrections and vanished rows become new
raw versions / tombstones), and `dbt run` and `dbt test` are timed separately. Done for 1 and 12 months of
history on a reset warehouse, with the same new day. CHISO_BENCH_SCALE (default 1) scales the dossier volume.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import psycopg  # noqa: E402

from chiso.raw import entities as ent  # noqa: E402
from chiso.raw.loader import SourceRow, load_batch  # noqa: E402
from chiso.settings import Settings  # noqa: E402
from chiso.stack import credentials, postgres  # noqa: E402
from chiso_simulator.engine import TZ, SimConfig, Simulator  # noqa: E402
from chiso_simulator.esign_drop import fmt_int  # noqa: E402

DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"
PORT = int(os.environ.get("CHISO_BENCH_PG_PORT", "5620"))
SCALE = float(os.environ.get("CHISO_BENCH_SCALE", "1"))
NEW_DAY = date(2024, 12, 11)  # a Wednesday, clear of Tết and of the 2025 reorganisation
LOOKBACK = 3  # days re-read with the new day (corrections arrive 1-5 days late)
HISTORIES = {"1 month": 30, "12 months": 365}
DAILY = (ent.OSS_DOSSIER_DAILY, ent.OSS_PETITION_DAILY, ent.EDOC_DOCUMENTS_DAILY, ent.ESIGN_SIGNATURES_DAILY)


def rows_of(sim: Simulator, e: ent.Entity, d: date) -> list[SourceRow]:
    if e is ent.ESIGN_SIGNATURES_DAILY:
        extra = {"source_file": f"{d:%Y/%m}/chu_ky_so_{d:%Y%m%d}.csv", "file_version": 1}
        out = []
        for i, r in enumerate(sim.esign_rows(d), 2):
            rec = {f.source: fmt_int(r[f.column]) if f.kind == "vn_count" else r[f.column] for f in e.fields}
            rec["Ngày"] = f"{d:%d/%m/%Y}"
            out.append(SourceRow(f"{extra['source_file']} dòng {i}", rec, extra))
        return out
    fetch = {"oss_dossier_daily": sim.dossier_rows, "oss_petition_daily": sim.petition_rows}.get(e.name, sim.edoc_rows)
    return [SourceRow(f"{e.name} {d} dòng {i}", r) for i, r in enumerate(fetch(d), 1)]


def load_days(uri: str, sim: Simulator, start: date, end: date, run_id: str, chunk_days: int = 31) -> int:
    """Load [start, end] of every daily entity, one batch per entity and chunk; returns new raw versions."""
    new = 0
    for e in DAILY:
        # e-signatures: one file (batch) per day, as the drop folder delivers them
        step = 1 if e is ent.ESIGN_SIGNATURES_DAILY else chunk_days
        cur = start
        while cur <= end:
            last = min(end, cur + timedelta(days=step - 1))
            days = [cur + timedelta(days=i) for i in range((last - cur).days + 1)]
            extra = None
            if e is ent.ESIGN_SIGNATURES_DAILY:
                extra = {"source_file": f"{cur:%Y/%m}/chu_ky_so_{cur:%Y%m%d}.csv", "file_version": 1}
            r = load_batch(
                uri,
                e,
                (rows_of(sim, e, d) for d in days),
                window_start=cur,
                window_end=last,
                run_id=run_id,
                tombstone_extra=extra,
            )
            new += r.rows_new_versions + r.rows_deleted
            cur = last + timedelta(days=1)
    return new


def reset(settings: Settings, creds: dict[str, str]) -> None:
    """Drop raw, its version and every dbt schema, then bootstrap again (like tests/conftest.py fresh_schema)."""
    su = postgres.uri(settings, postgres.SUPERUSER, creds["pg_superuser"])
    with psycopg.connect(su, autocommit=True) as conn:
        for schema in ("raw", "quality", "exports", "chiso_meta"):  # chiso_meta: the migrations' version table
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspowner = 'chiso_transformer'::regrole"
        ).fetchall():
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    postgres.bootstrap(settings, creds)
    with psycopg.connect(su, autocommit=True) as conn:
        conn.execute("GRANT TEMPORARY ON DATABASE chiso TO chiso_transformer")
        conn.execute("CHECKPOINT")


def dbt(args: list[str], creds: dict[str, str], work: Path) -> tuple[float, dict]:
    """Run dbt; returns (wall seconds, run_results.json)."""
    env = {
        **os.environ,
        "CHISO_PG_HOST": "127.0.0.1",
        "CHISO_PG_PORT": str(PORT),
        "CHISO_PG_DB": postgres.WAREHOUSE_DB,
        "CHISO_DBT_USER": "chiso_transformer",
        "CHISO_DBT_PASSWORD": creds[postgres.ROLES["chiso_transformer"]],
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    target = work / "target"
    cmd = [str(DBT), *args, "--project-dir", str(REPO / "dbt_project"), "--profiles-dir", str(REPO / "dbt_project")]
    cmd += ["--target-path", str(target), "--log-path", str(work / "logs")]
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - t0
    results = json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").exists() else {}
    if r.returncode:
        bad = [n["unique_id"] for n in results.get("results", []) if n["status"] in ("error", "fail")]
        # a failed build measures nothing: stop rather than print a ratio of broken runs
        raise SystemExit(f"dbt {args[0]} exit {r.returncode}: {bad[:10] or r.stdout[-3000:]}")
    return wall, results


def node_times(results: dict, kind: str) -> dict[str, float]:
    return {
        n["unique_id"].split(".")[-1]: n["execution_time"]
        for n in results.get("results", [])
        if n["unique_id"].split(".")[0] == kind
    }


def row_counts(uri: str) -> dict[str, int]:
    with psycopg.connect(uri) as conn:
        return {
            e.name: conn.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0]  # noqa: S608
            for e in DAILY
        }


def scenario(label: str, days: int, settings: Settings, creds: dict[str, str], work: Path) -> dict:
    print(f"-- history {label}: {NEW_DAY - timedelta(days=days)} .. {NEW_DAY - timedelta(days=1)}", flush=True)
    reset(settings, creds)
    uri = postgres.uri(settings, "chiso_loader", creds[postgres.ROLES["chiso_loader"]])
    sim = Simulator(SimConfig(seed=26, scale=SCALE))
    # History as extracted early on NEW_DAY (every day before it is closed).
    sim.clock.set(datetime.combine(NEW_DAY, datetime.min.time(), TZ) + timedelta(hours=2))
    t0 = time.monotonic()
    load_batch(uri, ent.OSS_UNITS, [[SourceRow(f"don-vi {i}", r) for i, r in enumerate(sim.units(), 1)]])
    load_batch(uri, ent.OSS_PROCEDURES, [[SourceRow(f"thu-tuc {i}", r) for i, r in enumerate(sim.procedures(), 1)]])
    load_days(uri, sim, NEW_DAY - timedelta(days=days), NEW_DAY - timedelta(days=1), "bench-history")
    counts = row_counts(uri)
    print(f"  raw loaded in {time.monotonic() - t0:.0f}s: {counts}", flush=True)
    seed_s, _ = dbt(["seed"], creds, work)
    full_s, full = dbt(["build"], creds, work)
    print(f"  dbt seed {seed_s:.1f}s, full dbt build {full_s:.1f}s", flush=True)
    # The daily run: the next morning, the new day plus the restated lookback days.
    sim.clock.set(datetime.combine(NEW_DAY + timedelta(days=1), datetime.min.time(), TZ) + timedelta(hours=2))
    new_versions = load_days(
        uri, sim, NEW_DAY - timedelta(days=LOOKBACK), NEW_DAY, "bench-daily", chunk_days=LOOKBACK + 1
    )
    run_s, run = dbt(["run"], creds, work)
    test_s, test = dbt(["test"], creds, work)
    models = node_times(run, "model")
    tests = node_times(test, "test") | node_times(test, "unit_test")
    print(
        f"  daily: {new_versions} new raw versions; dbt run {run_s:.1f}s (models {sum(models.values()):.1f}s),"
        f" dbt test {test_s:.1f}s (tests {sum(tests.values()):.1f}s)",
        flush=True,
    )
    return {
        "raw": counts,
        "full_build": full_s,
        "full_models": node_times(full, "model"),
        "run": run_s,
        "test": test_s,
        "models": models,
        "tests": tests,
    }


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    os.chmod(home, 0o755)  # noqa: S103 - the postgres OS user must traverse it
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-dbt-"))
    settings = Settings(home=home, pg_port=PORT)
    creds = credentials.load(home)
    t0 = time.monotonic()
    postgres.ensure_running(settings, creds)
    try:
        vol = "full default volume" if SCALE == 1 else f"dossier volume scaled x{SCALE:g}"
        print(f"simulator seed 26, {vol}; new day {NEW_DAY}, restated lookback {LOOKBACK} days", flush=True)
        res = {label: scenario(label, days, settings, creds, work) for label, days in HISTORIES.items()}
        small, big = res["1 month"], res["12 months"]
        print()
        print(f"{'':28}{'1 month':>10}{'12 months':>11}{'ratio':>8}")
        for name, key in (
            ("full dbt build (once)", "full_build"),
            ("daily dbt run", "run"),
            ("daily dbt test", "test"),
        ):
            print(f"{name:28}{small[key]:9.1f}s{big[key]:10.1f}s{big[key] / small[key]:7.2f}x")
        both_s, both_b = small["run"] + small["test"], big["run"] + big["test"]
        print(f"{'daily run + test':28}{both_s:9.1f}s{both_b:10.1f}s{both_b / both_s:7.2f}x")
        ms, mb = sum(small["models"].values()), sum(big["models"].values())
        print(f"{'daily model time (sum)':28}{ms:9.1f}s{mb:10.1f}s{mb / ms:7.2f}x")
        print("\nslowest daily models (12 months vs 1 month):")
        for m in sorted(big["models"], key=big["models"].get, reverse=True)[:8]:
            a, b = small["models"].get(m, 0.0), big["models"][m]
            print(f"  {m:34}{a:7.2f}s{b:8.2f}s")
        ratio = big["run"] / small["run"]
        verdict = "OK" if ratio <= 1.5 else "over goal"
        print(f"\ndaily dbt run ratio 12 months / 1 month = {ratio:.2f}x (goal <= 1.5x: {verdict})")
        print(f"total bench time {time.monotonic() - t0:.0f}s")
        return 0 if ratio <= 1.5 else 1
    finally:
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
