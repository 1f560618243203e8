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
