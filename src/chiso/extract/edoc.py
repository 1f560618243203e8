"""E-document system (sources.md §2): API key header, cursor pagination."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from typing import Any

import httpx

from chiso.extract.common import (
    DEFAULT_CHUNK_DAYS,
    DEFAULT_CONCURRENCY,
    PREFETCH_PAGES,
    ExtractSummary,
    SourceConn,
    as_date,
    prefetched,
    run_loads,
)
from chiso.extract.http import JsonFetcher, RetryPolicy, fetch_page
from chiso.raw.entities import EDOC_DOCUMENTS_DAILY, fast_envelope, page_problems
from chiso.raw.loader import Connections, RecordPage, SourceRow, chunks, load_batch, registered_units

log = logging.getLogger(__name__)

SOURCE = "edoc"
PATH = "/api/v2/reports/documents/daily"
PAGE_SIZE = 500  # the documented maximum of limit
# Pages of the next date chunk read while one loads: a whole chunk (31 days x ~125 agencies = ~8 pages), since a
# cursor's pages come one request at a time (measured in bench/load_vs_copy.py: ~1.2 s -> ~1.0 s median per year
# on a loaded machine).
AHEAD_PAGES = 16


class EdocClient:
    def __init__(
        self,
        conn: SourceConn,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        page_size: int = PAGE_SIZE,
        prefetch: int = PREFETCH_PAGES,
    ) -> None:
        if not conn.password:
            raise ValueError("edoc_api: password (API key) is required")
        self.api_key = conn.password
        self.page_size = min(page_size, PAGE_SIZE)
        self.prefetch = prefetch  # pages a reading thread may fetch ahead of the loader (0: none)
        # No way to renew an API key: a 401 is not retried (authorize=None turns it into a hard error).
        self.http = JsonFetcher(SOURCE, conn.base_url, policy=policy, transport=transport)
        self.http.client.headers["X-API-Key"] = self.api_key

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> EdocClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pages(
        self, start: date, end: date, page_problems: Callable[[list], int] | None = None
    ) -> Iterator[tuple[int, str | None, list[dict]]]:
        """Yield (page number, cursor used, items) following next_cursor until it is null."""
        cursor: str | None = None
        prev_fp: str | None = None
        used: set[str] = set()
        n = 0
        typed = fast_envelope(EDOC_DOCUMENTS_DAILY, "items", required=("next_cursor",))
        while True:
            n += 1
            q: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(), "limit": self.page_size}
            if cursor:
                q["cursor"] = cursor
            body, items, prev_fp = fetch_page(
                self.http,
                PATH,
                q,
                get_items=lambda b: b["items"],
                validate=_envelope,
                previous=prev_fp,
                page_problems=page_problems,
                label=f"trang {n}",
                typed=typed,
            )
            if items:
                yield n, cursor, items
            nxt = body.get("next_cursor")
            if not nxt or not items:
                return
            if nxt in used or nxt == cursor:
                raise self.http.error("GET", PATH, q, f"next_cursor '{nxt}' đã dùng trước đó (vòng lặp phân trang)")
            used.add(nxt)
            cursor = nxt

    def rows(
        self, start: date, end: date, page_problems: Callable[[list], int] | None = None
    ) -> Iterator[list[SourceRow]]:
        pages = self.pages(start, end, page_problems)
        for n, cursor, items in prefetched(pages, self.prefetch, name=f"chiso-{SOURCE}-pages"):
            prefix = f"GET {PATH} from={start} to={end} trang {n}" + (f" (cursor={cursor})" if cursor else "")
            yield RecordPage(prefix, items)


def _envelope(body: Any) -> None:
    if not isinstance(body, dict):
        raise ValueError("phản hồi không phải đối tượng JSON")
    if not isinstance(body.get("items"), list):
        raise ValueError("thiếu danh sách 'items'")
    if "next_cursor" not in body:
        raise ValueError("thiếu 'next_cursor'")
    if body["next_cursor"] is not None and not isinstance(body["next_cursor"], str):
        raise ValueError("'next_cursor' không phải chuỗi")


def extract(
    conn: SourceConn,
    warehouse_uri: str,
    start: date | str,
    end: date | str,
    *,
    run_id: str = "cli",
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    policy: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    page_size: int = PAGE_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, Any]:
    """Extract daily document counts for [start, end], one batch (audit) per chunk of days: one at a time with
    the next chunk's pages read ahead, a whole chunk of them (a cursor's pages come one after another), or
    `concurrency` at a time."""
    start, end = as_date(start), as_date(end)
    summary = ExtractSummary(SOURCE, start, end)
    with (
        Connections(warehouse_uri) as db,
        EdocClient(conn, policy=policy, transport=transport, page_size=page_size) as client,
    ):
        units = registered_units(db)  # read once: the pages' checks and every batch use this one
        check = partial(page_problems, EDOC_DOCUMENTS_DAILY, known_units=units)

        def job(cs: date, ce: date) -> tuple:
            load = partial(
                load_batch, db, EDOC_DOCUMENTS_DAILY, window_start=cs, window_end=ce, run_id=run_id, units=units
            )
            return partial(client.rows, cs, ce, check), load

        jobs = [job(cs, ce) for cs, ce in chunks(start, end, chunk_days)]
        for r in run_loads(jobs, concurrency, ahead_pages=AHEAD_PAGES):
            summary.add(r)
    return summary.as_dict()
