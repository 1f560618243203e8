"""Append-only raw loader: one call = one batch = one `raw.load_audit` row.

Flow: take the batch's own lock and a shared entity lock (stale `running` audits of dead loaders, whose
batch lock is free, are marked failed) -> audit row `running` -> rows stream in page by page and are
COPied into a work table (memory stays flat): a page that types at once (entities.fast_rows: msgspec, no
Python object per value) goes straight to COPY, any other is parsed row by row and its bad rows are named
-> one transaction, serialised per entity, stores only new versions (key new, or row hash differs from its
latest version) and tombstones for keys the source stopped returning inside the re-read window, set-based
-> audit `succeeded` with counts and a checksum. Batches of different date chunks stage concurrently.
Write once: when the batch's scope (its window, or the whole snapshot) holds no raw row yet, the versioning
transaction opens at the start instead — rows are COPied straight into raw as pages arrive (duplicates kept
apart in Python, bad rows quarantined at commit), with no work table and no second write.
Anything raised before the commit leaves no version behind and the audit `failed` with the error.
An extraction's batches share one connection per thread (Connections) and the unit register it read once.
Units across the 2025 reform (register.py): the unit register is checked whole before it is stored (bad versions
quarantined, the others stored); a daily row whose unit has no version valid on the row's date is quarantined."""

from __future__ import annotations

import bisect
import hashlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import repeat
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from chiso.raw.entities import (
    OSS_UNITS,
    Entity,
    canonical_json,
    fast_row_hashes,
    fast_rows,
    key_getter,
    parse_record,
    plain_records,
    row_hash,
    unexpected_fields,
)
from chiso.raw.register import UnitRegister, UnitVersion, check_snapshot
from chiso.warehouse.schema import require_head

log = logging.getLogger(__name__)

TOMBSTONE_HASH = "deleted"
STALE_ERROR = "Lượt tải bị gián đoạn (tiến trình dừng trước khi hoàn tất); không có phiên bản nào được ghi"
# Two-key advisory locks. (BATCH_LOCK, hashtext(batch id)) is held by a live batch for its whole life, so an
# audit left `running` whose lock is free belongs to a loader that died. (COMMIT_LOCK, hashtext(entity lock id))
# serialises the versioning transactions of an entity; batches stage concurrently (e.g. date chunks).
BATCH_LOCK = 0x63_68_62_74
COMMIT_LOCK = 0x63_68_63_6D


class LoadError(RuntimeError):
    """A batch that must fail loudly (schema drift on every row, empty snapshot, ...)."""


@dataclass(frozen=True)
class SourceRow:
    ref: str  # where the row came from: request + page + line, or file + line (Vietnamese words)
    record: Any  # the record as received (dict from JSON, dict from a CSV/XLSX line)
    extra: dict[str, Any] | None = None  # provenance columns of the entity (esign: source_file, version)


class RecordPage(Sequence):
    """A page of records as received, all from one request: behaves as a list of SourceRow (refs
    "<prefix> dòng <n>") without building one object per row, and lets the loader type the page at once."""

    __slots__ = ("prefix", "records")

    def __init__(self, prefix: str, records: list) -> None:
        self.prefix, self.records = prefix, records

    def ref(self, i: int) -> str:
        return f"{self.prefix} dòng {i + 1}"

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self.records)
        return SourceRow(self.ref(i), self.records[i])

    def __iter__(self) -> Iterator[SourceRow]:
        for i, rec in enumerate(self.records):
            yield SourceRow(self.ref(i), rec)


@dataclass
class BatchResult:
    batch_id: str
    source: str
    entity: str
    table: str
    window_start: date | None
    window_end: date | None
    # Values of the entity's scope columns this batch re-reads (e.g. one published period): versions and
    # tombstones stay inside it.
    scope: dict[str, Any] | None = None
    status: str = "running"
    rows_received: int = 0
    rows_new_versions: int = 0
    rows_unchanged: int = 0
    rows_deleted: int = 0
    rows_quarantined: int = 0
    checksum: str | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("window_start", "window_end"):
            d[k] = d[k].isoformat() if d[k] else None
        if d["scope"]:
            d["scope"] = {k: v.isoformat() if isinstance(v, date) else v for k, v in d["scope"].items()}
        return d


def _lock_id(entity: Entity) -> str:
    return f"chiso.raw.{entity.name}"


def work_tables(entity: Entity, batch_id: str) -> tuple[sql.Identifier, sql.Identifier, sql.Identifier]:
    """UNLOGGED work tables of one batch in schema raw (for a role without TEMP): stage, quarantine, latest."""
    tag = str(batch_id).replace("-", "")[:12]
    return tuple(sql.Identifier("raw", f"_load_{entity.name}_{tag}_{n}") for n in ("stage", "qstage", "latest"))


def _fail_stale_audits(conn: psycopg.Connection, entity: Entity) -> None:
    """Audits of the entity still `running` whose batch lock is free: their loader died. Mark them failed
    and drop their work tables."""
    running = conn.execute(
        "SELECT batch_id::text FROM raw.load_audit WHERE status = 'running' AND source = %s AND entity = %s",
        (entity.source, entity.entity),
    ).fetchall()
    for (bid,) in running:
        if not conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (BATCH_LOCK, bid)).fetchone()[0]:
            continue  # a live batch
        try:
            conn.execute(
                "UPDATE raw.load_audit SET status = 'failed', finished_at = now(), error = coalesce(error, %s)"
                " WHERE batch_id = %s AND status = 'running'",
                (STALE_ERROR, bid),
            )
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(*work_tables(entity, bid)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (BATCH_LOCK, bid))


def unit_register(conn: psycopg.Connection) -> UnitRegister | None:
    """The latest unit register (every version: identifier, validity, type, successors), with the unit versions
    the latest register load quarantined; None while it has never been loaded."""
    rows = conn.execute(
        "SELECT ma_dinh_danh, hieu_luc_tu, hieu_luc_den, loai_don_vi, coalesce(don_vi_ke_thua, '{}')"
        " FROM raw.oss_units_latest"
    ).fetchall()
    if not rows:
        return None
    refused = []
    for code, start, end, reason in conn.execute(
        "SELECT q.payload ->> 'maDinhDanh', q.payload ->> 'hieuLucTu', q.payload ->> 'hieuLucDen', q.reason"
        " FROM raw.quarantine q WHERE q.batch_id = (SELECT batch_id FROM raw.load_audit"
        "  WHERE source = %s AND entity = %s AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1)"
        " AND jsonb_typeof(q.payload) = 'object' ORDER BY q.quarantine_id",
        (OSS_UNITS.source, OSS_UNITS.entity),
    ).fetchall():
        try:
            version = UnitVersion(code, date.fromisoformat(start), date.fromisoformat(end) if end else None)
        except (TypeError, ValueError):  # a record refused for its very identifier or dates
            continue
        refused.append((version, reason))
    return UnitRegister((UnitVersion(c, f, t, ty, tuple(s)) for c, f, t, ty, s in rows), refused)


class Connections:
    """The warehouse connections of one extraction, one per thread, reused by its batches: opening one costs
    a backend and a SCRAM authentication (~10 ms), more than loading a chunk of a small entity. A connection
    left inside a transaction (a failure on the way) is closed, never reused; `close()` closes the rest."""

    def __init__(self, warehouse_uri: str) -> None:
        self.uri = warehouse_uri
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[psycopg.Connection] = []

    def get(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return conn
        if conn is not None:
            self.discard(conn)
        conn = psycopg.connect(self.uri, autocommit=True, application_name="chiso-loader")
        try:
            require_head(conn)  # the tables are the migrations' (./chiso migrate); a load takes no DDL lock
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        with self._lock:
            self._open.append(conn)
        return conn

    def discard(self, conn: psycopg.Connection) -> None:
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for c in conns:
            c.close()

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def registered_units(warehouse: str | Connections) -> UnitRegister | None:
    """unit_register() over a short connection, or one of `warehouse`'s (None while the register has never
    been loaded)."""
    if isinstance(warehouse, Connections):
        return unit_register(warehouse.get())
    with psycopg.connect(warehouse, autocommit=True) as conn:
        require_head(conn)
        return unit_register(conn)


class _Batch:
    def __init__(
        self,
        conn: psycopg.Connection,
        entity: Entity,
        result: BatchResult,
        *,
        units: UnitRegister | None,
        tombstone_extra: dict[str, Any] | None,
    ) -> None:
        self.conn = conn
        self.e = entity
        self.r = result
        self.units = units  # checks the unit of a daily row on its date (None: no register loaded yet)
        # Units valid on every day of the batch's window: a typed page whose units are all here needs no more.
        self.units_covered: frozenset[str] = frozenset()
        if units is not None and entity.date_column and result.window_start and result.window_end:
            self.units_covered = units.covered(result.window_start.isoformat(), result.window_end.isoformat())
        # The unit register's versions as parsed (key -> line, ref, canonical record, row hash, UnitVersion),
        # checked together at commit (register.check_snapshot).
        self.unit_versions: dict[tuple, list[tuple]] = {}
        self.tombstone_extra = tombstone_extra
        self.digest = hashlib.sha256()
        self.drift = Counter()  # source field -> rows missing it
        self.unexpected = Counter()  # unknown source field -> rows carrying it
        self.unkeyed_bad = 0
        self.line = 0
        self.stage_cols = [*entity.columns, *entity.extra_columns]
        self.pages: list[tuple[int, str]] = []  # (first line, ref prefix) of each page loaded typed
        self.col_index = {c: i for i, c in enumerate(entity.columns)}
        # Write once (begin()): the COPY into raw, keys written (key -> (row hash, line, ref or None for a
        # typed page)), later copies of a key, quarantine rows (line, ref, field, reason, payload).
        self.direct = False
        self.staged = False
        self._txn: Any = None
        self._copy_cm: Any = None
        self.cp: Any = None
        self.written = 0
        self.seen: dict[tuple, tuple] = {}
        self.dups: dict[tuple, list[tuple]] = {}
        self.qrows: list[tuple] = []
        self.key_of = key_getter(entity)
        self.batch_suffix = f"\t{result.batch_id}"

    # ------------------------------------------------------------ staging
    def drop_work_tables(self) -> None:
        if self.staged:
            self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}, {}, {}").format(self.stage, self.qstage, self.latest))

    def create_stage(self) -> None:
        # Session TEMP tables when the role may create them; otherwise UNLOGGED work tables in raw
        # named per batch (leftovers of a dead loader are dropped with its stale audit).
        self.use_temp = self.conn.execute(
            "SELECT has_database_privilege(current_user, current_database(), 'TEMP')"
        ).fetchone()[0]
        if self.use_temp:
            self.stage, self.qstage, self.latest = (sql.Identifier(n) for n in ("_stage", "_qstage", "_latest"))
        else:
            self.stage, self.qstage, self.latest = work_tables(self.e, self.r.batch_id)
        self.staged = True
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in self.stage_cols)
        kind = sql.SQL("TEMP" if self.use_temp else "UNLOGGED")
        self.drop_work_tables()
        self.conn.execute(
            sql.SQL(
                "CREATE {kind} TABLE {stage} AS SELECT {cols} FROM {t} WITH NO DATA;"
                "ALTER TABLE {stage} ADD COLUMN _row_hash text, ADD COLUMN _line bigint,"
                " ADD COLUMN _ref text, ADD COLUMN _ok boolean, ADD COLUMN _payload jsonb,"
                " ADD COLUMN _dup smallint NOT NULL DEFAULT 0, ADD COLUMN _page integer"
            ).format(kind=kind, stage=self.stage, cols=cols, t=sql.Identifier("raw", self.e.name))
        )
        self.conn.execute(
            sql.SQL(
                "CREATE {kind} TABLE {q} (record_ref text, field text, reason text, payload jsonb, _line bigint)"
            ).format(kind=kind, q=self.qstage)
        )

    def _check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Checks beyond parsing: window and unit register. Returns (field, reason)."""
        out = []
        e = self.e
        if e.date_column and self.r.window_start and self.r.window_end:
            d = values.get(e.date_column)
            if d is not None and not (self.r.window_start <= d <= self.r.window_end):
                src = next(f.source for f in e.fields if f.column == e.date_column)
                out.append(
                    (
                        src,
                        f"trường '{src}' = {d.isoformat()} nằm ngoài khoảng yêu cầu "
                        f"{self.r.window_start.isoformat()}..{self.r.window_end.isoformat()}",
                    )
                )
        if e.unit_column and self.units is not None:
            u = values.get(e.unit_column)
            d = values.get(e.date_column) if e.date_column else None
            src = next(f.source for f in e.fields if f.column == e.unit_column)
            if u is not None and u not in self.units:
                note = self.units.quarantine_note(u, d)
                out.append((src, f"mã định danh '{u}' (trường '{src}') không có trong danh mục đơn vị{note}"))
            elif u is not None and d is not None and (why := self.units.problem(u, d)):
                out.append((src, why))
        for c, want in (self.r.scope or {}).items():
            got = values.get(c)
            if got is not None and got != want:
                src = next(f.source for f in e.fields if f.column == c)
                out.append((src, f"trường '{src}' = {_shown(got)} nằm ngoài phạm vi của lượt tải ({_shown(want)})"))
        return out

    # ------------------------------------------------------------ write once or stage
    def _lock_scope(self) -> None:
        """Inside the current transaction: serialise with every other versioning transaction of the entity.
        Per entity, not per day: `_seq` values are drawn inside these transactions, so one at a time keeps
        `_seq` order equal to commit order — consumers that read raw by `_seq` watermark (dbt's
        changed_raw_dates) never see a higher `_seq` before a lower one commits."""
        self.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (COMMIT_LOCK, _lock_id(self.e)))

    def begin(self) -> None:
        """Take the entity's commit lock if free and look whether raw holds any row in the batch's scope
        yet (live or tombstone). None: write once — rows are COPied straight into raw within one transaction
        that lasts until commit (the commit lock keeps the scope empty meanwhile; a failure rolls every row
        back). Otherwise (rows there, or the lock busy) the rows are staged, batches side by side, and
        versioned set-based at commit."""
        conn, e = self.conn, self.e
        t = sql.Identifier("raw", e.name)
        scope, params = self._scope()
        self._txn = conn.transaction()
        self._txn.__enter__()
        try:
            # Another batch of the entity versioning right now (e.g. the neighbouring date chunk writing
            # once): stage beside it rather than wait, and version at commit.
            free = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", (COMMIT_LOCK, _lock_id(e))
            ).fetchone()[0]
            held = (
                not free
                or conn.execute(
                    sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {})").format(t, scope), params
                ).fetchone()[0]
            )
            if held:
                txn, self._txn = self._txn, None
                txn.__exit__(None, None, None)  # nothing written: releases the locks
                self.create_stage()
                return
            self.direct = True
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in [*self.stage_cols, "_row_hash", "_batch_id"])
            self._cur = conn.cursor()
            self._copy_cm = self._cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(t, cols))
            self.cp = self._copy_cm.__enter__()
        except BaseException as exc:
            self.abort(exc)
            raise

    def abort(self, exc: BaseException) -> None:
        """Roll back what the write-once transaction holds (the COPY is cancelled first)."""
        args = (type(exc), exc, exc.__traceback__)
        for name in ("_copy_cm", "_txn"):
            cm = getattr(self, name, None)
            setattr(self, name, None)
            if cm is not None:
                try:
                    cm.__exit__(*args)
                except Exception:  # the connection may be gone; load_batch records the failure
                    log.debug("while rolling back batch %s", self.r.batch_id, exc_info=True)

    def add_page(self, rows: Iterable[SourceRow]) -> None:
        if isinstance(rows, RecordPage):
            typed = self._typed(rows)
            if typed is not None:
                if self.direct:
                    self._write_typed(rows, *typed)
                else:
                    self._stage_typed(*typed)
                return
            if rows.records and not isinstance(rows.records[0], dict):
                rows = RecordPage(rows.prefix, plain_records(rows.records))
        good, bad = self._parse_rows(rows)
        if self.e.unit_register:
            self._collect_unit_versions(good)
        if self.direct:
            self._write_parsed(good, bad)
            return
        cols = sql.SQL(", ").join(
            sql.Identifier(c) for c in [*self.stage_cols, "_row_hash", "_line", "_ref", "_ok", "_payload"]
        )
        with self.conn.cursor() as cur:
            if good:
                with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(self.stage, cols)) as cp:
                    for vals, h, line, ref, canon in good:
                        cp.write_row((*vals, h, line, ref, h is not None, canon))
            if bad:
                with cur.copy(
                    sql.SQL("COPY {} (record_ref, field, reason, payload, _line) FROM STDIN").format(self.qstage)
                ) as cp:
                    for row in bad:
                        cp.write_row(row)

    def _parse_rows(self, rows: Iterable[SourceRow]) -> tuple[list[tuple], list[tuple]]:
        """Row by row: good rows (values, row hash, line, ref, canonical record) — a bad row that still has
        its key comes with the key only and no hash, so it counts as seen — and bad rows (ref, field,
        reason, canonical record, line)."""
        good: list[tuple] = []
        bad: list[tuple] = []
        for sr in rows:
            self.line += 1
            self.r.rows_received += 1
            canon = canonical_json(sr.record)
            self.digest.update(canon.encode())
            self.digest.update(b"\n")
            p = parse_record(self.e, sr.record)
            for fname in unexpected_fields(self.e, sr.record):
                self.unexpected[fname] += 1
            problems = [(pr.field, pr.message) for pr in p.problems]
            for pr in p.problems:
                if pr.drift:
                    self.drift[pr.field] += 1
            problems += self._check(p.values)
            extra = sr.extra or {}
            vals = [p.values.get(c) for c in self.e.columns] + [extra.get(c) for c in self.e.extra_columns]
            if problems:
                drifted = [pr.field for pr in p.problems if pr.drift]
                reason = "; ".join(m for _, m in problems)
                if drifted:
                    unk = unexpected_fields(self.e, sr.record)
                    reason += " (lệch cấu trúc dữ liệu nguồn" + (f"; trường lạ: {', '.join(unk)}" if unk else "") + ")"
                bad.append((sr.ref, problems[0][0], reason[:1].upper() + reason[1:], canon, self.line))
                if p.key(self.e) is None:
                    self.unkeyed_bad += 1
                else:  # keep the key as "seen" so it is not tombstoned; its previous version stays
                    keyed = [v if c in self.e.key_columns else None for c, v in zip(self.stage_cols, vals, strict=True)]
                    good.append((keyed, None, self.line, sr.ref, canon))
            else:
                good.append((vals, row_hash(self.e, p.values), self.line, sr.ref, canon))
        return good, bad

    # ------------------------------------------------------------ the unit register: a snapshot checked whole
    def _collect_unit_versions(self, good: list[tuple]) -> None:
        ci = self.col_index
        for vals, h, line, ref, canon in good:
            if h is None:  # a bad row: quarantined already
                continue
            version = UnitVersion(
                vals[ci["ma_dinh_danh"]],
                vals[ci["hieu_luc_tu"]],
                vals[ci["hieu_luc_den"]],
                vals[ci["loai_don_vi"]],
                tuple(vals[ci["don_vi_ke_thua"]] or ()),
            )
            self.unit_versions.setdefault(version.key, []).append((line, ref, canon, h, version))

    def _register_problems(self) -> list[tuple]:
        """Unit versions of the snapshot the register checks refuse (overlapping validity, a successor with no
        version valid the day after the unit ends, succession cycles): (key, line, ref, field, reason, record),
        by line. Checked over the versions that will be stored: a key sent twice with different content is
        refused as a duplicate already; identical copies count once."""
        kept = {k: copies[0] for k, copies in self.unit_versions.items() if len({c[3] for c in copies}) == 1}
        refused = check_snapshot(c[4] for c in kept.values())
        out = [(k, kept[k][0], kept[k][1], p.field, p.reason, kept[k][2]) for k, p in refused.items()]
        return sorted(out, key=itemgetter(1))

    def _typed(self, page: RecordPage) -> tuple[list[tuple], list[str], int] | None:
        """A page that types at once (entities.fast_rows) and passes the window and register checks: its row
        tuples, row hashes and first line, with no Python object per value; None sends it row by row (which
        names the problems)."""
        e, r = self.e, self.r
        rows = fast_rows(e, page.records)
        if rows is None:
            return None
        if e.date_column and r.window_start and r.window_end:
            days = set(map(itemgetter(self.col_index[e.date_column]), rows))  # ISO text: orders like the dates
            if min(days) < r.window_start.isoformat() or max(days) > r.window_end.isoformat():
                return None
        if (
            e.unit_column
            and e.date_column
            and self.units is not None
            and self.units.invalid_rows(
                rows, self.col_index[e.unit_column], self.col_index[e.date_column], self.units_covered
            )
        ):
            return None
        hashes = fast_row_hashes(rows)
        first = self.line + 1
        self.line += len(rows)
        r.rows_received += len(rows)
        # The typed row's hash determines the received record (every field present, none other).
        self.digest.update("".join(hashes).encode())
        self.pages.append((first, page.prefix))
        return rows, hashes, first

    def _stage_typed(self, rows: list[tuple], hashes: list[str], first: int) -> None:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in [*self.stage_cols, "_row_hash", "_line", "_ok", "_page"])
        lines = range(first, first + len(rows))
        text = copy_text(self.e, rows, zip(hashes, lines, strict=True), 2, f"\tt\t{len(self.pages) - 1}")
        with self.conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(self.stage, cols)) as cp:
            cp.write(text)

    # ------------------------------------------------------------ write once: duplicates kept apart in Python
    def _write_typed(self, page: RecordPage, rows: list[tuple], hashes: list[str], first: int) -> None:
        keys = list(map(self.key_of, rows))
        seen = self.seen
        if len(set(keys)) == len(keys) and seen.keys().isdisjoint(keys):
            lines = range(first, first + len(rows))
            seen.update(zip(keys, zip(hashes, lines, repeat(None)), strict=True))
            kept_rows, kept_hashes = rows, hashes
        else:
            kept_rows, kept_hashes = [], []
            for i, (k, t, h) in enumerate(zip(keys, rows, hashes, strict=True)):
                if k in seen:
                    rec = plain_records([page.records[i]])[0]
                    self.dups.setdefault(k, []).append((first + i, page.ref(i), canonical_json(rec), h))
                else:
                    seen[k] = (h, first + i, None)
                    kept_rows.append(t)
                    kept_hashes.append(h)
        if kept_rows:
            self.cp.write(copy_text(self.e, kept_rows, zip(kept_hashes), 1, self.batch_suffix))
            self.written += len(kept_rows)

    def _write_parsed(self, good: list[tuple], bad: list[tuple]) -> None:
        key_idx = [self.stage_cols.index(c) for c in self.e.key_columns]
        for vals, h, line, ref, canon in good:
            if h is None:  # a bad row with its key: nothing stored before, nothing to keep from tombstones
                continue
            k = tuple(vals[i].isoformat() if isinstance(vals[i], date) else vals[i] for i in key_idx)
            if k in self.seen:
                self.dups.setdefault(k, []).append((line, ref, canon, h))
                continue
            self.seen[k] = (h, line, ref)
            self.cp.write_row((*vals, h, self.r.batch_id))
            self.written += 1
        for ref, fld, reason, canon, line in bad:
            self.qrows.append((line, ref, fld, reason, canon))

    def _typed_ref(self, line: int) -> str:
        i = bisect.bisect_right(self.pages, (line, "\uffff")) - 1
        first, prefix = self.pages[i]
        return f"{prefix} dòng {line - first + 1}"

    def _commit_direct(self) -> None:
        e, r, conn = self.e, self.r, self.conn
        copy_cm, self._copy_cm = self._copy_cm, None
        copy_cm.__exit__(None, None, None)
        key_names = ", ".join(f.source for f in e.fields if f.key)
        field0 = e.key_sources[0]
        payload = sql.SQL("jsonb_build_object({})::text").format(
            sql.SQL(", ").join(
                sql.SQL("{}, {}").format(sql.Literal(f.source), sql.Identifier(f.column)) for f in e.fields
            )
        )
        match = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in e.key_columns)
        delete = sql.SQL("DELETE FROM {} WHERE _batch_id = %s AND {} RETURNING {}").format(
            sql.Identifier("raw", e.name), match, payload
        )
        for k, copies in self.dups.items():
            h0, line0, ref0 = self.seen[k]
            shown = f"Trùng khóa ({key_names}) = ({', '.join(str(v) for v in k)})"
            if all(h == h0 for *_, h in copies):
                for line, ref, canon, _ in copies:
                    self.qrows.append((line, ref, field0, f"{shown} lặp lại, cùng nội dung: đã giữ một bản", canon))
                continue
            # Conflicting copies keep none: the first one, already written by this transaction, is taken back.
            reason = f"{shown} xuất hiện nhiều lần với nội dung khác nhau: giữ phiên bản trước"
            gone = conn.execute(delete, (r.batch_id, *k)).fetchall()
            self.written -= len(gone)
            self.qrows.append((line0, ref0 or self._typed_ref(line0), field0, reason, gone[0][0] if gone else None))
            for line, ref, canon, _ in copies:
                self.qrows.append((line, ref, field0, reason, canon))
        if e.unit_register:
            for k, line, ref, fld, reason, canon in self._register_problems():
                self.written -= len(conn.execute(delete, (r.batch_id, *k)).fetchall())
                self.qrows.append((line, ref, fld, reason, canon))
        if self.qrows:
            self.qrows.sort(key=itemgetter(0))
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY raw.quarantine (batch_id, source, entity, record_ref, field, reason, payload) FROM STDIN"
                ) as cp,
            ):
                for _, ref, fld, reason, canon in self.qrows:
                    cp.write_row((r.batch_id, e.source, e.entity, ref, fld, reason, canon))
        r.rows_new_versions = self.written
        r.rows_unchanged = 0
        r.rows_deleted = 0
        r.rows_quarantined = len(self.qrows)
        if self.unkeyed_bad:
            r.notes.append(f"không tạo bản ghi xóa: {self.unkeyed_bad} bản ghi lỗi không xác định được khóa")
        before_commit(self)
        r.status = "succeeded"
        self._mark_succeeded()
        txn, self._txn = self._txn, None
        txn.__exit__(None, None, None)

    def _mark_succeeded(self) -> None:
        r = self.r
        self.conn.execute(
            "UPDATE raw.load_audit SET status = 'succeeded', finished_at = clock_timestamp(), rows_received = %s,"
            " rows_new_versions = %s, rows_unchanged = %s, rows_deleted = %s, rows_quarantined = %s,"
            " checksum = %s, notes = %s WHERE batch_id = %s",
            (
                r.rows_received,
                r.rows_new_versions,
                r.rows_unchanged,
                r.rows_deleted,
                r.rows_quarantined,
                r.checksum,
                "; ".join(r.notes) or None,
                r.batch_id,
            ),
        )

    def _stage_register_problems(self) -> None:
        """Staged: the refused unit versions leave the versions to store (their key stays seen, so a version
        stored before is kept, as for any quarantined row) and go to the quarantine stage."""
        problems = self._register_problems()
        if not problems:
            return
        match = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in self.e.key_columns)
        with self.conn.cursor() as cur:
            cur.executemany(
                sql.SQL("UPDATE {} SET _ok = false WHERE _ok AND {}").format(self.stage, match),
                [k for k, *_ in problems],
            )
            with cur.copy(
                sql.SQL("COPY {} (record_ref, field, reason, payload, _line) FROM STDIN").format(self.qstage)
            ) as cp:
                for _, line, ref, fld, reason, canon in problems:
                    cp.write_row((ref, fld, reason, canon, line))

    def _typed_duplicate_refs(self) -> None:
        """Duplicates among typed rows: their ref and payload (built from the typed values) for quarantine."""
        lines = self.conn.execute(
            sql.SQL("SELECT _line, _page FROM {} WHERE _dup > 0 AND _ref IS NULL").format(self.stage)
        ).fetchall()
        if not lines:
            return
        payload = sql.SQL("jsonb_build_object({})").format(
            sql.SQL(", ").join(
                sql.SQL("{}, {}").format(sql.Literal(f.source), sql.Identifier(f.column)) for f in self.e.fields
            )
        )
        with self.conn.cursor() as cur:
            cur.executemany(
                sql.SQL("UPDATE {} SET _ref = %s, _payload = {} WHERE _line = %s").format(self.stage, payload),
                [(f"{self.pages[p][1]} dòng {line - self.pages[p][0] + 1}", line) for line, p in lines],
            )

    # ------------------------------------------------------------ commit
    def _key_match(self, a: str, b: str) -> sql.Composable:
        return sql.SQL(" AND ").join(
            sql.SQL("{}.{} = {}.{}").format(sql.Identifier(a), sql.Identifier(k), sql.Identifier(b), sql.Identifier(k))
            for k in self.e.key_columns
        )

    def commit(self) -> None:
        e, r, conn = self.e, self.r, self.conn
        r.checksum = self.digest.hexdigest()
        self._fail_on_drift()
        if self.direct:
            self._commit_direct()
            return
        keys = sql.SQL(", ").join(sql.Identifier(k) for k in e.key_columns)
        t = sql.Identifier("raw", e.name)
        with conn.transaction():
            self._lock_scope()
            # Duplicate keys within the batch: identical copies keep one; conflicting ones keep none.
            conn.execute(
                sql.SQL(
                    "WITH d AS (SELECT {keys}, count(DISTINCT _row_hash) AS h, min(_line) AS first"
                    " FROM {stage} WHERE _ok GROUP BY {keys} HAVING count(*) > 1)"
                    " UPDATE {stage} s SET _ok = false, _dup = CASE WHEN d.h = 1 THEN 1 ELSE 2 END"
                    " FROM d WHERE {match} AND s._ok AND (d.h > 1 OR s._line <> d.first)"
                ).format(keys=keys, stage=self.stage, match=self._key_match("s", "d"))
            )
            self._typed_duplicate_refs()
            if e.unit_register:
                self._stage_register_problems()
            key_text = sql.SQL(" || ', ' || ").join(
                sql.SQL("{}::text").format(sql.Identifier(k)) for k in e.key_columns
            )
            key_names = ", ".join(f.source for f in e.fields if f.key)
            conn.execute(
                sql.SQL(
                    "INSERT INTO {q} SELECT _ref, {k0},"
                    " CASE _dup WHEN 1 THEN {same} || ({kt}) || ') lặp lại, cùng nội dung: đã giữ một bản'"
                    " ELSE {diff} || ({kt})"
                    " || ') xuất hiện nhiều lần với nội dung khác nhau: giữ phiên bản trước' END,"
                    " _payload, _line FROM {stage} WHERE _dup > 0"
                ).format(
                    q=self.qstage,
                    stage=self.stage,
                    k0=sql.Literal(e.key_sources[0]),
                    kt=key_text,
                    same=sql.Literal(f"Trùng khóa ({key_names}) = ("),
                    diff=sql.Literal(f"Trùng khóa ({key_names}) = ("),
                )
            )
            # Latest stored version of every key in scope.
            scope, params = self._scope()
            order = sql.SQL(", ").join(
                [
                    keys,
                    *(sql.SQL("{} DESC").format(sql.Identifier(c)) for c in e.version_order),
                    sql.SQL("_seq DESC"),
                ]
            )
            vcols = sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(c)) for c in e.version_order)
            conn.execute(
                sql.SQL(
                    "CREATE {kind} TABLE {latest} AS SELECT DISTINCT ON ({keys}) {keys}{v},"
                    " _row_hash, _is_deleted, _seq FROM {t} WHERE {scope} ORDER BY {order}"
                ).format(
                    kind=sql.SQL("TEMP" if self.use_temp else "UNLOGGED"),
                    latest=self.latest,
                    keys=keys,
                    v=vcols,
                    t=t,
                    scope=scope,
                    order=order,
                ),
                params,
            )
            live = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE NOT _is_deleted").format(self.latest)
            ).fetchone()[0]
            staged = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.stage)).fetchone()[0]
            if staged == 0 and live > 0 and not self.unkeyed_bad:
                what = "danh mục" if e.date_column is None else "khoảng"
                raise LoadError(
                    f"{e.source}/{e.entity}: nguồn trả về 0 bản ghi cho {what} "
                    f"{self._window_text()} trong khi kho đang có {live} bản ghi; "
                    "từ chối xóa hàng loạt (kiểm tra nguồn rồi chạy lại)"
                )
            cols = [*e.columns, *e.extra_columns]
            ident = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            s_ident = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in cols)
            cur = conn.execute(
                sql.SQL(
                    "INSERT INTO {t} ({ident}, _batch_id, _row_hash)"
                    " SELECT {s_ident}, %(batch)s, s._row_hash FROM {stage} s"
                    " LEFT JOIN {latest} l ON {match}"
                    " WHERE s._ok AND (l._seq IS NULL OR l._is_deleted OR l._row_hash <> s._row_hash)"
                    " ORDER BY s._line"
                ).format(
                    t=t,
                    ident=ident,
                    s_ident=s_ident,
                    stage=self.stage,
                    latest=self.latest,
                    match=self._key_match("s", "l"),
                ),
                {"batch": r.batch_id},
            )
            r.rows_new_versions = cur.rowcount
            ok = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE _ok").format(self.stage)).fetchone()[0]
            r.rows_unchanged = ok - r.rows_new_versions
            if self.unkeyed_bad:
                r.notes.append(f"không tạo bản ghi xóa: {self.unkeyed_bad} bản ghi lỗi không xác định được khóa")
            else:
                r.rows_deleted = self._tombstones(t, cols)
            cur = conn.execute(
                sql.SQL(
                    "INSERT INTO raw.quarantine"
                    " (batch_id, source, entity, record_ref, field, reason, payload)"
                    " SELECT %s, %s, %s, record_ref, field, reason, payload FROM {} ORDER BY _line"
                ).format(self.qstage),
                (r.batch_id, e.source, e.entity),
            )
            r.rows_quarantined = cur.rowcount
            conn.execute(sql.SQL("DROP TABLE {}").format(self.latest))
            before_commit(self)
            r.status = "succeeded"
            self._mark_succeeded()

    def _window_text(self) -> str:
        if self.r.scope:
            return ", ".join(f"{k} = {_shown(v)}" for k, v in self.r.scope.items())
        if self.r.window_start:
            return f"{self.r.window_start.isoformat()}..{self.r.window_end.isoformat()}"
        return "toàn bộ"

    def _scope(self) -> tuple[sql.Composable, dict]:
        e = self.e
        conds: list[sql.Composable] = []
        params: dict[str, Any] = {}
        if e.date_column is not None:
            conds.append(sql.SQL("{} BETWEEN %(ws)s AND %(we)s").format(sql.Identifier(e.date_column)))
            params.update(ws=self.r.window_start, we=self.r.window_end)
        for i, (c, v) in enumerate((self.r.scope or {}).items()):
            conds.append(sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(f"s{i}")))
            params[f"s{i}"] = v
        return (sql.SQL(" AND ").join(conds) if conds else sql.SQL("true")), params

    def _tombstones(self, t: sql.Composable, cols: list[str]) -> int:
        e = self.e
        counts = set(e.count_columns)
        extra = self.tombstone_extra or {}
        select = []
        params: dict[str, Any] = {"batch": self.r.batch_id}
        for c in cols:
            if c in counts:
                select.append(sql.SQL("0"))
            elif c in extra:
                select.append(sql.Placeholder(f"x_{c}"))
                params[f"x_{c}"] = extra[c]
            else:
                select.append(sql.SQL("r.{}").format(sql.Identifier(c)))
        cond = sql.SQL("")
        for c in e.version_order:  # an older file version never deletes what a newer one holds
            if c in extra:
                cond += sql.SQL(" AND l.{} <= {}").format(sql.Identifier(c), sql.Placeholder(f"x_{c}"))
        cur = self.conn.execute(
            sql.SQL(
                "INSERT INTO {t} ({ident}, _batch_id, _row_hash, _is_deleted)"
                " SELECT {sel}, %(batch)s, {th}, true FROM {latest} l JOIN {t} r ON r._seq = l._seq"
                " WHERE NOT l._is_deleted{cond}"
                " AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match}) ORDER BY l._seq"
            ).format(
                latest=self.latest,
                stage=self.stage,
                t=t,
                ident=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                sel=sql.SQL(", ").join(select),
                th=sql.Literal(TOMBSTONE_HASH),
                cond=cond,
                match=self._key_match("s", "l"),
            ),
            params,
        )
        return cur.rowcount

    def _fail_on_drift(self) -> None:
        n = self.r.rows_received
        if not n:
            return
        everywhere = [f for f, c in self.drift.items() if c == n]
        if everywhere:
            unk = [f for f, c in self.unexpected.items() if c == n]
            hint = f"; nguồn trả về trường lạ: {', '.join(unk)}" if unk else ""
            raise LoadError(
                f"{self.e.source}/{self.e.entity}: lệch cấu trúc dữ liệu nguồn — trường "
                f"{', '.join(repr(f) for f in everywhere)} không có trong bất kỳ bản ghi nào "
                f"({n} bản ghi, {self._window_text()}){hint}. Lượt tải bị hủy, không ghi dữ liệu."
            )


def _shown(v: Any) -> str:
    return v.isoformat() if isinstance(v, date) else str(v)


def copy_text(entity: Entity, rows: list[tuple], tails: Iterable[tuple], ntail: int, suffix: str = "") -> bytes:
    """COPY text (tab-separated) of fast_rows() tuples, each followed by its `tails` values and `suffix`.
    The fast path's patterns keep tabs, newlines and backslashes out of its values, so nothing needs escaping;
    None is written as NULL."""
    fmt = "\t".join(["%s"] * (len(entity.fields) + ntail)) + suffix + "\n"
    nullable = [i for i, f in enumerate(entity.fields) if f.nullable]
    if any(None in set(map(itemgetter(i), rows)) for i in nullable):
        rows = [tuple("\\N" if v is None else v for v in t) for t in rows]
    return "".join([fmt % (t + tail) for t, tail in zip(rows, tails, strict=True)]).encode()


def before_commit(batch: _Batch) -> None:
    """Test seam: called inside the version transaction right before the audit is marked succeeded."""


_READ_REGISTER = object()  # load_batch(units=...): read the unit register in the batch (the default)


def load_batch(
    warehouse: str | Connections,
    entity: Entity,
    pages: Iterable[Iterable[SourceRow]],
    *,
    window_start: date | None = None,
    window_end: date | None = None,
    run_id: str = "cli",
    tombstone_extra: dict[str, Any] | None = None,
    check_units: bool = True,
    scope: dict[str, Any] | None = None,
    units: UnitRegister | None | object = _READ_REGISTER,
) -> BatchResult:
    """Load one batch. `pages` is consumed lazily (a page at a time); exceptions it raises (source
    errors) fail the batch like loader errors do. Raises after recording the failure.
    `warehouse`: a libpq URI (a connection of the batch's own) or an extraction's Connections (this thread's,
    reused). `units`: the unit register as the extractor read it at the start of its extraction (after loading
    it), instead of reading it again for every batch."""
    if entity.date_column and (window_start is None or window_end is None):
        raise ValueError(f"{entity.name} is a daily entity: window_start and window_end are required")
    if set(scope or ()) != set(entity.scope_columns):
        raise ValueError(f"{entity.name}: scope must give exactly {entity.scope_columns}, got {sorted(scope or ())}")
    result = BatchResult(
        batch_id=str(uuid.uuid4()),
        source=entity.source,
        entity=entity.entity,
        table=entity.table,
        window_start=window_start,
        window_end=window_end,
        scope={c: scope[c] for c in entity.scope_columns} if entity.scope_columns else None,
    )
    pool = warehouse if isinstance(warehouse, Connections) else None
    if pool is None:
        conn = psycopg.connect(warehouse, autocommit=True, application_name="chiso-loader")
        try:
            require_head(conn)  # the tables are the migrations' (./chiso migrate); a load takes no DDL lock
        except BaseException:
            conn.close()
            raise
    else:
        conn = pool.get()
    with _closing(conn, pool):
        # Our batch lock before our audit exists, so no other loader can take the audit for a dead one's.
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (BATCH_LOCK, result.batch_id))
        # Shared: batches of this code stage side by side; a holder of the exclusive entity lock is waited for.
        conn.execute("SELECT pg_advisory_lock_shared(hashtext(%s))", (_lock_id(entity),))
        _fail_stale_audits(conn, entity)
        conn.execute(
            "INSERT INTO raw.load_audit (batch_id, source, entity, window_start, window_end, run_id, status, scope)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'running', %s)",
            (
                result.batch_id,
                entity.source,
                entity.entity,
                window_start,
                window_end,
                run_id,
                Jsonb(result.as_dict()["scope"]) if result.scope else None,
            ),
        )
        if not (check_units and entity.unit_column):
            units = None
        elif units is _READ_REGISTER:
            units = unit_register(conn)
        batch = _Batch(conn, entity, result, units=units, tombstone_extra=tombstone_extra)
        try:
            batch.begin()
            for page in pages:
                batch.add_page(page)
            batch.commit()
        except BaseException as exc:
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc}"
            exc.chiso_batch_id = result.batch_id  # lets callers attach quarantine rows to this audit
            batch.abort(exc)
            try:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    conn.rollback()
                conn.execute(
                    "UPDATE raw.load_audit SET status = 'failed', finished_at = now(), rows_received = %s,"
                    " checksum = %s, error = %s WHERE batch_id = %s",
                    (result.rows_received, result.checksum, result.error[:4000], result.batch_id),
                )
            except psycopg.Error:  # the connection itself is gone: the next loader marks it failed
                log.exception("could not record the failure of batch %s", result.batch_id)
            raise
        finally:
            if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                batch.drop_work_tables()
                conn.execute("SELECT pg_advisory_unlock_shared(hashtext(%s))", (_lock_id(entity),))
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (BATCH_LOCK, result.batch_id))
    log.info(
        "%s.%s %s: %d received, %d new, %d unchanged, %d deleted, %d quarantined",
        entity.source,
        entity.entity,
        result.scope or f"{window_start}..{window_end}",
        result.rows_received,
        result.rows_new_versions,
        result.rows_unchanged,
        result.rows_deleted,
        result.rows_quarantined,
    )
    return result


class _closing:
    """A batch's own connection is closed after it; one of an extraction's Connections only when the batch left
    it unusable (inside a transaction: its session locks would stay held)."""

    def __init__(self, conn: psycopg.Connection, pool: Connections | None) -> None:
        self.conn, self.pool = conn, pool

    def __enter__(self) -> psycopg.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if self.pool is None:
            self.conn.close()
        elif self.conn.closed or self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.pool.discard(self.conn)


def chunks(start: date, end: date, days: int) -> Iterator[tuple[date, date]]:
    """Split [start, end] into consecutive windows of at most `days` days."""
    from datetime import timedelta

    if end < start:
        raise ValueError(f"window end {end} is before start {start}")
    cur = start
    while cur <= end:
        last = min(end, cur + timedelta(days=days - 1))
        yield cur, last
        cur = last + timedelta(days=1)
