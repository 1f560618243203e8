"""National-report exports of the demo window at the demo province's size: documents/s and the time for all of them.

Measured in one run against a throwaway embedded PostgreSQL holding marts of the demo province's shape (151 units:
the province, 20 departments, 9 districts, 121 communes, with the 1/3/2025 department merger; province and district
territories; the 30 indicators of seeds/indicator_catalogue.csv; both bases of the 2025 reform, of which the exports
read the current one, where the merged departments' figures are the absorbing ones'; the dbt marts' indexes) for the
window 2024-01-01 … 2025-06-30 of a pre-reform province, and the simulator's national receiver
(`chiso_simulator.national`, uvicorn on loopback in a child process, as the stack serves it; it validates every
document it receives, on the same 2 cores).

Three runs of `run_exports`, as the DAG calls it: the first builds, stores (JSON + XLSX) and sends every due document
(48 for the demo window); the second finds nothing changed; the third follows a restatement of one day (new revisions
of the affected periods only). Each run also reports its SQL statements (round trips to PostgreSQL).

CHISO_BENCH_PG_PORT (8631), CHISO_BENCH_RECEIVER_PORT (8632); CHISO_BENCH_PROFILE=1 prints a cProfile of the first
run (cumulative, to stderr; CHISO_BENCH_PROFILE=/path/x.prof also keeps the stats there). Exit status 1 when the
first run takes longer than the goal (GOAL_SECONDS).
"""

from __future__ import annotations

import cProfile
import csv
import multiprocessing as mp
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from _util import wait_healthy  # noqa: E402

# The marts contract and the period calendar that the exporter's consumer tests use.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from marts_contract import MARTS_DDL, Register, Unit, dim_periods_rows, periods  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
START, END = date(2024, 1, 1), date(2025, 6, 30)
TODAY = date(2025, 7, 15)  # every complete period of the window is due
REORG = date(2025, 3, 1)
TOKEN = "bench-national-token"
GOAL_SECONDS = 30.0  # issue 11: the 48 documents of the demo window "in seconds" (was 303 s in `make run`)
N_DEPARTMENTS, DISTRICT_COMMUNES = 20, [14, 13, 15, 12, 14, 13, 14, 13, 13]  # 121 communes
MERGED = {4: 5, 11: 14, 12: 2, 8: 9, 10: 7}  # absorbed department -> absorbing one (1/3/2025)

# The consumers' copy of the marts contract (tests/integration/marts_contract.py), with what the real marts
# also have: evaluated_to, and the period indexes the exporter's queries use.
MARTS_EXTRA = """
ALTER TABLE marts.fct_indicator_values ADD COLUMN evaluated_to date;
ALTER TABLE marts.rpt_qd766_scores ADD COLUMN evaluated_to date;
ALTER TABLE marts.rpt_dossier_report ADD COLUMN evaluated_to date;
CREATE INDEX ON marts.fct_indicator_values (period_type, period_start);
CREATE INDEX ON marts.rpt_qd766_scores (period_type, period_start);
CREATE INDEX ON marts.rpt_ranking_scores (period_type, period_start);
CREATE INDEX ON marts.rpt_unit_rankings (period_type, period_start);
CREATE INDEX ON marts.rpt_dossier_report (period_type, period_start);
"""


def units() -> list[Unit]:
    """The demo province's register (pre-reform Vĩnh Phúc): an absorbed department ends on 28/2/2025 and lists the
    absorbing one as its successor."""
    prov = "000.00.00.H26"
    out = [Unit(prov, "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None)]
    for i in range(1, N_DEPARTMENTS + 1):
        code = f"000.00.{i:02d}.H26"
        if i in MERGED:
            successor = f"000.00.{MERGED[i]:02d}.H26"
            out.append(Unit(code, f"Sở số {i}", "SO_NGANH", prov, valid_to=REORG - timedelta(days=1),
                            successors=(successor,)))  # fmt: skip
        else:
            out.append(Unit(code, f"Sở số {i}", "SO_NGANH", prov))
    for k, n in enumerate(DISTRICT_COMMUNES):
        dc = f"000.00.{41 + k:02d}.H26"
        out.append(Unit(dc, f"UBND huyện số {k + 1}", "UBND_HUYEN", prov))
        for m in range(1, n + 1):
            out.append(Unit(f"000.{m:02d}.{41 + k:02d}.H26", f"UBND xã {m} huyện {k + 1}", "UBND_XA", dc))
    return out


def catalogue(seed: str = "indicator_catalogue") -> list[dict]:
    with (REPO / "seeds" / f"{seed}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _copy(conn, table: str, rows: list[tuple]) -> None:
    with conn.cursor().copy(f"COPY marts.{table} FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def build_marts(conn, restated: date | None = None) -> dict[str, int]:
    """(Re)create the marts of the demo window in both bases (historical: the units valid in the period; current:
    today's units); `restated` changes every figure of the periods containing that day."""
    rng = random.Random(26)
    reg = Register(units(), END)
    inds = catalogue()
    weights = catalogue("ranking_weights")  # rpt_ranking_scores: Σ multiplier × framework points, seed maxima
    max_score = Counter()
    for w in weights:
        max_score[w["ranking_code"]] += float(w["max_score"])
    children = Counter(u.parent for u in reg.units)
    pairs = [(u, "unit") for u in reg.units] + [(u, "area") for u in reg.units if children[u.code]]
    rows: dict[str, list[tuple]] = {t: [] for t in ("dim", "fct", "score", "ranking", "rank", "dossier")}
    rows["dim"] = reg.dim_units()
    for (ptype, ps, pe), basis in ((p, b) for p in periods(START, END) for b in ("historical", "current")):
        evaluated = min(pe, END)
        if basis == "historical":
            alive = [(u, s) for u, s in pairs if u.valid_to is None or u.valid_to >= ps]
        else:
            alive = [(u, s) for u, s in pairs if u.valid_on(END)]
        bump = 1 if restated and ps <= restated <= pe else 0
        if ptype.startswith("report_"):
            for u, scope in alive:
                f = [rng.randrange(0, 400) + bump for _ in range(11)]
                rows["dossier"].append((basis, u.code, u.valid_from, scope, ptype, ps, pe, *f, evaluated))
            continue
        scores = {}
        for u, scope in alive:
            groups: Counter = Counter()
            framework_points: Counter = Counter()
            for ind in inds:
                mx = float(ind["max_points"])
                den = rng.randrange(0, 500)
                num = min(den, rng.randrange(0, 500) + bump)
                applicable = den > 0
                value = round(num / den, 6) if applicable else None
                pts = round(mx * (value or 0), 4)
                rows["fct"].append(
                    (basis, ind["indicator_code"], u.code, u.valid_from, scope, ptype, ps, pe, ind["framework"],
                     ind["group_code"], num, den, value, pts, mx, applicable, evaluated)
                )  # fmt: skip
                framework_points[ind["framework"]] += pts
                if ind["framework"] == "QD766":
                    groups[ind["group_code"]] += pts
            total = round(sum(groups.values()), 4)
            g = [round(groups[k], 4) for k in ("CKMB", "TDGQ", "CLGQ", "MDSH", "TTTT", "MDHL")]
            rows["score"].append((basis, u.code, u.valid_from, scope, ptype, ps, pe, *g, total, "Khá", evaluated))
            ranking = Counter()
            for w in weights:
                ranking[w["ranking_code"]] += float(w["multiplier"]) * framework_points[w["component_code"]]
            for code in ("QD766", "CDS"):
                rows["ranking"].append((basis, code, u.code, u.valid_from, scope, ptype, ps, pe,
                                        round(ranking[code], 4), max_score[code]))  # fmt: skip
            scores[(u.code, scope)] = (round(ranking["QD766"], 4), round(ranking["CDS"], 4))
        for group, utype, scope in (("SO_NGANH", "SO_NGANH", "unit"), ("HUYEN", "UBND_HUYEN", "area"),
                                    ("XA", "UBND_XA", "unit")):  # fmt: skip
            members = [u for u, s in alive if u.type == utype and s == scope and u.valid_on(evaluated)]
            for ranking, i in (("QD766", 0), ("CDS", 1)):
                for u in members:
                    sc = scores[(u.code, scope)][i]
                    rank = 1 + sum(1 for o in members if scores[(o.code, scope)][i] > sc)
                    rows["rank"].append((basis, ranking, ptype, ps, group, u.code, u.valid_from, pe, u.name, sc, rank,
                                         len(members), None, None))  # fmt: skip
    conn.execute("DROP TABLE IF EXISTS marts.dim_units, marts.bridge_unit_succession, marts.dim_periods,"
                 " marts.fct_indicator_values, marts.rpt_qd766_scores, marts.rpt_ranking_scores,"
                 " marts.rpt_unit_rankings, marts.rpt_dossier_report")  # fmt: skip
    conn.execute(MARTS_DDL)
    conn.execute(MARTS_EXTRA)
    for key, table in (("dim", "dim_units"), ("fct", "fct_indicator_values"), ("score", "rpt_qd766_scores"),
                       ("ranking", "rpt_ranking_scores"), ("rank", "rpt_unit_rankings"),
                       ("dossier", "rpt_dossier_report")):  # fmt: skip
        _copy(conn, table, rows[key])
    _copy(conn, "dim_periods", dim_periods_rows(START, END))  # every day loaded: the exporter reads is_complete
    conn.execute("ANALYZE marts.fct_indicator_values, marts.rpt_qd766_scores, marts.rpt_ranking_scores,"
                 " marts.rpt_unit_rankings, marts.rpt_dossier_report, marts.dim_units")  # fmt: skip
    return {k: len(v) for k, v in rows.items()}


def serve(port: int) -> None:
    """Child process: the simulator's national receiver, no faults."""
    import uvicorn

    from chiso_simulator.national import create_app

    uvicorn.run(create_app(TOKEN), host="127.0.0.1", port=port, log_level="warning", access_log=False)


class StatementCounter:
    """Counts SQL statements sent by psycopg (execute / executemany / stream calls; an executemany is one pipelined
    round trip) while active."""

    def __init__(self) -> None:
        self.n = 0
        self._saved: list = []

    def __enter__(self) -> StatementCounter:
        import psycopg

        for cls, name in ((psycopg.Cursor, "execute"), (psycopg.Cursor, "executemany"), (psycopg.Cursor, "stream")):
            orig = getattr(cls, name)
            self._saved.append((cls, name, orig))

            def wrapped(cur, *a, _orig=orig, **kw):
                self.n += 1
                return _orig(cur, *a, **kw)

            setattr(cls, name, wrapped)
        return self

    def __exit__(self, *exc) -> None:
        for cls, name, orig in self._saved:
            setattr(cls, name, orig)


def main() -> int:
    sys.path.insert(0, str(REPO / "src"))
    import httpx
    import psycopg

    from chiso.export import runner
    from chiso.settings import Settings
    from chiso.stack import credentials, postgres

    pg_port = int(os.environ.get("CHISO_BENCH_PG_PORT", "8631"))
    rcv_port = int(os.environ.get("CHISO_BENCH_RECEIVER_PORT", "8632"))
    home = Path(tempfile.mkdtemp(prefix="chiso-bench-export-"))
    os.chmod(home, 0o755)  # noqa: S103 (the postgres OS user must reach its data dir)
    settings = Settings(home=home, pg_port=pg_port)
    creds = credentials.load(home)
    proc = None
    try:
        postgres.ensure_running(settings, creds)
        uri = postgres.uri(settings, "chiso_loader", creds[postgres.ROLES["chiso_loader"]])
        t_uri = postgres.uri(settings, "chiso_transformer", creds[postgres.ROLES["chiso_transformer"]])
        with psycopg.connect(t_uri, autocommit=True) as conn:
            counts = build_marts(conn)
        proc = mp.get_context("spawn").Process(target=serve, args=(rcv_port,), daemon=True)
        proc.start()
        url = f"http://127.0.0.1:{rcv_port}"
        wait_healthy(url, "receiver")
        out = home / "exports"

        phases: Counter = Counter()

        def timed(name: str, fn):
            def wrapper(*a, **kw):
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    phases[name] += time.perf_counter() - t

            return wrapper

        runner._prepare_all = timed("build+store", runner._prepare_all)
        runner._send_all = timed("send", runner._send_all)

        def run(run_id: str, profile: bool = False) -> tuple[float, int, runner.ExportSummary]:
            phases.clear()
            profiler = cProfile.Profile() if profile else None
            with StatementCounter() as sc:
                t0 = time.perf_counter()
                if profiler:
                    profiler.enable()
                summary = runner.run_exports(uri, url, TOKEN, out, today=TODAY, run_id=run_id)
                if profiler:
                    profiler.disable()
                secs = time.perf_counter() - t0
            if profiler:
                dump = os.environ.get("CHISO_BENCH_PROFILE", "")
                if dump.endswith(".prof"):
                    profiler.dump_stats(dump)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
            if not summary.ok:
                raise RuntimeError(summary.describe())
            split[run_id] = ", ".join(f"{k} {v:.2f}s" for k, v in phases.items())
            return secs, sc.n, summary

        split: dict[str, str] = {}

        first, n1, s1 = run("bench-first", profile=bool(os.environ.get("CHISO_BENCH_PROFILE")))
        second, n2, s2 = run("bench-unchanged")
        with psycopg.connect(t_uri, autocommit=True) as conn:
            build_marts(conn, restated=date(2025, 3, 20))
        third, n3, s3 = run("bench-restated")

        received = httpx.get(f"{url}/_sim/received", timeout=30).json()
        with psycopg.connect(uri) as conn:
            doc_bytes, items, figures = conn.execute(
                "SELECT avg(octet_length(document_text))::bigint, avg(jsonb_array_length(document->'duLieu'))::int,"
                " sum((SELECT sum(jsonb_array_length(i->'chiTieu')) FROM jsonb_array_elements(document->'duLieu') i))"
                " FROM exports.submissions"
            ).fetchone()
        docs = len(s1.accepted)
        by_report = Counter(s["report"] for s in s1.accepted)
        print(f"window {START}..{END}, today {TODAY}; {os.cpu_count()} CPUs; receiver: chiso_simulator.national "
              f"(child process, validates each document)")  # fmt: skip
        print("marts rows: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        print(f"documents: {docs} ({', '.join(f'{k} {v}' for k, v in sorted(by_report.items()))}), "
              f"{items} items (unit x scope) each, {figures} figures in all, {doc_bytes / 1024:.0f} KiB JSON each "
              f"(+ an XLSX copy each)")  # fmt: skip
        print(f"first run       {first:7.2f}s  {docs / first:6.1f} documents/s  {n1:5d} SQL statements"
              f"  (build, store JSON+XLSX, send, all {docs} accepted)")  # fmt: skip
        print(f"  of which {split['bench-first']} (send: one HTTP request and one SQL statement per document)")
        print(f"unchanged run   {second:7.2f}s  {s2.unchanged:3d} unchanged, {len(s2.accepted)} sent"
              f"        {n2:5d} SQL statements")  # fmt: skip
        print(f"restated day    {third:7.2f}s  {len(s3.created):3d} new revisions sent, {s3.unchanged} unchanged"
              f"  {n3:5d} SQL statements")  # fmt: skip
        print(f"receiver holds {len(received)} documents (= {docs} + {len(s3.created)} revisions)")
        ok = first <= GOAL_SECONDS and len(received) == docs + len(s3.created)
        print(f"first run {first:.1f}s for {docs} documents / goal {GOAL_SECONDS:.0f}s: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.join(10)
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
