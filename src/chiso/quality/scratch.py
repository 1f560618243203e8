"""Scratch tables: each asset's rows materialised once into an unlogged table in schema `quality`.

A suite's checks then read a plain table instead of re-running the asset's query (a `_latest` view,
window functions, register lookups) for every metric query Great Expectations issues. The tables are
built by background threads, each on its own connection, so PostgreSQL works on them while the
caller imports Great Expectations and validates the suites whose tables are ready.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg

from chiso.quality.store import plain_uri

PREFIX = "_batch_"
# Tables are built one at a time per spare core: one core stays free for the caller, which is busy
# importing Great Expectations and validating meanwhile (on the 2-core demo machine: one builder).
WORKERS = max(1, (os.cpu_count() or 2) - 1)


def drop_stale(conn: psycopg.Connection, max_age_s: int = 86400) -> None:
    """Scratch tables of runs that died (killed worker) are named with their creation time."""
    now = int(time.time())
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'quality' AND tablename LIKE %s", (PREFIX + "%",)
    ).fetchall()
    for (t,) in rows:
        m = re.match(rf"{PREFIX}(\d+)_", t)
        if m and now - int(m.group(1)) > max_age_s:
            conn.execute(f'DROP TABLE IF EXISTS quality."{t}"')


class ScratchTables:
    """`submit` starts building a table, `table` waits for its name (or raises the build's
    psycopg.Error), `drop` removes tables no longer needed; `close` drops whatever is left."""

    def __init__(self, uri: str, workers: int = WORKERS) -> None:
        self._uri = plain_uri(uri)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="chiso-scratch")
        self._futures: dict[tuple[str, str], Future[str]] = {}
        self._created: list[str] = []
        self._lock = threading.Lock()

    def submit(self, key: tuple[str, str], query: str, *, analyze: bool) -> None:
        self._futures[key] = self._pool.submit(self._build, query, analyze)

    def table(self, key: tuple[str, str]) -> str:
        return self._futures[key].result()

    def _build(self, query: str, analyze: bool) -> str:
        name = f"{PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
        with psycopg.connect(self._uri, autocommit=True) as conn:
            conn.execute(f'CREATE UNLOGGED TABLE quality."{name}" AS {query}')
            with self._lock:
                self._created.append(name)
            if analyze:  # only hand-written SQL checks join the table; plain column checks just scan it
                conn.execute(f'ANALYZE quality."{name}"')
        return name

    def drop(self, keys: list[tuple[str, str]]) -> None:
        names = []
        for key in keys:
            fut = self._futures.pop(key, None)
            if fut is not None and fut.done() and fut.exception() is None:
                names.append(fut.result())
        self._drop(names)

    def _drop(self, names: list[str]) -> None:
        if not names:
            return
        with psycopg.connect(self._uri, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP TABLE IF EXISTS quality."{name}"')
        with self._lock:
            self._created = [n for n in self._created if n not in names]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            left = list(self._created)
        self._drop(left)

    def __enter__(self) -> ScratchTables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
