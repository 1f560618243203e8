"""Exports in bulk: the SQL a run sends does not grow with the number of documents (issue 11).

Not a timing test: it counts the statements psycopg sends (execute / executemany / stream calls; an
executemany is one pipelined round trip) while `run_exports` builds, stores and sends every due document of a
short window (14 documents) and of a long one (48 documents, across months, quarters, Decree 09 windows, the
half-year and the year, and both reports), and while it finds them all unchanged the next time.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest
from test_export_delivery import TOKEN, Receiver
from test_export_marts import build_marts

from chiso.export import build, runner
from chiso.export.periods import BIEU_06, CHI_SO_CDS

pytestmark = pytest.mark.pg

SHORT = (date(2024, 1, 1), date(2024, 7, 3), date(2024, 7, 5))  # data from, data to, today
LONG = (date(2024, 1, 1), date(2025, 6, 30), date(2025, 7, 15))


class Statements:
    """The SQL statements psycopg sends while active, by kind."""

    def __init__(self, monkeypatch) -> None:
        self.sent: list[str] = []
        for name in ("execute", "executemany", "stream"):
            orig = getattr(psycopg.Cursor, name)

            def wrapped(cur, query, *a, _orig=orig, **kw):
                self.sent.append(" ".join(str(query).split()))
                return _orig(cur, query, *a, **kw)

            monkeypatch.setattr(psycopg.Cursor, name, wrapped)

    def reset(self) -> None:
        self.sent = []

    @property
    def records(self) -> int:
        """Attempts recorded: one statement per HTTP attempt (the attempt and the new state, atomically)."""
        return sum(1 for q in self.sent if q.startswith("WITH s AS ( UPDATE exports.submissions"))

    @property
    def text_batches(self) -> int:
        return sum(1 for q in self.sent if q.startswith("SELECT submission_id, document_text"))

    def others(self) -> Counter:
        return Counter(
            q[:60]
            for q in self.sent
            if not q.startswith("WITH s AS ( UPDATE exports.submissions")
            and not q.startswith("SELECT submission_id, document_text")
        )


def _window(wh, rcv, tmp_path, window, stmts, name):
    start, end, today = window
    httpx.post(f"{rcv.url}/_sim/reset").raise_for_status()  # a new national system for each window
    with wh.connect("postgres", autocommit=True) as conn:
        conn.execute("TRUNCATE exports.submission_attempts, exports.submissions RESTART IDENTITY")
    with wh.connect("chiso_transformer", autocommit=True) as conn:
        build_marts(conn, start, end)

    def run(run_id):
        stmts.reset()
        summary = runner.run_exports(
            wh.uri("chiso_loader"), rcv.url, TOKEN, tmp_path / name, today=today, run_id=run_id, sleep=lambda s: None
        )
        assert summary.ok, summary.describe()
        return summary, stmts.others(), stmts.records, stmts.text_batches

    return run(f"{name}-first"), run(f"{name}-again")


def test_statements_do_not_grow_with_the_number_of_documents(fresh_schema, tmp_path, monkeypatch):
    wh = fresh_schema
    stmts = Statements(monkeypatch)
    with Receiver() as rcv:
        (short, short_sql, short_records, short_batches), (short_again, short_again_sql, *_) = _window(
            wh, rcv, tmp_path, SHORT, stmts, "short"
        )
        rcv_count = len(rcv.received())
        (long, long_sql, long_records, long_batches), (long_again, long_again_sql, *_) = _window(
            wh, rcv, tmp_path, LONG, stmts, "long"
        )

    n_short, n_long = len(short.accepted), len(long.accepted)
    assert n_short == rcv_count == 14
    assert n_long == 48 and len(long.created) == 48
    kinds = Counter((s["report"], s["period_type"]) for s in long.accepted)
    assert {r for r, _ in kinds} == {BIEU_06, CHI_SO_CDS}
    assert {t for _, t in kinds} >= {"month", "quarter", "year", "report_month", "report_quarter", "report_half"}

    # Building, comparing and storing: the same statements for 48 documents as for 14.
    assert long_sql == short_sql, (long_sql - short_sql, short_sql - long_sql)
    assert sum(long_sql.values()) <= 25
    # Sending: one statement per HTTP attempt (no faults: one attempt a document), texts read in batches.
    assert (short_records, long_records) == (n_short, n_long)
    assert (short_batches, long_batches) == tuple(math.ceil(n / runner.SEND_BATCH) for n in (n_short, n_long))
    # Nothing changed: every document rebuilt and compared, with as many statements as for 14.
    assert short_again.unchanged == 14 and long_again.unchanged == 48
    assert not long_again.created and not long_again.accepted
    assert long_again_sql == short_again_sql and sum(long_again_sql.values()) <= 17  # 16 + the reporting province

    # What was stored is what was sent: the canonical text (not PostgreSQL's rendering of the jsonb).
    with wh.connect("chiso_loader") as conn:
        rows = conn.execute(
            "SELECT document, document_text, content_hash, json_path, xlsx_path FROM exports.submissions"
        ).fetchall()
    assert len(rows) == 48
    for document, text, content_hash, json_path, xlsx_path in rows:
        assert text == build.canonical(document) and content_hash == build.content_hash(document)
        assert json.loads(Path(json_path).read_text(encoding="utf-8")) == document and Path(xlsx_path).is_file()
        assert len(document["duLieu"]) == 8


def test_build_documents_reads_many_periods_in_a_fixed_number_of_queries(fresh_schema, monkeypatch):
    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        build_marts(conn, *LONG[:2])
    stmts = Statements(monkeypatch)
    with fresh_schema.connect("chiso_loader") as conn:
        periods = build.mart_periods(conn)
        assert len(periods) >= 48
        counts = []
        few = [p for p in periods if p.report == BIEU_06][:2] + [p for p in periods if p.report == CHI_SO_CDS][:2]
        for some in (few, periods):
            stmts.reset()
            docs = list(build.build_documents(conn, some))
            counts.append(len(stmts.sent))
            assert [p for p, _ in docs] == some
        # Each document equals the one built for its period alone.
        for p, doc in docs[::7]:
            assert doc == build.build_document(conn, p)
    assert counts[0] == counts[1] <= 5
