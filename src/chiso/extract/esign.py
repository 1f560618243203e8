"""E-signature report drop folder (sources.md §3).

`<path>/YYYY/MM/chu_ky_so_YYYYMMDD[_vN].(csv|xlsx)`, read only once its `<file>.done` marker exists.
Each new file content (sha256 not yet in raw.esign_files) is one batch whose window is its day:
versions of a day load in ascending order, and the latest view lets the highest version win.
A file that cannot be read (wrong encoding, not a workbook, wrong header) is rejected: recorded in
raw.esign_files and raw.quarantine with a reason naming the file, while the other files still load.
A file or month folder the reader may not open (permissions, an I/O error) is `unreadable`: a failed audit and a
quarantine row name it, the other files still load, and it is read again by the next run (no raw.esign_files row:
it was never read).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from chiso.extract.common import ExtractSummary, SourceConn, as_date
from chiso.raw.entities import ESIGN_HEADERS, ESIGN_SIGNATURES_DAILY
from chiso.raw.loader import LoadError, SourceRow, load_batch
from chiso.warehouse.schema import require_head

log = logging.getLogger(__name__)

SOURCE = "esign"
FILE_RE = re.compile(r"^chu_ky_so_(\d{8})(?:_v(\d+))?\.(csv|xlsx)$", re.IGNORECASE)
PAGE_ROWS = 1000


class FileRejected(Exception):
    """The file as a whole cannot be read; the message is Vietnamese and names the file."""


@dataclass(frozen=True)
class DropFile:
    path: Path
    rel: str  # relative to the drop folder, with forward slashes
    day: date
    version: int
    fmt: str  # csv | xlsx


def _unreadable(what: str, rel: str, e: OSError) -> str:
    return (
        f"Không đọc được {what} {rel} ({e.strerror or type(e).__name__}); các tệp khác vẫn được tải,"
        " lần chạy sau sẽ đọc lại khi tiến trình tải có quyền đọc"
    )


def scan(root: Path, start: date, end: date, unreadable: list[tuple[str, date, str]] | None = None) -> list[DropFile]:
    """Files with a `.done` marker whose day lies in [start, end], by (day, version). A month folder that cannot
    be listed is added to `unreadable` as (folder, first day of the month, reason) instead of failing the scan."""
    out: list[DropFile] = []
    month = date(start.year, start.month, 1)
    while month <= end:
        folder = root / f"{month.year:04d}" / f"{month.month:02d}"
        try:
            entries = list(folder.iterdir()) if folder.is_dir() else []
        except OSError as e:
            rel = folder.relative_to(root).as_posix()
            if unreadable is None:
                raise
            unreadable.append((rel, max(month, start), _unreadable("thư mục", rel, e)))
            entries = []
        if entries:
            for p in entries:
                m = FILE_RE.match(p.name)
                if not m or not p.is_file():
                    continue
                if not p.with_name(p.name + ".done").exists():
                    log.info("esign: %s has no .done marker yet; skipped", p)
                    continue
                try:
                    day = date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:]))
                except ValueError:
                    log.warning("esign: %s names an impossible date; skipped", p)
                    continue
                if start <= day <= end:
                    rel = p.relative_to(root).as_posix()
                    out.append(DropFile(p, rel, day, int(m[2] or 1), m[3].lower()))
        month = (month + timedelta(days=32)).replace(day=1)
    return sorted(out, key=lambda f: (f.day, f.version, f.rel))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _norm(h: Any) -> str:
    return unicodedata.normalize("NFC", str(h or "")).strip().lstrip("\ufeff")


def _check_utf8(path: Path, rel: str) -> None:
    """Decode the whole file incrementally (constant memory) so a bad byte is reported before any
    row is loaded, with its offset."""
    dec = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            try:
                dec.decode(block)
            except UnicodeDecodeError as e:
                raise FileRejected(
                    f"Tệp {rel} không đúng mã hóa UTF-8 (byte 0x{block[e.start]:02x} tại vị trí {offset + e.start});"
                    " cần tệp CSV UTF-8 có BOM"
                ) from None
            offset += len(block)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileRejected(f"Tệp {rel} không đúng mã hóa UTF-8 (cắt cụt ở cuối tệp)") from None


def _header_map(header: list[Any], rel: str) -> list[str]:
    names = [_norm(h) for h in header]
    if not any(names):
        raise FileRejected(f"Tệp {rel} không có dòng tiêu đề")
    return names


def _records(names: list[str], values: list[Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        v = values[i] if i < len(values) else None
        rec[name] = v.strip() if isinstance(v, str) else v
    return rec


def iter_csv(f: DropFile) -> Iterator[list[SourceRow]]:
    _check_utf8(f.path, f.rel)
    extra = {"source_file": f.rel, "file_version": f.version}
    with f.path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        header = next(reader, None)
        if header is None:
            return
        names = _header_map(header, f.rel)
        page: list[SourceRow] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            page.append(SourceRow(f"{f.rel} dòng {reader.line_num}", _records(names, values), extra))
            if len(page) >= PAGE_ROWS:
                yield page
                page = []
        if page:
            yield page


def iter_xlsx(f: DropFile) -> Iterator[list[SourceRow]]:
    import zipfile

    from openpyxl import load_workbook

    extra = {"source_file": f.rel, "file_version": f.version}
    try:
        wb = load_workbook(f.path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise FileRejected(f"Tệp {f.rel} không phải tệp Excel .xlsx hợp lệ ({type(e).__name__})") from None
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = _header_map(list(header), f.rel)
        page: list[SourceRow] = []
        for n, values in enumerate(rows, start=2):
            if not any(v is not None and str(v).strip() for v in values):
                continue
            page.append(SourceRow(f"{f.rel} dòng {n}", _records(names, list(values)), extra))
            if len(page) >= PAGE_ROWS:
                yield page
                page = []
        if page:
            yield page
    finally:
        wb.close()


def _pages_checked(f: DropFile) -> Iterator[list[SourceRow]]:
    """Rows of a file; raises FileRejected before the first row for an unreadable file."""
    it = iter_csv(f) if f.fmt == "csv" else iter_xlsx(f)
    first = True
    for page in it:
        if first:
            first = False
            missing = [h for h in ESIGN_HEADERS if h not in page[0].record]
            if missing and len(missing) == len(ESIGN_HEADERS):
                raise FileRejected(
                    f"Tệp {f.rel} có dòng tiêu đề không nhận ra ({', '.join(list(page[0].record)[:4])}...);"
                    f" cần: {';'.join(ESIGN_HEADERS)}"
                )
        yield page


def _seen(conn: psycopg.Connection, rel: str, sha: str) -> bool:
    return bool(
        conn.execute("SELECT 1 FROM raw.esign_files WHERE source_file = %s AND sha256 = %s", (rel, sha)).fetchone()
    )


def _record_file(
    conn: psycopg.Connection,
    f: DropFile,
    sha: str,
    batch_id: str,
    status: str,
    rows: int | None,
    error: str | None,
) -> None:
    conn.execute(
        "INSERT INTO raw.esign_files"
        " (source_file, report_date, file_version, sha256, batch_id, status, rows_read, error)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source_file, sha256) DO NOTHING",
        (f.rel, f.day, f.version, sha, batch_id, status, rows, error),
    )


def _audit_and_quarantine(
    conn: psycopg.Connection,
    rel: str,
    day: date,
    sha: str | None,
    status: str,
    reason: str,
    run_id: str,
    batch_id: str | None = None,
) -> str:
    """Inside the caller's transaction: an audit row for what brought no data (unless the failed batch already
    wrote one; `failed` unless the file was merely empty) and a quarantine row naming it."""
    audit_status = "succeeded" if status == "empty" else "failed"
    if batch_id is None:
        batch_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO raw.load_audit (batch_id, source, entity, window_start, window_end, run_id, status,"
            " finished_at, rows_received, rows_new_versions, rows_unchanged, rows_deleted, rows_quarantined,"
            " checksum, error, notes) VALUES (%s, %s, %s, %s, %s, %s, %s, now(), 0, 0, 0, 0, 1, %s, %s, %s)",
            (
                batch_id,
                SOURCE,
                ESIGN_SIGNATURES_DAILY.entity,
                day,
                day,
                run_id,
                audit_status,
                sha,
                reason if audit_status == "failed" else None,
                reason if audit_status != "failed" else None,
            ),
        )
    conn.execute(
        "INSERT INTO raw.quarantine (batch_id, source, entity, record_ref, field, reason, payload)"
        " VALUES (%s, %s, %s, %s, NULL, %s, %s)",
        (
            batch_id,
            SOURCE,
            ESIGN_SIGNATURES_DAILY.entity,
            rel,
            reason,
            psycopg.types.json.Jsonb({"sha256": sha, "status": status}),
        ),
    )
    return batch_id


def _record_without_rows(
    conn: psycopg.Connection,
    f: DropFile,
    sha: str,
    status: str,
    reason: str,
    run_id: str,
    batch_id: str | None = None,
) -> str:
    """A file that brought no data (rejected or empty): an audit row (unless the failed batch already
    wrote one), a quarantine row, the file row."""
    with conn.transaction():
        batch_id = _audit_and_quarantine(conn, f.rel, f.day, sha, status, reason, run_id, batch_id)
        _record_file(conn, f, sha, batch_id, status, 0, reason)
    return batch_id


def _record_unreadable(
    conn: psycopg.Connection, summary: ExtractSummary, rel: str, day: date, reason: str, run_id: str
) -> None:
    """A file or folder the reader may not open: named in a failed audit and the quarantine, no raw.esign_files
    row (its content was never read), so the next run tries it again."""
    with conn.transaction():
        _audit_and_quarantine(conn, rel, day, None, "unreadable", reason, run_id)
    summary.rejected_files.append({"file": rel, "status": "unreadable", "reason": reason})
    log.error("esign: %s", reason)


def _has_rows(f: DropFile) -> bool:
    return any(bool(page) for page in _pages_checked(f))


def extract(
    conn: SourceConn,
    warehouse_uri: str,
    start: date | str,
    end: date | str,
    *,
    run_id: str = "cli",
) -> dict[str, Any]:
    """Load every new file (by content) of the drop folder whose day is in [start, end]."""
    path = conn.extra.get("path") if conn.extra else None
    if not path:
        raise ValueError("esign_drop: extra {'path': ...} is required")
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"esign_drop: thư mục {root} không tồn tại")
    start, end = as_date(start), as_date(end)
    summary = ExtractSummary(SOURCE, start, end)
    unreadable: list[tuple[str, date, str]] = []
    files = scan(root, start, end, unreadable)
    with psycopg.connect(warehouse_uri, autocommit=True, application_name="chiso-esign") as db:
        require_head(db)
        for rel, day, reason in unreadable:
            _record_unreadable(db, summary, rel, day, reason, run_id)
        for f in files:
            try:
                sha = file_sha256(f.path)
            except OSError as e:
                _record_unreadable(db, summary, f.rel, f.day, _unreadable("tệp", f.rel, e), run_id)
                continue
            if _seen(db, f.rel, sha):
                continue
            try:
                if not _has_rows(f):  # cheap: stops at the first data row
                    reason = (
                        f"Tệp {f.rel} không có dòng dữ liệu (tệp rỗng); giữ nguyên số liệu hiện có của ngày {f.day}"
                    )
                    _record_without_rows(db, f, sha, "empty", reason, run_id)
                    summary.rejected_files.append({"file": f.rel, "status": "empty", "reason": reason})
                    log.warning("esign: %s", reason)
                    continue
                result = load_batch(
                    warehouse_uri,
                    ESIGN_SIGNATURES_DAILY,
                    _pages_checked(f),
                    window_start=f.day,
                    window_end=f.day,
                    run_id=run_id,
                    tombstone_extra={"source_file": f.rel, "file_version": f.version},
                )
            except (FileRejected, LoadError) as e:
                reason = str(e) if isinstance(e, FileRejected) else f"Tệp {f.rel}: {e}"
                _record_without_rows(db, f, sha, "rejected", reason, run_id, getattr(e, "chiso_batch_id", None))
                summary.rejected_files.append({"file": f.rel, "status": "rejected", "reason": reason})
                log.error("esign: %s", reason)
                continue
            _record_file(db, f, sha, result.batch_id, "loaded", result.rows_received, None)
            summary.add(result)
    return summary.as_dict()


def csv_bytes(rows: list[list[Any]], *, bom: bool = True, encoding: str = "utf-8") -> bytes:
    """Render rows the way the CA's service does (used by tests and the benchmark)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(ESIGN_HEADERS)
    for r in rows:
        w.writerow(r)
    data = buf.getvalue().encode(encoding)
    return (codecs.BOM_UTF8 + data) if bom and encoding == "utf-8" else data
