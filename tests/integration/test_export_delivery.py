"""Exports end to end: marts → documents → the receiver simulator over real HTTP, with faults.

The receiver runs with uvicorn on a free loopback port in a thread, so timeouts are real timeouts.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from test_export_marts import PROVINCE, build_marts

from chiso.export import build, runner
from chiso.export.periods import BIEU_06, CHI_SO_CDS, Period, complete_periods, is_due
from chiso.export.schema import validation_errors
from chiso.export.xlsx import read_items
from chiso_simulator.national import create_app

pytestmark = pytest.mark.postgres

TOKEN = "test-token-xyz"
START, END = date(2024, 1, 1), date(2024, 7, 3)
TODAY = date(2024, 7, 5)
FAST = runner.RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_retry_after=5, timeout=0.6)
COMMUNE = "000.12.31.H26"


class Receiver:
    def __init__(self, faults: dict | None = None) -> None:
        self.app = create_app(TOKEN, faults=faults)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def received(self) -> list[dict]:
        return httpx.get(f"{self.url}/_sim/received").json()

    def faults(self, config: dict) -> None:
        httpx.post(f"{self.url}/_sim/faults", json=config).raise_for_status()

    def injected(self) -> dict:
        return httpx.get(f"{self.url}/_sim/faults").json()["injected"]


@pytest.fixture
def marts(fresh_schema):
    def make(**kw):
        with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
            build_marts(conn, START, END, **kw)

    make()
    return make


def _run(wh, rcv: Receiver, out: Path, run_id: str, **kw) -> runner.ExportSummary:
    return runner.run_exports(
        wh.uri("chiso_loader"), rcv.url, TOKEN, out, today=TODAY, run_id=run_id, policy=FAST, sleep=lambda s: None, **kw
    )


def _until_settled(wh, rcv, out, max_runs: int = 10) -> list[runner.ExportSummary]:
    runs = []
    for i in range(max_runs):
        runs.append(_run(wh, rcv, out, f"run-{i}"))
        if not runs[-1].pending:
            return runs
    raise AssertionError(f"still pending after {max_runs} runs: {runs[-1].describe()}")


def _submissions(wh) -> list[dict]:
    with wh.connect("chiso_loader") as conn:
        cur = conn.execute("SELECT * FROM exports.submissions ORDER BY submission_id")
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _attempt_outcomes(wh) -> Counter:
    with wh.connect("chiso_loader") as conn:
        return Counter(dict(conn.execute("SELECT outcome, count(*) FROM exports.submission_attempts GROUP BY 1")))


def _expected_periods(wh) -> set[tuple[str, str, date]]:
    with wh.connect("chiso_loader") as conn:
        ps = build.mart_periods(conn)
    return {(p.report, p.period_type, p.period_start) for p in complete_periods(ps) if is_due(p, TODAY)}


def test_six_month_backfill_with_transient_faults_delivers_each_document_once(marts, warehouse, tmp_path):
    faults = {
        "rate": 0.3,
        "seed": 7,
        "retry_after": 0,
        "slow_seconds": 1.0,
        "kinds": {"429": 1, "500": 1, "502": 1, "503": 1, "timeout": 1, "lost_503": 2, "lost_timeout": 2},
    }
    with Receiver(faults) as rcv:
        runs = _until_settled(warehouse, rcv, tmp_path)
        received = rcv.received()
        injected = rcv.injected()

        # The due periods: 5 monthly windows (15/1→14/2 … 15/5→14/6) + Q2 window; Jan–Jun + Q1, Q2.
        expected = _expected_periods(warehouse)
        assert Counter(r for r, _, _ in expected) == {BIEU_06: 6, CHI_SO_CDS: 8}
        subs = _submissions(warehouse)
        assert {(s["report_code"], s["period_type"], s["period_start"]) for s in subs} == expected
        assert all(s["status"] == "accepted" and s["revision"] == 1 for s in subs)

        # Exactly one accepted document per report, period and revision, and it is the stored one.
        keys = Counter(
            (
                d["baoCao"]["maBaoCao"],
                d["baoCao"]["kyBaoCao"]["tuNgay"],
                d["baoCao"]["kyBaoCao"]["loaiKy"],
                d["baoCao"]["lanGui"],
            )
            for d in received
        )
        assert len(received) == len(subs) == 14 and set(keys.values()) == {1}
        by_receipt = {d["maTiepNhan"]: d for d in received}
        for s in subs:
            got = by_receipt[s["receipt"]]
            assert got["idempotencyKey"] == str(s["idempotency_key"])
            assert got["baoCao"] == s["document"] == json.loads(s["document_text"])
            assert validation_errors(got["baoCao"]) == []

        # The faults really happened, including answers lost after acceptance, and were recovered by
        # resending the same document under the same key (200, same receipt).
        assert sum(injected.values()) >= 4 and injected["lost_503"] + injected["lost_timeout"] >= 1
        outcomes = _attempt_outcomes(warehouse)
        assert outcomes["transient"] >= 4 and outcomes["already_accepted"] >= 1
        assert outcomes["accepted"] + outcomes["already_accepted"] == 14
        assert sum(len(r.accepted) for r in runs) == 14

        # A further run sends nothing: unchanged periods are never re-sent.
        before = sum(outcomes.values())
        again = _run(warehouse, rcv, tmp_path, "run-again")
        assert again.ok and not again.created and not again.accepted and again.unchanged == 14
        assert sum(_attempt_outcomes(warehouse).values()) == before
        assert len(rcv.received()) == 14

    # Files: one JSON and one XLSX per submission; the XLSX reads back as the JSON's figures.
    for s in subs:
        doc = json.loads(Path(s["json_path"]).read_text(encoding="utf-8"))
        assert doc == s["document"]
        report, items = read_items(Path(s["xlsx_path"]))
        assert report == s["report_code"]
        assert items == doc["duLieu"]


def test_restated_day_creates_one_new_revision_for_affected_periods_only(marts, warehouse, tmp_path):
    with Receiver() as rcv:
        _until_settled(warehouse, rcv, tmp_path)
        first = {(s["report_code"], s["period_type"], s["period_start"]): s for s in _submissions(warehouse)}

        day = date(2024, 3, 20)
        marts(overrides={(COMMUNE, day): {"online": 50, "synced": 10}})
        summary = _run(warehouse, rcv, tmp_path, "restated")
        assert summary.ok, summary.describe()

        affected = {k for k, s in first.items() if s["period_start"] <= day <= s["period_end"]}
        assert affected == {
            (BIEU_06, "report_month", date(2024, 3, 15)),
            (BIEU_06, "report_quarter", date(2024, 3, 15)),
            (CHI_SO_CDS, "month", date(2024, 3, 1)),
            (CHI_SO_CDS, "quarter", date(2024, 1, 1)),
        }
        subs = _submissions(warehouse)
        new = [s for s in subs if s["revision"] == 2]
        assert {(s["report_code"], s["period_type"], s["period_start"]) for s in new} == affected
        assert len(subs) == len(first) + len(affected)
        assert all(s["status"] == "accepted" for s in subs)
        for s in new:
            old = first[(s["report_code"], s["period_type"], s["period_start"])]
            assert s["idempotency_key"] != old["idempotency_key"]
            assert s["document"]["lanGui"] == 2
            changed = {(c["maDinhDanh"], c["phamVi"], c["ma"]) for c in s["changes"]}
            if s["report_code"] == BIEU_06:
                assert (COMMUNE, "DON_VI", "TIEP_NHAN_TRUC_TUYEN") in changed
                assert (PROVINCE, "DIA_BAN", "TIEP_NHAN_TONG") in changed
                assert all(c[0] in (COMMUNE, PROVINCE, "000.00.12.H26") for c in changed)
            else:
                assert (COMMUNE, "DON_VI", "QD766.CKMB.DOSSIER_SYNC") in changed
            for c in s["changes"]:
                assert c["cu"] != c["moi"]

        received = rcv.received()
        assert len(received) == len(subs)
        assert Counter(d["baoCao"]["lanGui"] for d in received) == {1: len(first), 2: len(affected)}

        # Settled: another run sends nothing more.
        again = _run(warehouse, rcv, tmp_path, "after")
        assert not again.created and not again.accepted and len(rcv.received()) == len(subs)


def test_conflict_409_is_not_retried_and_resend_goes_as_next_revision(marts, warehouse, tmp_path):
    with Receiver() as rcv:
        # Someone already used the key of revision 1 of March 2024 for another document.
        period = Period(CHI_SO_CDS, "month", date(2024, 3, 1), date(2024, 3, 31))
        key = runner.idempotency_key(period.report, period.period_type, period.period_start, PROVINCE, 1)
        with warehouse.connect("chiso_loader") as conn:
            other = build.finalize(build.build_document(conn, period), 1, build.datetime(2024, 4, 2, tzinfo=build.TZ))
        other["duLieu"] = other["duLieu"][:1]
        r = httpx.post(
            f"{rcv.url}/api/v1/bao-cao",
            content=json.dumps(other),
            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": str(key)},
        )
        assert r.status_code == 201

        summary = _run(warehouse, rcv, tmp_path, "r1")
        assert [s["period_start"] for s in summary.failed] == ["2024-03-01"]
        failed = summary.failed[0]
        assert "409" in failed["error"] and "Idempotency-Key" in failed["error"]
        assert not summary.ok and "bị từ chối" in summary.describe()
        with warehouse.connect("chiso_loader") as conn:
            n_attempts = conn.execute(
                "SELECT count(*) FROM exports.submission_attempts WHERE submission_id = %s",
                (failed["submission_id"],),
            ).fetchone()[0]
        assert n_attempts == 1

        # The next run does not try again; the refusal stays visible.
        again = _run(warehouse, rcv, tmp_path, "r2")
        assert [s["submission_id"] for s in again.blocked] == [failed["submission_id"]]
        assert not again.accepted and not again.created

        shown = runner.show_document(warehouse.uri("chiso_loader"), failed["submission_id"])
        assert shown["status"] == "failed_permanent" and shown["attempts_log"][0]["outcome"] == "conflict"

        result = runner.resend(
            warehouse.uri("chiso_loader"), rcv.url, TOKEN, failed["submission_id"], out_dir=tmp_path, policy=FAST
        )
        assert result["ok"] and result["action"] == "new_revision" and result["revision"] == 2
        final = _run(warehouse, rcv, tmp_path, "r3")
        assert final.ok, final.describe()

        # Resending an accepted submission only verifies it (200, same receipt).
        check = runner.resend(warehouse.uri("chiso_loader"), rcv.url, TOKEN, result["submission_id"], out_dir=tmp_path)
        assert check["ok"] and check["action"] == "verified" and check["http_status"] == 200


def test_invalid_document_is_refused_clearly_and_rebuilt_once_figures_are_fixed(
    marts, warehouse, tmp_path, monkeypatch
):
    marts(bad_numerator=True)  # negative numerators: the documents violate the schema (tuSo >= 0)
    with Receiver() as rcv:
        # Our own check refuses first: nothing goes out.
        summary = _run(warehouse, rcv, tmp_path, "local", reports=(CHI_SO_CDS,))
        assert summary.failed == [] and len(summary.blocked) == 8
        assert all("không hợp lệ theo lược đồ" in s["error"] and "tuSo" in s["error"] for s in summary.blocked)
        assert rcv.received() == [] and _attempt_outcomes(warehouse) == {"not_sent": 8}

        # Past our check (as if it had a bug), the receiver's 422 is final, with its Vietnamese reasons.
        with warehouse.connect("chiso_loader", autocommit=True) as conn:
            conn.execute("DELETE FROM exports.submission_attempts")
            conn.execute("DELETE FROM exports.submissions")
        monkeypatch.setattr(runner, "validation_errors", lambda doc: [])
        summary = _run(warehouse, rcv, tmp_path, "remote", reports=(CHI_SO_CDS,))
        assert len(summary.failed) == 8 and not summary.accepted
        err = summary.failed[0]["error"]
        assert err.startswith("Tài liệu không hợp lệ (422)") and "tuSo" in err and "lớn hơn hoặc bằng 0" in err
        assert _attempt_outcomes(warehouse) == {"invalid": 8}
        assert not _run(warehouse, rcv, tmp_path, "remote-2", reports=(CHI_SO_CDS,)).accepted
        assert _attempt_outcomes(warehouse) == {"invalid": 8}  # not retried blindly

        # Once the figures are corrected, the same revision is rebuilt under the same key and accepted.
        keys = {s["submission_id"]: s["idempotency_key"] for s in _submissions(warehouse)}
        marts()
        fixed = _run(warehouse, rcv, tmp_path, "fixed", reports=(CHI_SO_CDS,))
        assert fixed.ok, fixed.describe()
        subs = _submissions(warehouse)
        assert {s["submission_id"]: s["idempotency_key"] for s in subs} == keys
        assert all(s["status"] == "accepted" and s["revision"] == 1 for s in subs)
        assert len(rcv.received()) == 8


def test_two_concurrent_runs_do_not_double_send(marts, warehouse, tmp_path):
    with Receiver({"rate": 0.2, "seed": 3, "retry_after": 0, "kinds": {"503": 1}}) as rcv:
        results: list = []

        def go(i: int) -> None:
            results.append(_run(warehouse, rcv, tmp_path / str(i), f"parallel-{i}"))

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(results) == 2
        _until_settled(warehouse, rcv, tmp_path)
        received = rcv.received()
        assert len(received) == 14 == len(_submissions(warehouse))
        assert sum(len(r.created) for r in results) == 14
        assert _attempt_outcomes(warehouse)["conflict"] == 0


def test_due_dates_follow_cut_off_and_period_end(marts, warehouse, tmp_path):
    with Receiver() as rcv:
        s = runner.run_exports(
            warehouse.uri("chiso_loader"),
            rcv.url,
            TOKEN,
            tmp_path,
            today=date(2024, 3, 14),
            run_id="early",
            policy=FAST,
        )
        got = {(d["baoCao"]["maBaoCao"], d["baoCao"]["kyBaoCao"]["denNgay"]) for d in rcv.received()}
        # On 14/3 the window closing that day is not due yet, February (calendar) is.
        assert (BIEU_06, "2024-03-14") not in got and (BIEU_06, "2024-02-14") in got
        assert (CHI_SO_CDS, "2024-02-29") in got and (CHI_SO_CDS, "2024-03-31") not in got
        assert s.ok
        runner.run_exports(
            warehouse.uri("chiso_loader"),
            rcv.url,
            TOKEN,
            tmp_path,
            today=date(2024, 3, 15),
            run_id="cutoff",
            policy=FAST,
        )
        got = {(d["baoCao"]["maBaoCao"], d["baoCao"]["kyBaoCao"]["denNgay"]) for d in rcv.received()}
        assert (BIEU_06, "2024-03-14") in got
        bieu = [d["baoCao"] for d in rcv.received() if d["baoCao"]["kyBaoCao"]["denNgay"] == "2024-03-14"]
        assert bieu[0]["kyBaoCao"] == {
            "loaiKy": "THANG",
            "nam": 2024,
            "so": 3,
            "tuNgay": "2024-02-15",
            "denNgay": "2024-03-14",
        }
        assert bieu[0]["duLieu"][0]["maDinhDanh"] == PROVINCE and bieu[0]["duLieu"][0]["phamVi"] == "DIA_BAN"
        assert {(i["maDinhDanh"], i["phamVi"]) for i in bieu[0]["duLieu"]} >= {(PROVINCE, "DON_VI")}
        assert (date(2024, 3, 14) - timedelta(days=0)).isoformat() == bieu[0]["kyBaoCao"]["denNgay"]


def test_only_periods_dim_periods_calls_complete_are_sent(fresh_schema, tmp_path):
    """The exporter reads marts.dim_periods.is_complete and infers nothing from the facts: loaded 1/1–30/6 but the
    day 20/5 never loaded, so May, Q2 and the windows holding 20/5 are not sent although the facts hold them, each
    evaluated to its end."""
    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        build_marts(conn, date(2024, 1, 1), date(2024, 6, 30), missing=frozenset({date(2024, 5, 20)}))
    with fresh_schema.connect("chiso_loader") as conn:
        periods = build.mart_periods(conn)
    assert ("month", date(2024, 5, 1)) in {(p.period_type, p.period_start) for p in periods}
    done = {(p.period_type, p.period_start) for p in complete_periods(periods)}
    # By hand: months 1–4 and 6, Q1; Decree 09 windows 15/1–14/2 … 15/4–14/5 (15/12–14/1 starts before the data,
    # 15/5–14/6 holds 20/5); no half-year, nine months or year.
    assert done == {
        *(("month", date(2024, m, 1)) for m in (1, 2, 3, 4, 6)),
        ("quarter", date(2024, 1, 1)),
        *(("report_month", date(2024, m, 15)) for m in (1, 2, 3, 4)),
    }
    with Receiver() as rcv:
        s = runner.run_exports(
            fresh_schema.uri("chiso_loader"), rcv.url, TOKEN, tmp_path, today=TODAY, run_id="gap", policy=FAST
        )
        sent = {(d["baoCao"]["maBaoCao"], d["baoCao"]["kyBaoCao"]["tuNgay"]) for d in rcv.received()}
    assert s.ok and s.due_periods == len(done)
    assert sent == {(BIEU_06 if t.startswith("report_") else CHI_SO_CDS, ps.isoformat()) for t, ps in done}


def test_every_built_document_is_valid(marts, warehouse):
    with warehouse.connect("chiso_loader") as conn:
        periods = build.mart_periods(conn)
        assert len(periods) > 20
        for p in periods:
            doc = build.finalize(build.build_document(conn, p), 1, build.datetime.now(build.TZ))
            assert validation_errors(doc) == [], (p, validation_errors(doc)[:3])
            items = [(i["maDinhDanh"], i["phamVi"]) for i in doc["duLieu"]]
            assert items[0] == (PROVINCE, "DIA_BAN") and doc["donViBaoCao"]["maDinhDanh"] == PROVINCE
            assert len(items) == len(set(items)) == 8  # 6 units on their own + province and district territory
            if p.report == CHI_SO_CDS:
                codes = {c["ma"] for c in doc["duLieu"][0]["chiTieu"]}
                assert {"QD766.TDGQ.ON_TIME", "EDOC.OUTGOING_SIGNED", build.QD766_TOTAL, build.CDS_TOTAL} <= codes
                ranked = [c for i in doc["duLieu"] for c in i["chiTieu"] if "xepHang" in c]
                assert ranked and all(c["ma"] in (build.QD766_TOTAL, build.CDS_TOTAL) for c in ranked)


def test_cli_run_list_show_resend(marts, warehouse, tmp_path, monkeypatch, capsys):
    from chiso.cli import main

    with Receiver() as rcv:
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_DB", warehouse.uri("chiso_loader"))
        monkeypatch.setenv(
            "AIRFLOW_CONN_NATIONAL_REPORT_API",
            json.dumps(
                {"conn_type": "http", "host": "127.0.0.1", "port": rcv.port, "schema": "http", "password": TOKEN}
            ),
        )
        monkeypatch.setenv("CHISO_EXPORTS_DIR", str(tmp_path))
        assert main(["exports", "run", "--today", "2024-04-01", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["ok"] and len(summary["accepted"]) == len(rcv.received()) > 0

        assert main(["exports", "list", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert len(rows) == len(summary["accepted"]) and {r["status"] for r in rows} == {"accepted"}
        assert main(["exports", "list"]) == 0
        assert "đã tiếp nhận" in capsys.readouterr().out

        sid = rows[0]["submission_id"]
        assert main(["exports", "show", str(sid)]) == 0
        out = capsys.readouterr().out
        assert "Các lần gửi (1)" in out and rows[0]["receipt"] in out
        assert main(["exports", "show", str(sid), "--document"]) == 0
        assert json.loads(capsys.readouterr().out)["lanGui"] == 1
        assert main(["exports", "resend", str(sid)]) == 0
        assert "cùng mã tiếp nhận" in capsys.readouterr().out
        assert main(["exports", "show", "999999"]) == 1
        assert len(rcv.received()) == len(rows)
