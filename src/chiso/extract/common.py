"""Pieces shared by the extractors: connection parameters, windows, summaries."""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_CHUNK_DAYS = 31
# Date chunks in flight at once. One: each client reads its pages in a thread ahead of the loader
# (prefetched), which overlaps reading with loading; a second chunk in flight would find the entity's commit
# lock held by the first (writing once) and have to stage and version its rows — twice the PostgreSQL work
# (a year of one-stop-shop counts: ~3.5 s of server CPU instead of ~2.2 s) for no shorter wall time.
DEFAULT_CONCURRENCY = 1


@dataclass(frozen=True)
class SourceConn:
    """What an extractor needs from an Airflow connection, without importing Airflow."""

    base_url: str = ""
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_airflow(cls, conn: Any) -> SourceConn:
        """Build from an Airflow Connection (duck-typed: host, port, schema, login, password, extra_dejson)."""
        host = (conn.host or "").strip()
        scheme = (getattr(conn, "conn_type", None) or "http").lower()
        if scheme not in ("http", "https"):
            scheme = "http"
        schema = (conn.schema or "").strip()
        if schema.lower() in ("http", "https"):  # Airflow's HTTP convention: schema = URL scheme
            scheme, schema = schema.lower(), ""
        port = f":{conn.port}" if conn.port else ""
        base = host.rstrip("/") if "://" in host else f"{scheme}://{host}{port}"
        if schema:  # otherwise a path prefix (e.g. a route on the LGSP gateway)
            base += "/" + schema.strip("/")
        extra = getattr(conn, "extra_dejson", None) or {}
        return cls(base_url=base, login=conn.login, password=conn.password, extra=dict(extra))


def warehouse_uri_from_airflow(conn: Any) -> str:
    """libpq URI from the warehouse_db connection (loader role)."""
    from chiso.warehouse.connections import build_uri

    return build_uri(conn.host, conn.port, conn.schema, conn.login, conn.password)


def as_date(v: date | str) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def scheduled_window(logical_date: date | datetime, lookback_days: int = DEFAULT_LOOKBACK_DAYS) -> tuple[date, date]:
    """The daily run covers the previous day plus the lookback: [D - lookback, D] with D = the day
    before the run's logical date (the run at 01:00 on the 15th reads up to the 14th)."""
    d = as_date(logical_date) - timedelta(days=1)
    return d - timedelta(days=lookback_days), d


@dataclass
class ExtractSummary:
    source: str
    window_start: date
    window_end: date
    batches: list[dict[str, Any]] = field(default_factory=list)
    rejected_files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, result: Any) -> None:
        self.batches.append(result.as_dict())

    def totals(self) -> dict[str, int]:
        keys = ("rows_received", "rows_new_versions", "rows_unchanged", "rows_deleted", "rows_quarantined")
        return {k: sum(b.get(k) or 0 for b in self.batches) for k in keys}

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "batches": self.batches,
            "totals": self.totals(),
            "rejected_files": self.rejected_files,
        }


def run_batches(jobs: list[Callable[[], T]], concurrency: int = DEFAULT_CONCURRENCY) -> list[T]:
    """Run jobs (date chunks, each its own batches) with up to `concurrency` at once; results in job
    order. After a failure no further job starts, those running finish (each batch is atomic), and the
    failure of the earliest failed job is raised."""
    if concurrency <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="chiso-extract") as pool:
        futures = [pool.submit(job) for job in jobs]
        out: list[T] = []
        try:
            for f in futures:
                out.append(f.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return out


# How many pages a client's reading thread may have fetched and decoded ahead of the loader.
PREFETCH_PAGES = 2
# Requests of one page-numbered list in flight at once: two keep the source busy while we decode the page it
# just sent (measured in bench/load_vs_copy.py) and stay polite to a provincial system.
PAGES_IN_FLIGHT = 2


class _Producer:
    """A thread reading `items` into a queue at most `depth` ahead of the consumer (see prefetched)."""

    _done = object()

    def __init__(self, items: Iterable[T], depth: int, name: str) -> None:
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(items,), name=name, daemon=True)
        self.thread.start()

    def _put(self, entry: tuple) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterable[T]) -> None:
        it = iter(items)
        try:
            for item in it:
                if not self._put((item, None)) or self.stop.is_set():
                    return
            self._put((self._done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            self._put((self._done, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def consume(self) -> Iterator[T]:
        while True:
            item, exc = self.q.get()
            if item is self._done:
                if exc is not None:
                    raise exc
                return
            yield item

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def prefetched(items: Iterable[T], depth: int = PREFETCH_PAGES, name: str = "chiso-prefetch") -> Iterator[T]:
    """Yield the items of `items` in order while a thread already produces the next ones (at most `depth`
    ahead): fetching and decoding page n+1 overlaps the loading of page n. An exception of the producer is
    raised here after the items produced before it. Closing this generator early (the consumer failed) stops
    the producer once the item in hand is done — no further item is requested — and waits for it."""
    if depth <= 0:
        yield from items
        return
    producer = _Producer(items, depth, name)
    try:
        yield from producer.consume()
    finally:
        producer.close()


class Ahead(Iterator[T]):
    """prefetched() whose thread starts at once, not at the first next(): the items are already being read while
    their consumer still gets ready (a batch's connection, audit and locks). close() stops the thread (also when
    nothing was consumed); call it in every case."""

    def __init__(self, items: Iterable[T], depth: int = 1, name: str = "chiso-ahead") -> None:
        self._producer = _Producer(items, depth, name)
        self._items = self._producer.consume()

    def __next__(self) -> T:
        return next(self._items)

    def close(self) -> None:
        self._items.close()
        self._producer.close()


# One at a time (run_loads), the pages of this many following batches are read while a batch loads, each up to
# AHEAD_PAGES pages ahead by default. A client whose pages come one request after another (edoc's cursor) asks
# for more (edoc.AHEAD_PAGES): only reading the next chunk meanwhile hides the source's response time; a client
# with pages in flight already (one-stop-shop) gains nothing from more and only competes with the loader for the
# interpreter. Measured in bench/load_vs_copy.py.
AHEAD_BATCHES = 1
AHEAD_PAGES = 1


def run_loads(
    jobs: list[tuple[Callable[[], Iterable[Any]], Callable[[Iterable[Any]], T]]],
    concurrency: int = DEFAULT_CONCURRENCY,
    *,
    ahead_batches: int | None = None,
    ahead_pages: int | None = None,
) -> list[T]:
    """Batches given as (pages, load): `pages()` makes a batch's lazy page iterator, `load(pages)` loads it.
    One at a time (concurrency 1), the pages of the next `ahead_batches` batches are read ahead (Ahead, up to
    `ahead_pages` each) while the current one loads, so the source's response time, at every chunk boundary and
    within a cursor's chain of pages, overlaps the loading instead of adding up; with its one connection
    (loader.Connections) a batch then costs little more than its rows. Several at once: run_batches. Results
    in job order; the earliest failure is raised and every reader is stopped."""
    if concurrency > 1 and len(jobs) > 1:
        return run_batches([partial(_load, pages, load) for pages, load in jobs], concurrency)
    n_ahead = AHEAD_BATCHES if ahead_batches is None else ahead_batches
    depth = AHEAD_PAGES if ahead_pages is None else ahead_pages
    out: list[T] = []
    current: Iterator[Any] | None = None
    following: deque[Ahead] = deque()
    started = 0  # jobs whose reader exists (current or following)
    try:
        for pages, load in jobs:
            if following:
                current = following.popleft()
            else:
                current = iter(pages())
                started += 1
            while started < len(jobs) and len(following) < n_ahead:
                following.append(Ahead(jobs[started][0](), depth, name="chiso-extract-ahead"))
                started += 1
            out.append(load(current))
            _close(current)
            current = None
    finally:
        for it in (current, *following):
            _close(it)
    return out


def _load(pages: Callable[[], Iterable[Any]], load: Callable[[Iterable[Any]], T]) -> T:
    return load(pages())


def _close(it: Any) -> None:
    close = getattr(it, "close", None)
    if close is not None:
        close()
