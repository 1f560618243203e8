"""One-stop-shop system (sources.md §1): OAuth2 client credentials, page-numbered lists.

Pages are fetched one at a time and handed to the loader as they arrive, so memory holds one page
whatever a day's volume. A token that expires mid-pagination is refreshed and the page retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import date
from functools import partial
from typing import Any

import httpx

from chiso.extract.common import (
    DEFAULT_CHUNK_DAYS,
    DEFAULT_CONCURRENCY,
    PAGES_IN_FLIGHT,
    PREFETCH_PAGES,
    ExtractSummary,
    SourceConn,
    as_date,
    prefetched,
    run_loads,
)
from chiso.extract.http import JsonFetcher, RetryPolicy, SourceError, TransientPage, fetch_page
from chiso.raw.entities import (
    OSS_DOSSIER_DAILY,
    OSS_PETITION_DAILY,
    OSS_PROCEDURES,
    OSS_UNITS,
    Entity,
    fast_envelope,
    page_problems,
)
from chiso.raw.loader import Connections, RecordPage, SourceRow, chunks, load_batch, registered_units

log = logging.getLogger(__name__)

SOURCE = "one_stop_shop"
PAGE_SIZE = 1000  # the documented maximum of soBanGhi
ENVELOPE_MEMBERS = ("trang", "soBanGhi", "tongSoBanGhi", "tongSoTrang")

ENDPOINTS: dict[str, tuple[str, Entity]] = {
    "units": ("/api/v1/don-vi", OSS_UNITS),
    "procedures": ("/api/v1/thu-tuc", OSS_PROCEDURES),
    "dossier_daily": ("/api/v1/thong-ke/ho-so", OSS_DOSSIER_DAILY),
    "petition_daily": ("/api/v1/thong-ke/phan-anh-kien-nghi", OSS_PETITION_DAILY),
}


class OneStopShopClient:
    def __init__(
        self,
        conn: SourceConn,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        page_size: int = PAGE_SIZE,
        prefetch: int = PREFETCH_PAGES,
        pages_in_flight: int = PAGES_IN_FLIGHT,
    ) -> None:
        if not conn.login or not conn.password:
            raise ValueError("one_stop_shop_api: login (client id) and password (client secret) are required")
        self.conn = conn
        self.page_size = min(page_size, PAGE_SIZE)
        self.prefetch = prefetch  # pages a reading thread may fetch ahead of the loader (0: none)
        self.pages_in_flight = max(1, pages_in_flight)  # requests of one list sent at once, once its size is known
        self._token: str | None = None
        self._token_expiry = 0.0
        self._lock = threading.Lock()
        self.http = JsonFetcher(SOURCE, conn.base_url, policy=policy, transport=transport, authorize=self._authorize)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OneStopShopClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ auth
    def _fetch_token(self) -> None:
        def check(body: Any) -> None:
            if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
                raise ValueError("thiếu 'access_token'")

        body = self.http.request_json(
            "POST",
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.conn.login,
                "client_secret": self.conn.password,
            },
            validate=check,
            authenticated=False,
        )
        self._token = body["access_token"]
        expires_in = body.get("expires_in")
        ttl = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 300.0
        # Renew a little early; the 401 path covers clocks and servers that disagree.
        self._token_expiry = time.monotonic() + max(ttl * 0.9, ttl - 30)

    def _authorize(self, headers: dict[str, str], force: bool) -> None:
        with self._lock:
            if force or self._token is None or time.monotonic() >= self._token_expiry:
                self._fetch_token()
            headers["Authorization"] = f"Bearer {self._token}"

    # ------------------------------------------------------------ lists
    def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        page_problems: Callable[[list], int] | None = None,
        entity: Entity | None = None,
    ) -> Iterator[tuple[int, list[dict]]]:
        """Yield (page number, items) for every page of a list endpoint, in order. With `entity`, a page of
        records of the documented shape is decoded straight into typed rows (entities.fast_struct).

        Page 1 says how many pages there are; the following ones are then requested `pages_in_flight` at a
        time, so the source's response time overlaps our decoding instead of adding to it. A page equal to
        the one before it (a source that repeats itself) is read again on its own until it differs."""
        typed = fast_envelope(entity, "duLieu", optional=ENVELOPE_MEMBERS) if entity is not None else None
        base = dict(params or {})

        def fetch(trang: int, previous: str | None) -> tuple[Any, list, str | None]:
            return fetch_page(
                self.http,
                path,
                {**base, "trang": trang, "soBanGhi": self.page_size},
                get_items=lambda b: b["duLieu"],
                validate=_envelope(trang),
                previous=previous,
                page_problems=page_problems,
                label=f"trang {trang}",
                typed=typed,
            )

        pool = ThreadPoolExecutor(self.pages_in_flight, f"chiso-{SOURCE}-page") if self.pages_in_flight > 1 else None
        ahead: dict[int, Future] = {}
        prev_fp: str | None = None
        trang, total_pages, seen = 1, None, 0
        try:
            while True:
                f = ahead.pop(trang, None)
                if f is None:
                    body, items, fp = fetch(trang, prev_fp)
                else:
                    body, items, fp = f.result()
                    if fp is not None and fp == prev_fp:  # fetched without knowing its predecessor
                        body, items, fp = fetch(trang, prev_fp)
                prev_fp = fp
                total_pages = _int(body.get("tongSoTrang"), default=total_pages)
                total_rows = _int(body.get("tongSoBanGhi"), default=None)
                last = not items or (total_pages is not None and trang >= total_pages)
                if pool is not None and not last and total_pages is not None:
                    for n in range(trang + 1, min(total_pages, trang + self.pages_in_flight) + 1):
                        if n not in ahead:
                            ahead[n] = pool.submit(fetch, n, None)
                if items:
                    seen += len(items)
                    yield trang, items
                if last:
                    if total_rows is not None and seen != total_rows:
                        # Counts move while we read (late corrections); worth a note, not a failure.
                        log.warning(
                            "%s %s %s: read %d rows, server announced %d", SOURCE, path, base, seen, total_rows
                        )
                    return
                trang += 1
        finally:
            # stopped early (a failure, the consumer closed us, the list shrank): no request outlives the listing
            for f in ahead.values():
                f.cancel()
            wait_futures(list(ahead.values()))
            if pool is not None:
                pool.shutdown(wait=True)

    def rows(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        page_problems: Callable[[list], int] | None = None,
        entity: Entity | None = None,
    ) -> Iterator[list[SourceRow]]:
        shown = " ".join(f"{k}={v}" for k, v in (params or {}).items())
        pages = self.pages(path, params, page_problems, entity)
        for trang, items in prefetched(pages, self.prefetch, name=f"chiso-{SOURCE}-pages"):
            yield RecordPage(f"GET {path}{' ' + shown if shown else ''} trang={trang} soBanGhi={self.page_size}", items)


def _int(v: Any, default: int | None) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _envelope(trang: int):
    def check(body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError("phản hồi không phải đối tượng JSON")
        if not isinstance(body.get("duLieu"), list):
            raise ValueError("thiếu danh sách 'duLieu'")
        got = body.get("trang")
        if got is not None and got != trang:
            raise TransientPage(f"yêu cầu trang {trang} nhưng nhận trang {got}")

    return check


def extract(
    conn: SourceConn,
    warehouse_uri: str,
    start: date | str,
    end: date | str,
    *,
    run_id: str = "cli",
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    entities: tuple[str, ...] = ("units", "procedures", "dossier_daily", "petition_daily"),
    policy: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    page_size: int = PAGE_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, Any]:
    """Extract the one-stop-shop system for [start, end] into raw.

    Registers (units, procedures) are full snapshots, loaded first so the daily counts are checked
    against the fresh unit register. Daily counts load in chunks of `chunk_days` (one audit per
    chunk and entity), one batch at a time with the next one's pages read ahead, or `concurrency` at a time.
    Raises SourceError/LoadError of the earliest failed batch (batches that succeeded stay; each is atomic)."""
    start, end = as_date(start), as_date(end)
    summary = ExtractSummary(SOURCE, start, end)
    with (
        OneStopShopClient(conn, policy=policy, transport=transport, page_size=page_size) as client,
        Connections(warehouse_uri) as db,
    ):
        for name in ("units", "procedures"):
            if name in entities:
                path, entity = ENDPOINTS[name]
                check = partial(page_problems, entity, known_units=None)
                summary.add(load_batch(db, entity, client.rows(path, None, check, entity), run_id=run_id))
        # Read once, after the register's own batch: the pages' checks and every daily batch use this one.
        units = registered_units(db)

        def job(name: str, cs: date, ce: date) -> tuple:
            path, entity = ENDPOINTS[name]
            params = {"tuNgay": cs.isoformat(), "denNgay": ce.isoformat()}
            check = partial(page_problems, entity, known_units=units)
            load = partial(load_batch, db, entity, window_start=cs, window_end=ce, run_id=run_id, units=units)
            return partial(client.rows, path, params, check, entity), load

        names = [n for n in ("dossier_daily", "petition_daily") if n in entities]
        jobs = [job(name, cs, ce) for cs, ce in chunks(start, end, chunk_days) for name in names]
        for r in run_loads(jobs, concurrency):
            summary.add(r)
    return summary.as_dict()


__all__ = ["OneStopShopClient", "SourceError", "extract"]
