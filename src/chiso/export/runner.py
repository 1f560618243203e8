"""Exactly-once delivery of the national reports.

Every (report, period, reporting unit, revision) is one row of `exports.submissions` holding the exact
document and a deterministic Idempotency-Key. Retries (after a timeout, 429 or 5xx, in this run or a
later one) resend that same row: the receiver answers 200 with the first receipt if an earlier attempt
was accepted and its answer lost. Changed figures of an accepted period become revision n+1; unchanged
periods are never re-sent. One run at a time holds an advisory lock, so two runs cannot double-send.
Due: every period the marts evaluated to its end, past its cut-off, that ends on or after the day the province's
current committee began (`build.reporting_province`; across the 2025 reform, earlier periods were the predecessor
provinces' duty and are not sent again).

Work per run is set-based where it can be: every due period's document comes from one pass over the marts
(`build.build_documents`, a handful of queries in one snapshot), the latest revision of every period from one
query, new revisions are stored in batches (one pipelined statement each for rows, refusals and file paths);
sending costs one HTTP request and one SQL statement per attempt (the attempt and the new state, atomically),
over one keep-alive HTTP session.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from chiso.export import build
from chiso.export.client import ACCEPTED, PERMANENT, TRANSIENT, UNAUTHORIZED, AttemptResult, NationalClient
from chiso.export.periods import REPORTS, Period, complete_periods, is_due
from chiso.export.schema import validation_errors
from chiso.export.xlsx import write_xlsx
from chiso.warehouse.schema import require_head

try:  # pretty JSON copies without the pure-Python indenting encoder (see _pretty_json)
    import msgspec
except ImportError:  # pragma: no cover
    msgspec = None

log = logging.getLogger(__name__)

KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chiso:national-report")
# pg advisory lock id for "the export runner" (any constant bigint; derived so it is self-describing).
LOCK_ID = int(uuid.uuid5(KEY_NAMESPACE, "run-lock").int % (2**63 - 1))
# Consecutive submissions ending transient before the run stops hammering a receiver that is down.
CIRCUIT_BREAKER = 3
# New documents are stored in batches: the texts of a batch wait in memory (~0.6 MB a CHI_SO_CDS document of
# the demo province), flushed past this many bytes.
STORE_BATCH_BYTES = 64 * 2**20
# Pending documents' texts are read this many at a time when sending.
SEND_BATCH = 16
# Columns a run works with (not the documents): summaries, sending, states.
_ROW_COLS = (
    "submission_id, report_code, period_type, period_start, period_end, reporting_unit, revision, idempotency_key,"
    " status, receipt, http_status, error, attempts"
)


@dataclass
class RetryPolicy:
    max_attempts: int = 5  # per submission and run; what is left is resumed by the next run
    backoff_base: float = 1.0  # seconds, doubled per attempt
    backoff_max: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After leaves the submission to the next run
    timeout: float = 30.0  # HTTP timeout per attempt

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        base = min(self.backoff_max, self.backoff_base * 2**attempt)
        return base * (0.8 + 0.4 * random.random())  # jitter: runs in lockstep don't retry in lockstep


@dataclass
class ExportSummary:
    run_id: str
    today: date
    due_periods: int = 0
    unchanged: int = 0
    created: list[dict] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # became failed_permanent in this run
    blocked: list[dict] = field(default_factory=list)  # latest revision failed_permanent, awaiting an operator
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.pending or self.failed or self.blocked or self.errors)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["today"] = self.today.isoformat()
        d["ok"] = self.ok
        return d

    def describe(self) -> str:
        lines = [
            f"Xuất báo cáo quốc gia (run {self.run_id}, ngày {self.today}): {self.due_periods} kỳ đến hạn,"
            f" {len(self.created)} bản mới/sửa đổi, {len(self.accepted)} được tiếp nhận,"
            f" {self.unchanged} không đổi, {len(self.pending)} đang chờ gửi lại,"
            f" {len(self.failed) + len(self.blocked)} bị từ chối."
        ]
        for s in self.failed + self.blocked:
            lines.append(f"  - #{s['submission_id']} {s['label']} lần gửi {s['revision']}: {s['error']}")
        for s in self.pending:
            lines.append(f"  - #{s['submission_id']} {s['label']} lần gửi {s['revision']} chờ: {s['error']}")
        lines += [f"  - {e}" for e in self.errors]
        return "\n".join(lines)


class ReceiverUnauthorized(RuntimeError):
    pass


def idempotency_key(report: str, period_type: str, period_start: date, unit: str, revision: int) -> uuid.UUID:
    return uuid.uuid5(KEY_NAMESPACE, f"{report}|{period_type}|{period_start.isoformat()}|{unit}|{revision}")


def _label(row: dict) -> str:
    p = Period(row["report_code"], row["period_type"], row["period_start"], row["period_end"])
    return f"{p.report} {p.label_vi}"


def _brief(row: dict) -> dict:
    return {
        "submission_id": row["submission_id"],
        "report": row["report_code"],
        "period_type": row["period_type"],
        "period_start": row["period_start"].isoformat(),
        "revision": row["revision"],
        "status": row["status"],
        "receipt": row["receipt"],
        "error": row["error"],
        "label": _label(row),
    }


def _rows(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def _get(conn: psycopg.Connection, submission_id: int) -> dict:
    rows = _rows(conn, "SELECT * FROM exports.submissions WHERE submission_id = %s", (submission_id,))
    if not rows:
        raise LookupError(f"Không có bản gửi #{submission_id}")
    return rows[0]


def _last_outcome(conn: psycopg.Connection, submission_id: int) -> str | None:
    rows = _rows(
        conn,
        "SELECT outcome FROM exports.submission_attempts WHERE submission_id = %s ORDER BY attempt_no DESC LIMIT 1",
        (submission_id,),
    )
    return rows[0]["outcome"] if rows else None


class _Lock:
    """Session advisory lock: a second run waits for the first, then finds nothing left to send."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))

    def __exit__(self, *exc) -> None:
        self.conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))


def _files(out_dir: Path, period: Period, revision: int) -> tuple[Path, Path]:
    base = out_dir / period.report / f"{period.slug()}_lan{revision}"
    return base.with_suffix(".json"), base.with_suffix(".xlsx")


def _pretty_json(doc: dict) -> bytes:
    """The document indented for people, keys in the schema's order (json's indenting encoder is pure Python:
    ~0.2 s for a CHI_SO_CDS document; msgspec writes the same JSON value in milliseconds)."""
    if msgspec is not None:
        return msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n"
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(_pretty_json(doc))
    tmp.replace(path)


def _write_xlsx(path: Path, doc: dict, key: uuid.UUID, submission_id: int | None) -> None:
    meta: dict[str, Any] = {"Idempotency-Key": str(key)}
    if submission_id is not None:
        meta["submission_id"] = submission_id
    write_xlsx(doc, path, meta)


def _period_of(row: dict) -> Period:
    return Period(row["report_code"], row["period_type"], row["period_start"], row["period_end"])


@dataclass
class _Draft:
    """A document to store: a new revision, or a refused revision rewritten in place under its key."""

    period: Period
    unit: str
    revision: int
    replace_id: int | None
    key: uuid.UUID
    text: str  # canonical JSON: the exact bytes sent
    content_hash: str
    status: str
    error: str | None
    json_path: Path
    xlsx_path: Path
    changes: str | None = None  # JSON of build.figure_changes since the last accepted revision


def _draft(
    out_dir: Path,
    period: Period,
    figures: dict,
    encoded: build.Canonical,
    revision: int,
    *,
    replace_id: int | None = None,
) -> _Draft:
    """Revision `revision` of a period's figures: its document, checked, and its JSON copy written."""
    unit = figures["donViBaoCao"]["maDinhDanh"]
    doc = build.finalize(figures, revision, datetime.now(build.TZ))
    text = encoded.with_fields(lanGui=doc["lanGui"], thoiDiemLap=doc["thoiDiemLap"]).text
    problems = validation_errors(doc)
    status, error = "pending", None
    if problems:
        status = "failed_permanent"
        error = "Tài liệu không hợp lệ theo lược đồ, không gửi: " + "; ".join(
            f"{p['truong']}: {p['moTa']}" for p in problems[:20]
        )
    json_path, xlsx_path = _files(out_dir, period, revision)
    _write_json(json_path, doc)
    return _Draft(
        period,
        unit,
        revision,
        replace_id,
        idempotency_key(period.report, period.period_type, period.period_start, unit, revision),
        text,
        encoded.content_hash,
        status,
        error,
        json_path,
        xlsx_path,
    )


def _last_accepted_documents(conn: psycopg.Connection, drafts: list[_Draft]) -> dict[tuple, dict]:
    """(report, period type, start, unit) -> the document of its latest accepted revision, for the drafts."""
    keys = {(d.period.report, d.period.period_type, d.period.period_start, d.unit) for d in drafts}
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT ON (s.report_code, s.period_type, s.period_start, s.reporting_unit) s.report_code,"
        " s.period_type, s.period_start, s.reporting_unit, s.document FROM exports.submissions s"
        " JOIN unnest(%s::text[], %s::text[], %s::date[], %s::text[]) AS k(report_code, period_type, period_start,"
        " reporting_unit) USING (report_code, period_type, period_start, reporting_unit)"
        " WHERE s.status = 'accepted'"
        " ORDER BY s.report_code, s.period_type, s.period_start, s.reporting_unit, s.revision DESC",
        [list(x) for x in zip(*keys, strict=True)],
    ).fetchall()
    return {tuple(r[:4]): r[4] for r in rows}


# `%(text)s` is one parameter: typed text in both places, so document_text keeps the exact bytes (a parameter
# typed jsonb by its first use would store PostgreSQL's rendering of the jsonb instead).
_INSERT_SQL = (
    "INSERT INTO exports.submissions (report_code, period_type, period_start, period_end, reporting_unit, revision,"
    " idempotency_key, document, document_text, content_hash, changes, status, error, created_run_id)"
    " VALUES (%(report)s, %(type)s, %(start)s, %(end)s, %(unit)s, %(revision)s, %(key)s, %(text)s::text::jsonb,"
    " %(text)s::text,"
    " %(hash)s, %(changes)s::jsonb, %(status)s, %(error)s, %(run_id)s) RETURNING " + _ROW_COLS
)
_REWRITE_SQL = (
    "UPDATE exports.submissions SET document = %(text)s::text::jsonb, document_text = %(text)s::text,"
    " content_hash = %(hash)s,"
    " changes = %(changes)s::jsonb, status = %(status)s, error = %(error)s, http_status = NULL, updated_at = now()"
    " WHERE submission_id = %(id)s AND status = 'failed_permanent' RETURNING " + _ROW_COLS
)
_NOT_SENT_SQL = (
    "INSERT INTO exports.submission_attempts (submission_id, attempt_no, run_id, idempotency_key, content_sha256,"
    " started_at, finished_at, outcome, error) SELECT %(id)s, coalesce(max(attempt_no), 0) + 1, %(run_id)s, %(key)s,"
    " %(sha)s, %(now)s, %(now)s, 'not_sent', %(error)s FROM exports.submission_attempts WHERE submission_id = %(id)s"
)


def _returned(cur: psycopg.Cursor) -> list[dict]:
    """The row each statement of an `executemany(..., returning=True)` returned, in order."""
    out = []
    while True:
        out.append(cur.fetchone())
        if not cur.nextset():
            return out


def _store(conn: psycopg.Connection, drafts: list[_Draft], run_id: str) -> list[dict]:
    """Store the drafts (rows, then XLSX copies, then their paths); their rows in the drafts' order.

    A handful of statements for the whole batch: the last accepted documents (for `changes`), the rows (one
    pipelined statement for new revisions, one for rewrites, one for local refusals), the file paths."""
    if not drafts:
        return []
    previous = _last_accepted_documents(conn, [d for d in drafts if d.revision > 1])
    for d in drafts:
        old = previous.get((d.period.report, d.period.period_type, d.period.period_start, d.unit))
        if old is not None:
            d.changes = json.dumps(build.figure_changes(old, json.loads(d.text)), ensure_ascii=False)

    def params(d: _Draft) -> dict:
        p = d.period
        return {
            "report": p.report, "type": p.period_type, "start": p.period_start, "end": p.period_end,
            "unit": d.unit, "revision": d.revision, "key": d.key, "text": d.text, "hash": d.content_hash,
            "changes": d.changes, "status": d.status, "error": d.error, "run_id": run_id, "id": d.replace_id,
        }  # fmt: skip

    new = [d for d in drafts if d.replace_id is None]
    rewrites = [d for d in drafts if d.replace_id is not None]
    rows: dict[int, dict] = {}
    now = datetime.now(build.TZ)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if new:
            cur.executemany(_INSERT_SQL, [params(d) for d in new], returning=True)
            rows.update(zip(map(id, new), _returned(cur), strict=True))
        if rewrites:
            cur.executemany(_REWRITE_SQL, [params(d) for d in rewrites], returning=True)
            for d, row in zip(rewrites, _returned(cur), strict=True):
                # A rewrite only replaces a refusal; a row no longer refused is left alone (as before).
                rows[id(d)] = row or _rows(conn, f"SELECT {_ROW_COLS} FROM exports.submissions"
                                                 " WHERE submission_id = %s", (d.replace_id,))[0]  # fmt: skip
        refused = [d for d in drafts if d.status == "failed_permanent"]
        if refused:
            cur.executemany(
                _NOT_SENT_SQL,
                [
                    {
                        "id": rows[id(d)]["submission_id"], "run_id": run_id, "key": d.key, "now": now,
                        "sha": hashlib.sha256(d.text.encode()).hexdigest(), "error": d.error,
                    }  # fmt: skip
                    for d in refused
                ],
            )
    out = []
    for d in drafts:
        row = rows[id(d)]
        _write_xlsx(d.xlsx_path, json.loads(d.text), d.key, row["submission_id"])
        log.info("prepared submission %s: %s revision %s (%s)", row["submission_id"], d.period.slug(), d.revision,
                 d.status)  # fmt: skip
        out.append(row)
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE exports.submissions SET json_path = %s, xlsx_path = %s WHERE submission_id = %s",
            [(str(d.json_path), str(d.xlsx_path), rows[id(d)]["submission_id"]) for d in drafts],
        )
    return out


def _store_document(
    conn: psycopg.Connection,
    out_dir: Path,
    period: Period,
    figures: dict,
    revision: int,
    run_id: str,
    *,
    replace_id: int | None = None,
) -> int:
    """Create revision `revision` (or rewrite a refused one in place, same key) and its files."""
    draft = _draft(out_dir, period, figures, build.Canonical(figures), revision, replace_id=replace_id)
    return _store(conn, [draft], run_id)[0]["submission_id"]


# The latest revision of every (report, period, unit) and the outcome of its last attempt.
_LATEST_SQL = """
SELECT DISTINCT ON (s.report_code, s.period_type, s.period_start, s.reporting_unit)
    s.submission_id, s.report_code, s.period_type, s.period_start, s.reporting_unit, s.revision, s.status,
    s.content_hash,
    (SELECT a.outcome FROM exports.submission_attempts a WHERE a.submission_id = s.submission_id
     ORDER BY a.attempt_no DESC LIMIT 1) AS last_outcome
FROM exports.submissions s
ORDER BY s.report_code, s.period_type, s.period_start, s.reporting_unit, s.revision DESC
"""


def _prepare_all(
    conn: psycopg.Connection,
    marts: psycopg.Connection,
    out_dir: Path,
    due: list[Period],
    run_id: str,
    summary: ExportSummary,
) -> None:
    """Decide for every due period what it needs: nothing, a first revision, a correction, or a rewrite of a
    refusal; store what is new in batches. Documents are read from `marts` while `conn` stores them."""
    latest = {
        (r["report_code"], r["period_type"], r["period_start"], r["reporting_unit"]): r
        for r in _rows(conn, _LATEST_SQL)
    }
    drafts: list[_Draft] = []
    size = 0
    for period, figures in build.build_documents(marts, due):
        if isinstance(figures, build.BuildError):
            summary.errors.append(str(figures))
            continue
        unit = figures["donViBaoCao"]["maDinhDanh"]
        encoded = build.Canonical(figures)
        h = encoded.content_hash
        last = latest.get((period.report, period.period_type, period.period_start, unit))
        if last is None:
            draft = _draft(out_dir, period, figures, encoded, 1)
        elif last["status"] == "pending":
            continue  # resumed by the send pass; a correction waits until it is accepted
        elif last["status"] == "accepted":
            if last["content_hash"] == h:
                summary.unchanged += 1
                continue
            draft = _draft(out_dir, period, figures, encoded, last["revision"] + 1)
        # failed_permanent: a document refused as invalid (422 or our own check) was accepted nowhere, so
        # once its figures change it is rebuilt under the same key. Anything else waits for an operator.
        elif last["content_hash"] != h and last["last_outcome"] in ("invalid", "not_sent"):
            draft = _draft(out_dir, period, figures, encoded, last["revision"], replace_id=last["submission_id"])
        else:
            continue
        drafts.append(draft)
        size += len(draft.text)
        if size >= STORE_BATCH_BYTES:
            summary.created += [_brief(r) for r in _store(conn, drafts, run_id)]
            drafts, size = [], 0
    summary.created += [_brief(r) for r in _store(conn, drafts, run_id)]


# One attempt and the submission's new state in one statement (atomic; the attempt numbered after the last).
_RECORD_SQL = f"""
WITH s AS (
    UPDATE exports.submissions SET attempts = attempts + 1, http_status = %(http_status)s,
        last_attempt_at = %(finished)s, status = %(status)s, error = %(error)s,
        receipt = coalesce(%(receipt)s, receipt),
        accepted_at = CASE WHEN %(accepted)s AND accepted_at IS NULL THEN %(finished)s ELSE accepted_at END,
        updated_at = now()
    WHERE submission_id = %(id)s
    RETURNING {_ROW_COLS}
), a AS (
    INSERT INTO exports.submission_attempts (submission_id, attempt_no, run_id, idempotency_key, content_sha256,
        started_at, finished_at, http_status, outcome, receipt, retry_after_seconds, error, response_body)
    SELECT s.submission_id,
        (SELECT coalesce(max(attempt_no), 0) + 1 FROM exports.submission_attempts
         WHERE submission_id = s.submission_id),
        %(run_id)s, %(key)s, %(sha)s, %(started)s, %(finished)s, %(http_status)s, %(outcome)s, %(attempt_receipt)s,
        %(retry_after)s, %(attempt_error)s, %(body)s
    FROM s
)
SELECT * FROM s
"""


def _record(
    conn: psycopg.Connection,
    row: dict,
    text: str,
    result: AttemptResult,
    started: datetime,
    run_id: str,
    *,
    verify_only: bool = False,
) -> dict:
    """Log one attempt and move the submission's state; `verify_only` logs without changing the state."""
    finished = datetime.now(build.TZ)
    status, receipt, error = row["status"], None, result.error
    if verify_only:
        error = row["error"]
    elif result.outcome in ACCEPTED:
        status, receipt, error = "accepted", result.receipt, None
    elif result.outcome in PERMANENT:
        status = "failed_permanent"
    rows = _rows(
        conn,
        _RECORD_SQL,
        {
            "id": row["submission_id"],
            "http_status": result.http_status,
            "finished": finished,
            "started": started,
            "status": status,
            "error": error,
            "receipt": receipt,
            "accepted": status == "accepted",
            "run_id": run_id,
            "key": row["idempotency_key"],
            "sha": hashlib.sha256(text.encode()).hexdigest(),
            "outcome": result.outcome,
            "attempt_receipt": result.receipt,
            "retry_after": result.retry_after,
            "attempt_error": result.error,
            "body": (result.body or "")[:4000] or None,
        },
    )
    if not rows:
        raise LookupError(f"Không có bản gửi #{row['submission_id']}")
    return rows[0]


def _send(
    conn: psycopg.Connection,
    client: NationalClient,
    row: dict,
    text: str,
    policy: RetryPolicy,
    run_id: str,
    sleep: Callable[[float], None],
) -> dict:
    """Send one submission (`row`, its document `text`) until accepted, refused, or out of attempts for this run."""
    submission_id = row["submission_id"]
    for attempt in range(policy.max_attempts):
        if row["status"] != "pending":
            break
        started = datetime.now(build.TZ)
        result = client.submit(text, str(row["idempotency_key"]))
        row = _record(conn, row, text, result, started, run_id)
        log.info(
            "submission %s attempt: %s %s %s", submission_id, result.outcome, result.http_status, result.error or ""
        )
        if result.outcome == UNAUTHORIZED:
            raise ReceiverUnauthorized(result.error)
        if result.outcome != TRANSIENT:
            break
        if attempt + 1 == policy.max_attempts:
            break
        delay = policy.delay(attempt, result.retry_after)
        if delay > policy.max_retry_after:
            row = _rows(
                conn,
                f"UPDATE exports.submissions SET error = %s WHERE submission_id = %s RETURNING {_ROW_COLS}",
                (f"Máy chủ yêu cầu thử lại sau {delay:.0f} giây; lần chạy sau sẽ gửi lại", submission_id),
            )[0]
            break
        sleep(min(delay, policy.max_retry_after))
    return row


def _texts(conn: psycopg.Connection, ids: list[int]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT submission_id, document_text FROM exports.submissions WHERE submission_id = ANY(%s)", (ids,)
    ).fetchall()
    return dict(rows)


def _send_all(
    conn: psycopg.Connection,
    client: NationalClient,
    policy: RetryPolicy,
    run_id: str,
    sleep: Callable[[float], None],
    summary: ExportSummary,
) -> bool:
    """Send every pending submission, oldest period first. False when the receiver looks down."""
    pending = _rows(
        conn,
        f"SELECT {_ROW_COLS} FROM exports.submissions WHERE status = 'pending'"
        " ORDER BY period_start, period_end, report_code, revision",
    )
    transient_streak = 0
    for i in range(0, len(pending), SEND_BATCH):
        batch = pending[i : i + SEND_BATCH]
        texts = _texts(conn, [r["submission_id"] for r in batch])
        for row in batch:
            row = _send(conn, client, row, texts[row["submission_id"]], policy, run_id, sleep)
            if row["status"] == "accepted":
                summary.accepted.append(_brief(row))
                transient_streak = 0
            elif row["status"] == "failed_permanent":
                summary.failed.append(_brief(row))
                transient_streak = 0
            else:
                transient_streak += 1
                if transient_streak >= CIRCUIT_BREAKER:
                    summary.errors.append(
                        f"Dừng gửi sau {CIRCUIT_BREAKER} báo cáo liên tiếp lỗi tạm thời; lần chạy sau sẽ gửi tiếp"
                    )
                    return False
    return True


def run_exports(
    warehouse_uri: str,
    receiver_url: str,
    token: str,
    out_dir: str | Path,
    *,
    today: date,
    run_id: str,
    policy: RetryPolicy | None = None,
    reports: tuple[str, ...] = REPORTS,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> ExportSummary:
    """Build, store and deliver every due report once; resume what earlier runs left pending. Due: a period the
    marts call complete (`dim_periods.is_complete`) that has ended (`is_due`) and is the province's own."""
    policy = policy or RetryPolicy()
    out_dir = Path(out_dir)
    summary = ExportSummary(run_id=run_id, today=today)
    with (
        psycopg.connect(warehouse_uri, autocommit=True) as conn,
        NationalClient(receiver_url, token, timeout=policy.timeout, transport=transport) as client,
        _Lock(conn),
    ):
        require_head(conn)
        try:
            # 1. Resume earlier runs' pending revisions before deciding on corrections.
            receiver_up = _send_all(conn, client, policy, run_id, sleep, summary)
            # 2. New periods and corrections (documents and files even when the receiver is down), all read
            # from one snapshot of the marts on a second connection while the first stores them.
            with _marts_snapshot(warehouse_uri) as marts:
                periods = [p for p in build.mart_periods(marts) if p.report in reports]
                try:
                    # The province as it is now reports the periods ending on or after its committee began;
                    # earlier ones were its predecessor provinces' duty (reform.md).
                    since = build.reporting_province(marts)["unit_valid_from"]
                except build.BeforeMerger as e:
                    log.info("%s", e)
                    since = date.max  # nothing is the merged province's yet: not an error
                except build.BuildError as e:
                    summary.errors.append(str(e))
                    since = date.max  # no reporting province: nothing is due
                due = [p for p in complete_periods(periods) if is_due(p, today) and p.period_end >= since]
                summary.due_periods = len(due)
                _prepare_all(conn, marts, out_dir, due, run_id, summary)
            if receiver_up:
                _send_all(conn, client, policy, run_id, sleep, summary)
        except ReceiverUnauthorized as e:
            summary.errors.append(str(e))
        summary.pending = [_brief(r) for r in _rows(conn, _PENDING_SQL)]
        failed_now = {s["submission_id"] for s in summary.failed}
        summary.blocked = [_brief(r) for r in _rows(conn, _BLOCKED_SQL) if r["submission_id"] not in failed_now]
    log.info("%s", summary.describe())
    return summary


def _marts_snapshot(warehouse_uri: str) -> psycopg.Connection:
    """A read-only connection whose reads all see one state of the marts (one REPEATABLE READ transaction)."""
    conn = psycopg.connect(warehouse_uri)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


_PENDING_SQL = (
    f"SELECT {_ROW_COLS} FROM exports.submissions WHERE status = 'pending' ORDER BY period_start, report_code"
)
# Latest revision of a period refused for good: the period has no accepted current figures.
_BLOCKED_SQL = """
SELECT s.submission_id, s.report_code, s.period_type, s.period_start, s.period_end, s.revision, s.status,
    s.receipt, s.error FROM exports.submissions s
WHERE s.status = 'failed_permanent'
  AND s.revision = (SELECT max(revision) FROM exports.submissions t
                    WHERE (t.report_code, t.period_type, t.period_start, t.reporting_unit)
                        = (s.report_code, s.period_type, s.period_start, s.reporting_unit))
ORDER BY s.period_start, s.report_code
"""


def list_submissions(
    warehouse_uri: str, *, status: str | None = None, report: str | None = None, limit: int = 200
) -> list[dict]:
    with psycopg.connect(warehouse_uri, autocommit=True) as conn:
        require_head(conn)
        rows = _rows(
            conn,
            "SELECT submission_id, report_code, period_type, period_start, period_end, reporting_unit, revision,"
            " idempotency_key, status, receipt, http_status, error, attempts, jsonb_array_length(coalesce(changes,"
            " '[]'::jsonb)) AS changed_figures, created_at, accepted_at, json_path, xlsx_path"
            " FROM exports.submissions WHERE (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(report)s::text IS NULL OR report_code = %(report)s)"
            " ORDER BY period_start DESC, report_code, period_type, revision DESC LIMIT %(limit)s",
            {"status": status, "report": report, "limit": limit},
        )
    return [_jsonable(r) for r in rows]


def show_document(warehouse_uri: str, submission_id: int) -> dict:
    """A submission with its document, the figures changed since the previous revision, and its attempts."""
    with psycopg.connect(warehouse_uri, autocommit=True) as conn:
        require_head(conn)
        row = _get(conn, submission_id)
        row.pop("document_text")
        row["attempts_log"] = _rows(
            conn,
            "SELECT attempt_no, run_id, started_at, finished_at, http_status, outcome, receipt,"
            " retry_after_seconds, error FROM exports.submission_attempts WHERE submission_id = %s"
            " ORDER BY attempt_no",
            (submission_id,),
        )
    return _jsonable(row)


def resend(
    warehouse_uri: str,
    receiver_url: str,
    token: str,
    submission_id: int,
    *,
    out_dir: str | Path,
    run_id: str = "cli",
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> dict:
    """Operator's resend, by what the submission's state calls for:

    - accepted: send the stored document again under its key, to check the receiver still holds it
      (expects 200 with the same receipt; nothing changes otherwise);
    - pending: send now;
    - refused as invalid (422 / local check): rebuild from the current marts under the same key and send;
    - refused as a conflict (409) or otherwise: the receiver holds something else under this revision,
      so the current figures go as the next revision (new key).
    """
    policy = policy or RetryPolicy()
    out_dir = Path(out_dir)
    with (
        psycopg.connect(warehouse_uri, autocommit=True) as conn,
        NationalClient(receiver_url, token, timeout=policy.timeout, transport=transport) as client,
        _Lock(conn),
    ):
        require_head(conn)
        row = _get(conn, submission_id)
        period = _period_of(row)
        if row["status"] == "accepted":
            started = datetime.now(build.TZ)
            result = client.submit(row["document_text"], str(row["idempotency_key"]))
            same = result.outcome in ACCEPTED and result.receipt == row["receipt"]
            if not same and not result.error:
                result.error = f"Mã tiếp nhận {result.receipt} khác mã đã lưu {row['receipt']}"
            _record(conn, row, row["document_text"], result, started, run_id, verify_only=True)
            return {
                "submission_id": submission_id,
                "action": "verified",
                "ok": same,
                "receipt": result.receipt,
                "http_status": result.http_status,
                "message": "Hệ thống quốc gia xác nhận đã tiếp nhận, cùng mã tiếp nhận"
                if same
                else f"Hệ thống quốc gia trả lời khác bản đã lưu: {result.error or result.receipt}",
            }
        target = submission_id
        action = "sent"
        if row["status"] == "failed_permanent":
            figures = build.build_document(conn, period)
            if _last_outcome(conn, submission_id) in ("invalid", "not_sent"):
                target = _store_document(
                    conn, out_dir, period, figures, row["revision"], run_id, replace_id=submission_id
                )
                action = "rebuilt"
            else:
                top = conn.execute(
                    "SELECT max(revision) FROM exports.submissions WHERE report_code = %s AND period_type = %s"
                    " AND period_start = %s AND reporting_unit = %s",
                    (row["report_code"], row["period_type"], row["period_start"], row["reporting_unit"]),
                ).fetchone()[0]
                target = _store_document(conn, out_dir, period, figures, top + 1, run_id)
                action = "new_revision"
        try:
            row = _get(conn, target)
            final = _send(conn, client, row, row["document_text"], policy, run_id, sleep)
        except ReceiverUnauthorized as e:
            return {"submission_id": target, "action": action, "ok": False, "message": str(e)}
        return {
            "submission_id": target,
            "action": action,
            "ok": final["status"] == "accepted",
            "status": final["status"],
            "revision": final["revision"],
            "receipt": final["receipt"],
            "http_status": final["http_status"],
            "message": final["error"] or "Đã được tiếp nhận",
        }


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, date | datetime):
            out[k] = v.isoformat()
        elif isinstance(v, uuid.UUID):
            out[k] = str(v)
        elif isinstance(v, list):
            out[k] = [_jsonable(x) if isinstance(x, dict) else x for x in v]
        else:
            out[k] = v
    return out
