"""Exactly-once delivery of the national reports.

Every (report, period, reporting unit, revision) is one row of `exports.submissions` holding the exact
document and a deterministic Idempotency-Key. Retries (after a timeout, 429 or 5xx, in this run or a
later one) resend that same row: the receiver answers 200 with the first receipt if an earlier attempt
was accepted and its answer lost. Changed figures of an accepted period become revision n+1; unchanged
periods are never re-sent. One run at a time holds an advisory lock, so two runs cannot double-send.
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
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from chiso.export import build
from chiso.export.client import ACCEPTED, PERMANENT, TRANSIENT, UNAUTHORIZED, AttemptResult, NationalClient
from chiso.export.periods import REPORTS, Period, complete_periods, is_due
from chiso.export.schema import validation_errors
from chiso.export.xlsx import write_xlsx

log = logging.getLogger(__name__)

KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chiso:national-report")
# pg advisory lock id for "the export runner" (any constant bigint; derived so it is self-describing).
LOCK_ID = int(uuid.uuid5(KEY_NAMESPACE, "run-lock").int % (2**63 - 1))
# Consecutive submissions ending transient before the run stops hammering a receiver that is down.
CIRCUIT_BREAKER = 3


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


def ensure_schema(conn: psycopg.Connection) -> None:
    ddl = resources.files("chiso.export").joinpath("store.sql").read_text(encoding="utf-8")
    conn.execute(ddl)


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


def _write_files(out_dir: Path, period: Period, doc: dict, key: uuid.UUID, submission_id: int | None) -> tuple:
    json_path, xlsx_path = _files(out_dir, period, doc["lanGui"])
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(json_path)
    meta = {"Idempotency-Key": str(key)}
    if submission_id is not None:
        meta["submission_id"] = submission_id
    write_xlsx(doc, xlsx_path, meta)
    return json_path, xlsx_path


def _period_of(row: dict) -> Period:
    return Period(row["report_code"], row["period_type"], row["period_start"], row["period_end"])


def _last_accepted(conn: psycopg.Connection, period: Period, unit: str) -> dict | None:
    rows = _rows(
        conn,
        "SELECT * FROM exports.submissions WHERE report_code = %s AND period_type = %s AND period_start = %s"
        " AND reporting_unit = %s AND status = 'accepted' ORDER BY revision DESC LIMIT 1",
        (period.report, period.period_type, period.period_start, unit),
    )
    return rows[0] if rows else None


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
    unit = figures["donViBaoCao"]["maDinhDanh"]
    doc = build.finalize(figures, revision, datetime.now(build.TZ))
    key = idempotency_key(period.report, period.period_type, period.period_start, unit, revision)
    accepted = _last_accepted(conn, period, unit)
    changes = build.figure_changes(accepted["document"], doc) if accepted else None
    text = build.canonical(doc)
    h = build.content_hash(doc)
    problems = validation_errors(json.loads(text))
    status, error = "pending", None
    if problems:
        status = "failed_permanent"
        error = "Tài liệu không hợp lệ theo lược đồ, không gửi: " + "; ".join(
            f"{p['truong']}: {p['moTa']}" for p in problems[:20]
        )
    with conn.transaction():
        if replace_id is None:
            sid = conn.execute(
                "INSERT INTO exports.submissions (report_code, period_type, period_start, period_end,"
                " reporting_unit, revision, idempotency_key, document, document_text, content_hash, changes,"
                " status, error, created_run_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " RETURNING submission_id",
                (
                    period.report,
                    period.period_type,
                    period.period_start,
                    period.period_end,
                    unit,
                    revision,
                    key,
                    Jsonb(doc),
                    text,
                    h,
                    Jsonb(changes) if changes is not None else None,
                    status,
                    error,
                    run_id,
                ),
            ).fetchone()[0]
        else:
            sid = replace_id
            conn.execute(
                "UPDATE exports.submissions SET document = %s, document_text = %s, content_hash = %s,"
                " changes = %s, status = %s, error = %s, http_status = NULL, updated_at = now()"
                " WHERE submission_id = %s AND status = 'failed_permanent'",
                (Jsonb(doc), text, h, Jsonb(changes) if changes is not None else None, status, error, sid),
            )
        if problems:
            now = datetime.now(build.TZ)
            n = conn.execute(
                "SELECT coalesce(max(attempt_no), 0) + 1 FROM exports.submission_attempts WHERE submission_id = %s",
                (sid,),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO exports.submission_attempts (submission_id, attempt_no, run_id, idempotency_key,"
                " content_sha256, started_at, finished_at, outcome, error) VALUES (%s,%s,%s,%s,%s,%s,%s,'not_sent',%s)",
                (sid, n, run_id, key, hashlib.sha256(text.encode()).hexdigest(), now, now, error),
            )
    json_path, xlsx_path = _write_files(out_dir, period, doc, key, sid)
    conn.execute(
        "UPDATE exports.submissions SET json_path = %s, xlsx_path = %s WHERE submission_id = %s",
        (str(json_path), str(xlsx_path), sid),
    )
    log.info("prepared submission %s: %s revision %s (%s)", sid, period.slug(), revision, status)
    return sid


def _prepare(conn: psycopg.Connection, out_dir: Path, period: Period, run_id: str, summary: ExportSummary) -> None:
    """Decide what a due period needs: nothing, a first revision, a correction, or a rewrite of a refusal."""
    try:
        figures = build.build_document(conn, period)
    except build.BuildError as e:
        summary.errors.append(str(e))
        return
    unit = figures["donViBaoCao"]["maDinhDanh"]
    h = build.content_hash(figures)
    latest = _rows(
        conn,
        "SELECT * FROM exports.submissions WHERE report_code = %s AND period_type = %s AND period_start = %s"
        " AND reporting_unit = %s ORDER BY revision DESC LIMIT 1",
        (period.report, period.period_type, period.period_start, unit),
    )
    if not latest:
        sid = _store_document(conn, out_dir, period, figures, 1, run_id)
        summary.created.append(_brief(_get(conn, sid)))
        return
    last = latest[0]
    if last["status"] == "pending":
        return  # resumed by the send pass; a correction waits until it is accepted
    if last["status"] == "accepted":
        if last["content_hash"] == h:
            summary.unchanged += 1
            return
        sid = _store_document(conn, out_dir, period, figures, last["revision"] + 1, run_id)
        summary.created.append(_brief(_get(conn, sid)))
        return
    # failed_permanent: a document refused as invalid (422 or our own check) was accepted nowhere, so
    # once its figures change it is rebuilt under the same key. Anything else waits for an operator.
    if last["content_hash"] != h and _last_outcome(conn, last["submission_id"]) in ("invalid", "not_sent"):
        sid = _store_document(
            conn, out_dir, period, figures, last["revision"], run_id, replace_id=last["submission_id"]
        )
        summary.created.append(_brief(_get(conn, sid)))


def _record(
    conn: psycopg.Connection,
    row: dict,
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
    with conn.transaction():
        conn.execute(
            "UPDATE exports.submissions SET attempts = attempts + 1, http_status = %s, last_attempt_at = %s,"
            " status = %s, error = %s, receipt = coalesce(%s, receipt),"
            " accepted_at = CASE WHEN %s AND accepted_at IS NULL THEN %s ELSE accepted_at END, updated_at = now()"
            " WHERE submission_id = %s",
            (
                result.http_status,
                finished,
                status,
                error,
                receipt,
                status == "accepted",
                finished,
                row["submission_id"],
            ),
        )
        conn.execute(
            "INSERT INTO exports.submission_attempts (submission_id, attempt_no, run_id, idempotency_key,"
            " content_sha256, started_at, finished_at, http_status, outcome, receipt, retry_after_seconds,"
            " error, response_body) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                row["submission_id"],
                (
                    conn.execute(
                        "SELECT coalesce(max(attempt_no), 0) + 1 FROM exports.submission_attempts"
                        " WHERE submission_id = %s",
                        (row["submission_id"],),
                    ).fetchone()[0]
                ),
                run_id,
                row["idempotency_key"],
                hashlib.sha256(row["document_text"].encode()).hexdigest(),
                started,
                finished,
                result.http_status,
                result.outcome,
                result.receipt,
                result.retry_after,
                result.error,
                (result.body or "")[:4000] or None,
            ),
        )
    return _get(conn, row["submission_id"])


def _send(
    conn: psycopg.Connection,
    client: NationalClient,
    submission_id: int,
    policy: RetryPolicy,
    run_id: str,
    sleep: Callable[[float], None],
) -> dict:
    """Send one submission until accepted, refused, or out of attempts for this run."""
    row = _get(conn, submission_id)
    for attempt in range(policy.max_attempts):
        if row["status"] != "pending":
            break
        started = datetime.now(build.TZ)
        result = client.submit(row["document_text"], str(row["idempotency_key"]))
        row = _record(conn, row, result, started, run_id)
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
            conn.execute(
                "UPDATE exports.submissions SET error = %s WHERE submission_id = %s",
                (f"Máy chủ yêu cầu thử lại sau {delay:.0f} giây; lần chạy sau sẽ gửi lại", submission_id),
            )
            row = _get(conn, submission_id)
            break
        sleep(min(delay, policy.max_retry_after))
    return row


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
        "SELECT submission_id FROM exports.submissions WHERE status = 'pending'"
        " ORDER BY period_start, period_end, report_code, revision",
    )
    transient_streak = 0
    for sid in (r["submission_id"] for r in pending):
        row = _send(conn, client, sid, policy, run_id, sleep)
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
    data_from: date | None = None,
    data_through: date | None = None,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> ExportSummary:
    """Build, store and deliver every due report once; resume what earlier runs left pending."""
    policy = policy or RetryPolicy()
    out_dir = Path(out_dir)
    summary = ExportSummary(run_id=run_id, today=today)
    with (
        psycopg.connect(warehouse_uri, autocommit=True) as conn,
        NationalClient(receiver_url, token, timeout=policy.timeout, transport=transport) as client,
        _Lock(conn),
    ):
        ensure_schema(conn)
        try:
            # 1. Resume earlier runs' pending revisions before deciding on corrections.
            receiver_up = _send_all(conn, client, policy, run_id, sleep, summary)
            # 2. New periods and corrections (documents and files even when the receiver is down).
            periods = [p for p in build.mart_periods(conn) if p.report in reports]
            due = [
                p for p in complete_periods(periods, data_from=data_from, data_through=data_through) if is_due(p, today)
            ]
            summary.due_periods = len(due)
            for period in due:
                _prepare(conn, out_dir, period, run_id, summary)
            if receiver_up:
                _send_all(conn, client, policy, run_id, sleep, summary)
        except ReceiverUnauthorized as e:
            summary.errors.append(str(e))
        summary.pending = [_brief(r) for r in _rows(conn, _PENDING_SQL)]
        failed_now = {s["submission_id"] for s in summary.failed}
        summary.blocked = [_brief(r) for r in _rows(conn, _BLOCKED_SQL) if r["submission_id"] not in failed_now]
    log.info("%s", summary.describe())
    return summary


_PENDING_SQL = "SELECT * FROM exports.submissions WHERE status = 'pending' ORDER BY period_start, report_code"
# Latest revision of a period refused for good: the period has no accepted current figures.
_BLOCKED_SQL = """
SELECT s.* FROM exports.submissions s
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
        ensure_schema(conn)
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
        ensure_schema(conn)
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
        ensure_schema(conn)
        row = _get(conn, submission_id)
        period = _period_of(row)
        if row["status"] == "accepted":
            started = datetime.now(build.TZ)
            result = client.submit(row["document_text"], str(row["idempotency_key"]))
            same = result.outcome in ACCEPTED and result.receipt == row["receipt"]
            if not same and not result.error:
                result.error = f"Mã tiếp nhận {result.receipt} khác mã đã lưu {row['receipt']}"
            _record(conn, row, result, started, run_id, verify_only=True)
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
            final = _send(conn, client, target, policy, run_id, sleep)
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
