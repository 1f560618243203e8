"""Extract a 90-day backfill from the bundled simulator with injected faults (about 20% of responses
for the HTTP systems; late, partial, empty, re-delivered, wrong-encoding, xlsx and unknown-unit files
for the drop folder) and check the raw layer's latest views equal the simulator's truth, per day
and unit. Then a re-run of the same window adds nothing."""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
import uvicorn
from drill_support import report

from chiso.extract import edoc, esign, one_stop_shop
from chiso.extract.common import SourceConn
from chiso.extract.http import RetryPolicy
from chiso_simulator.apps import SimState, create_edoc_app, create_oss_app
from chiso_simulator.engine import TZ, Clock, SimConfig, Simulator
from chiso_simulator.esign_drop import write_esign_drop
from chiso_simulator.faults import FaultConfig

pytestmark = pytest.mark.postgres

START, END = date(2024, 1, 1), date(2024, 3, 30)
HTTP_FAULTS = {
    "rate_limit": 0.03,
    "server_error": 0.03,
    "timeout": 0.02,
    "token_expiry": 0.02,
    "truncated_json": 0.02,
    "invalid_json": 0.01,
    "repeat_page": 0.02,
    "negative_counts": 0.02,
    "unknown_unit": 0.01,
    "duplicate_key": 0.01,
    "schema_drift": 0.01,
}
FILE_FAULTS = {
    "late": 0.1,
    "partial": 0.1,
    "empty": 0.05,
    "redelivery": 0.1,
    "wrong_encoding": 0.05,
    "unknown_unit": 0.1,
    "xlsx": 0.1,
}
OSS_COUNTS = ["tiepNhanTrucTuyen", "tiepNhanTrucTiep", "daXuLyDungHan", "dangXuLyQuaHan", "thanhToanTrucTuyen"]


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


@pytest.fixture(scope="module")
def sim_state():
    clock = Clock()
    clock.set(datetime.combine(END + timedelta(days=12), datetime.min.time(), TZ).replace(hour=12))
    sim = Simulator(SimConfig(seed=7, scale=0.2), clock)
    faults = {
        "oss": FaultConfig(rates=dict(HTTP_FAULTS), seed=11, retry_after=1, timeout_seconds=5),
        "edoc": FaultConfig(rates=dict(HTTP_FAULTS), seed=12, retry_after=1, timeout_seconds=5),
        "esign": FaultConfig(rates=dict(FILE_FAULTS), seed=13),
    }
    return SimState.create(sim, faults)


def policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=2.0, timeout=1.5)


def sums(rows, day_key: str, unit_key: str, fields: list[str]) -> dict:
    out: dict = defaultdict(lambda: [0] * len(fields))
    for r in rows:
        acc = out[(str(r[day_key]), r[unit_key])]
        for i, f in enumerate(fields):
            acc[i] += r[f]
    return {k: tuple(v) for k, v in out.items()}


def query(wh, sql: str) -> list[dict]:
    with wh.connect() as conn, conn.cursor() as cur:
        cur.execute(sql)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_backfill_with_faults_lands_the_truth(fresh_schema, sim_state, tmp_path):
    wh = fresh_schema
    sim = sim_state.sim
    oss_app = create_oss_app(sim, "cid", "secret", state=sim_state)
    edoc_app = create_edoc_app(sim, "k3y", state=sim_state)
    with Served(oss_app) as oss_url, Served(edoc_app) as edoc_url:
        oss_conn = SourceConn(oss_url, "cid", "secret")
        edoc_conn = SourceConn(edoc_url, password="k3y")
        s1 = one_stop_shop.extract(oss_conn, wh.uri(), START, END, run_id="t", chunk_days=31, policy=policy())
        s2 = edoc.extract(edoc_conn, wh.uri(), START, END, run_id="t", chunk_days=31, policy=policy())
        injected = {k: v for k, v in sim_state.faults["oss"].injected.items() if v}
        assert len(injected) >= 6, injected  # the faults really happened

        # Units and procedures equal the register.
        units = {u["maDinhDanh"] for u in sim.units()}
        assert {r["ma_dinh_danh"] for r in query(wh, "SELECT ma_dinh_danh FROM raw.oss_units_latest")} == units
        assert len(query(wh, "SELECT 1 FROM raw.oss_procedures_latest")) == len(sim.procedures())

        # Daily dossier counts: totals per day and unit equal the truth.
        cols = ", ".join(
            f"sum({c}) AS {c}"
            for c in (
                "tiep_nhan_truc_tuyen",
                "tiep_nhan_truc_tiep",
                "da_xu_ly_dung_han",
                "dang_xu_ly_qua_han",
                "thanh_toan_truc_tuyen",
            )
        )
        got = query(wh, f"SELECT ngay, ma_dinh_danh, {cols} FROM raw.oss_dossier_daily_latest GROUP BY 1, 2")
        truth = sim.rows_between("dossier", START, END)
        assert sums(
            got,
            "ngay",
            "ma_dinh_danh",
            [
                "tiep_nhan_truc_tuyen",
                "tiep_nhan_truc_tiep",
                "da_xu_ly_dung_han",
                "dang_xu_ly_qua_han",
                "thanh_toan_truc_tuyen",
            ],
        ) == sums(truth, "ngay", "maDinhDanh", OSS_COUNTS)
        assert len(query(wh, "SELECT 1 FROM raw.oss_dossier_daily_latest")) == len(truth)
        pet = sim.rows_between("petition", START, END)
        got = query(wh, "SELECT * FROM raw.oss_petition_daily_latest")
        assert sums(got, "ngay", "ma_dinh_danh", ["tiep_nhan", "khong_hai_long", "dang_xu_ly_trong_han"]) == sums(
            pet, "ngay", "maDinhDanh", ["tiepNhan", "khongHaiLong", "dangXuLyTrongHan"]
        )
        docs = sim.rows_between("edoc", START, END)
        fields = ["incoming_total", "outgoing_signed", "work_files_online"]
        got = query(wh, "SELECT * FROM raw.edoc_documents_daily_latest")
        assert sums(got, "report_date", "org_code", fields) == sums(docs, "report_date", "org_code", fields)

        # The same window again: nothing new.
        again = one_stop_shop.extract(oss_conn, wh.uri(), START, END, run_id="t2", policy=policy())
        again_edoc = edoc.extract(edoc_conn, wh.uri(), START, END, run_id="t2", policy=policy())
        for s in (again, again_edoc):
            assert s["totals"]["rows_new_versions"] == 0 and s["totals"]["rows_deleted"] == 0, s["totals"]
    for s in (s1, s2):
        assert all(b["status"] == "succeeded" for b in s["batches"])
    assert len(s1["batches"]) == 2 + 2 * 3 and len(s2["batches"]) == 3


def test_drop_folder_backfill_lands_the_truth(fresh_schema, sim_state, tmp_path):
    wh = fresh_schema
    sim = sim_state.sim
    # The unit register first, so unknown units in files are recognised.
    with Served(create_oss_app(sim, "cid", "secret", state=SimState.create(sim))) as url:
        one_stop_shop.extract(SourceConn(url, "cid", "secret"), wh.uri(), START, START, entities=("units",))
    folder = tmp_path / "drop"
    cfg = sim_state.faults["esign"].config
    # Half-way through: some files are late, half-written or not yet re-delivered.
    write_esign_drop(sim, folder, START, END, now=datetime.combine(END, datetime.min.time(), TZ), faults=cfg)
    conn = SourceConn(extra={"path": str(folder)})
    esign.extract(conn, wh.uri(), START, END, run_id="t1")
    write_esign_drop(sim, folder, START, END, faults=cfg)  # everything due by the simulator's now
    s = esign.extract(conn, wh.uri(), START, END, run_id="t2")
    rejected = {
        r["file"] for r in query(wh, "SELECT source_file AS file FROM raw.esign_files WHERE status = 'rejected'")
    }
    bad_days = {date(int(f[-12:-8]), int(f[-8:-6]), int(f[-6:-4])) for f in rejected}
    assert rejected, "the fault mix includes wrong encodings"
    truth = [r for r in sim.rows_between("esign", START, END) if date.fromisoformat(r["report_date"]) not in bad_days]
    fields = ["personal_certs_active", "org_signatures", "personal_signatures", "remote_signatures"]
    got = query(wh, "SELECT * FROM raw.esign_signatures_daily_latest")
    assert sums(got, "report_date", "ma_dinh_danh", fields) == sums(truth, "report_date", "ma_dinh_danh", fields)
    unknown = query(wh, "SELECT count(*) AS n FROM raw.quarantine WHERE reason LIKE '%%không có trong danh mục%%'")
    assert unknown[0]["n"] > 0
    # Nothing new the next time.
    assert esign.extract(conn, wh.uri(), START, END, run_id="t3")["batches"] == []
    assert s["batches"]


def test_backfill_then_daily_runs_land_late_corrections_despite_faults_and_token_expiry(fresh_schema):
    """Drill (scale.md): 20 % source faults + token expiry + late corrections during a 90-day backfill. The backfill
    runs the morning after its last day, when the corrections of the last days have not appeared yet; tokens live
    one second (they expire again and again, besides the injected mid-pagination 401s). Then six daily runs
    (yesterday plus the 7-day lookback, as the DAG schedules them) on six simulated days: every correction the
    source made meanwhile lands, and raw equals the source's truth at the last clock."""
    from chiso.extract.common import scheduled_window

    wh = fresh_schema
    clock = Clock()
    clock.set(datetime.combine(END + timedelta(days=1), datetime.min.time(), TZ).replace(hour=9))
    sim = Simulator(SimConfig(seed=5, scale=0.2), clock)
    state = SimState.create(sim, {"oss": FaultConfig(rates=dict(HTTP_FAULTS), seed=21, retry_after=1,
                                                     timeout_seconds=5),
                                  "edoc": FaultConfig(rates=dict(HTTP_FAULTS), seed=22, retry_after=1,
                                                      timeout_seconds=5)})
    fields = ["tiep_nhan_truc_tuyen", "da_xu_ly_dung_han", "dang_xu_ly_qua_han", "thanh_toan_truc_tuyen"]
    src_fields = ["tiepNhanTrucTuyen", "daXuLyDungHan", "dangXuLyQuaHan", "thanhToanTrucTuyen"]

    def truth(last: date) -> tuple[dict, dict]:
        return (sums(sim.rows_between("dossier", START, last), "ngay", "maDinhDanh", src_fields),
                sums(sim.rows_between("edoc", START, last), "report_date", "org_code", ["incoming_total"]))

    def landed() -> tuple[dict, dict]:
        cols = ", ".join(f"sum({c}) AS {c}" for c in fields)
        oss = query(wh, f"SELECT ngay, ma_dinh_danh, {cols} FROM raw.oss_dossier_daily_latest GROUP BY 1, 2")
        docs = query(wh, "SELECT report_date, org_code, incoming_total FROM raw.edoc_documents_daily_latest")
        return (sums(oss, "ngay", "ma_dinh_danh", fields),
                sums(docs, "report_date", "org_code", ["incoming_total"]))

    oss_app = create_oss_app(sim, "cid", "secret", token_ttl=1.0, state=state)
    with Served(oss_app) as oss_url, Served(create_edoc_app(sim, "k3y", state=state)) as edoc_url:
        oss_conn, edoc_conn = SourceConn(oss_url, "cid", "secret"), SourceConn(edoc_url, password="k3y")

        def extract(start: date, end: date, run_id: str) -> None:
            one_stop_shop.extract(oss_conn, wh.uri(), start, end, run_id=run_id, chunk_days=31, policy=policy())
            edoc.extract(edoc_conn, wh.uri(), start, end, run_id=run_id, chunk_days=31, policy=policy())

        t0 = time.monotonic()
        extract(START, END, "backfill")
        backfill_s = time.monotonic() - t0
        backfilled = truth(END)
        assert landed() == backfilled  # what the source served that morning
        last, t1 = END, time.monotonic()
        for day in range(1, 7):
            clock.set(datetime.combine(END + timedelta(days=day), datetime.min.time(), TZ).replace(hour=9))
            start, last = scheduled_window(END + timedelta(days=day))
            extract(start, last, f"daily-{day}")
        daily_s = time.monotonic() - t1
        final = truth(last)
        injected = {k: v for k, v in state.faults["oss"].injected.items() if v}
        requests = state.faults["oss"].rolls["rate_limit"]  # every request rolls for each kind
    assert truth(END) != backfilled, "no late correction arrived in the window: the drill tests nothing"
    assert landed() == final
    assert injected.get("token_expiry") and sum(injected.values()) >= 6, injected
    # The corrections came with the daily runs, as new versions (or tombstones) of days of the backfill.
    with wh.connect() as conn:
        corrected = conn.execute(
            "SELECT count(*) FROM raw.oss_dossier_daily r JOIN raw.load_audit a ON a.batch_id = r._batch_id"
            " WHERE a.run_id LIKE 'daily-%%' AND r.ngay <= %s", (END,)).fetchone()[0]
    assert corrected > 0
    changed = sum(truth_day != backfilled[0].get(k) for k, truth_day in truth_window(final[0], END).items())
    report(
        "faults_tokens_corrections",
        killed="nothing: the sources misbehave (20 % of HTTP requests faulted, tokens living 1 s, late corrections)",
        when=f"a backfill of {START}..{END} (one-stop shop + e-document, scale 0.2) the morning after, then 6 daily "
             "runs (yesterday + 7-day lookback) on 6 simulated days",
        recover=f"backfill {backfill_s:.1f}s, daily runs {daily_s:.1f}s in all; one-stop-shop faults injected "
                f"{sum(injected.values())} in {requests} requests: {injected}",
        outcome=f"raw latest equals the source's truth at the last clock, per day and unit ({len(final[0])} "
                f"dossier unit-days, {len(final[1])} e-document org-days); {changed} unit-days of the backfill "
                f"corrected after it, landed by the daily runs as {corrected} new versions/tombstones",
    )


def truth_window(by_day_unit: dict, last: date) -> dict:
    return {k: v for k, v in by_day_unit.items() if date.fromisoformat(str(k[0])) <= last}
