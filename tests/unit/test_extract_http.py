"""HTTP extract clients against in-test fake servers (httpx.MockTransport) that follow sources.md
and inject faults: 429 + Retry-After, 5xx, timeouts, token expiry mid-pagination, invalid JSON,
repeated pages."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import date, timedelta
from functools import partial
from urllib.parse import parse_qs

import httpx
import pytest

from chiso.extract.common import SourceConn, prefetched, run_loads, scheduled_window
from chiso.extract.edoc import EdocClient
from chiso.extract.http import RetryPolicy, SourceError, retry_after_seconds
from chiso.extract.one_stop_shop import OneStopShopClient


def dossier_rows(n: int) -> list[dict]:
    day = date(2024, 5, 1)
    return [
        {"ngay": (day + timedelta(days=i % 3)).isoformat(), "maDinhDanh": f"000.00.{i:02d}.H26", "maThuTuc": "1.001"}
        for i in range(n)
    ]


class FakeOSS:
    """sources.md §1 with scripted faults. `faults` maps the n-th list request (1-based) to a fault."""

    def __init__(self, rows: list[dict], faults: dict[int, str] | None = None, expire_after: int | None = None):
        self.rows = rows
        self.faults = faults or {}
        self.expire_after = expire_after  # a token becomes invalid after this many list requests
        self.tokens: dict[str, int] = {}
        self.issued = 0
        self.list_requests = 0
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/oauth/token":
            form = parse_qs(request.content.decode())
            if form.get("client_id") != ["cid"] or form.get("client_secret") != ["secret"]:
                return httpx.Response(401, json={"error": "invalid_client"})
            assert form["grant_type"] == ["client_credentials"]
            self.issued += 1
            tok = f"t{self.issued}"
            self.tokens[tok] = 0
            return httpx.Response(200, json={"access_token": tok, "token_type": "Bearer", "expires_in": 300})
        auth = request.headers.get("Authorization", "")
        tok = auth.removeprefix("Bearer ")
        if tok not in self.tokens:
            return httpx.Response(401)
        if self.expire_after is not None and self.tokens[tok] >= self.expire_after:
            return httpx.Response(401)
        self.tokens[tok] += 1
        self.list_requests += 1
        fault = self.faults.get(self.list_requests)
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "7"})
        if fault == "503":
            return httpx.Response(503)
        if fault == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if fault == "badjson":
            return httpx.Response(200, content=b'{"trang": 1, "duLieu": [{"ngay": "2024-')
        q = request.url.params
        trang, size = int(q["trang"]), int(q["soBanGhi"])
        if fault == "repeat" and trang > 1:
            trang -= 1
        page = self.rows[(trang - 1) * int(q["soBanGhi"]) : trang * int(q["soBanGhi"])]
        if fault == "bad":
            page = [{**page[0], "bad": True}, *page[1:]]
        pages = max(1, -(-len(self.rows) // size))
        body = {
            "trang": int(q["trang"]),
            "soBanGhi": size,
            "tongSoBanGhi": len(self.rows),
            "tongSoTrang": pages,
            "duLieu": page,
        }
        return httpx.Response(200, json=body)


def policy(sleeps: list[float], attempts: int = 5) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_delay=0.5, sleep=sleeps.append, rng=random.Random(1))


CONN = SourceConn("http://oss.test", "cid", "secret")


def read_all(server: FakeOSS, sleeps: list[float], page_size: int = 4, attempts: int = 5) -> list[dict]:
    client = OneStopShopClient(
        CONN,
        policy=policy(sleeps, attempts),
        transport=httpx.MockTransport(server),
        pages_in_flight=1,
        page_size=page_size,
    )
    with client:
        return [rec for page in client.rows("/api/v1/thong-ke/ho-so", {"tuNgay": "x"}) for rec in page]


def test_pages_are_read_in_order_with_refs():
    rows = dossier_rows(10)
    server = FakeOSS(rows)
    sleeps: list[float] = []
    client = OneStopShopClient(
        CONN, policy=policy(sleeps), transport=httpx.MockTransport(server), pages_in_flight=1, page_size=4
    )
    pages = list(client.rows("/api/v1/thong-ke/ho-so", {"tuNgay": "2024-05-01", "denNgay": "2024-05-03"}))
    assert [len(p) for p in pages] == [4, 4, 2]
    assert [r.record for p in pages for r in p] == rows
    assert (
        pages[1][2].ref == "GET /api/v1/thong-ke/ho-so tuNgay=2024-05-01 denNgay=2024-05-03 trang=2 soBanGhi=4 dòng 3"
    )
    assert server.issued == 1 and sleeps == []


def test_429_honours_retry_after_and_5xx_timeouts_back_off():
    rows = dossier_rows(10)
    server = FakeOSS(rows, faults={1: "429", 3: "503", 4: "timeout", 6: "badjson"})
    sleeps: list[float] = []
    assert [r.record for r in read_all(server, sleeps)] == rows
    assert sleeps[0] == 7.0  # Retry-After
    assert len(sleeps) == 4 and all(0 < s <= 60 for s in sleeps[1:])


def test_token_expiry_mid_pagination_refreshes_and_retries_the_page():
    rows = dossier_rows(10)
    server = FakeOSS(rows, expire_after=2)
    sleeps: list[float] = []
    assert [r.record for r in read_all(server, sleeps)] == rows
    assert server.issued == 2  # refreshed once, on the 3rd page
    assert sleeps == []  # a 401 is answered by re-authentication, not by waiting


def test_repeated_page_is_refetched():
    rows = dossier_rows(10)
    server = FakeOSS(rows, faults={2: "repeat"})
    assert [r.record for r in read_all(server, [])] == rows


def test_page_with_bad_rows_is_read_again_and_best_copy_kept():
    rows = dossier_rows(10)

    def bad_rows(items: list) -> int:
        return sum(1 for r in items if r.get("bad"))

    server = FakeOSS(rows, faults={2: "bad", 3: "bad"})
    with OneStopShopClient(
        CONN, policy=policy([]), transport=httpx.MockTransport(server), pages_in_flight=1, page_size=4
    ) as c:
        got = [r.record for p in c.rows("/api/v1/thong-ke/ho-so", None, bad_rows) for r in p]
    assert got == rows and server.list_requests == 5
    # Persistent bad rows: after the bounded re-reads the page is handed on (the loader quarantines).
    server = FakeOSS(rows, faults=dict.fromkeys(range(2, 6), "bad"))
    with OneStopShopClient(
        CONN, policy=policy([]), transport=httpx.MockTransport(server), pages_in_flight=1, page_size=4
    ) as c:
        got = [r.record for p in c.rows("/api/v1/thong-ke/ho-so", None, bad_rows) for r in p]
    assert sum(1 for r in got if r.get("bad")) == 1 and server.list_requests == 1 + 4 + 1


def test_persistently_repeated_page_fails_naming_the_request():
    rows = dossier_rows(10)
    server = FakeOSS(rows, faults=dict.fromkeys(range(2, 10), "repeat"))
    with pytest.raises(SourceError) as ei:
        read_all(server, [])
    msg = str(ei.value)
    assert "[one_stop_shop]" in msg and "http://oss.test/api/v1/thong-ke/ho-so" in msg and "'trang': 2" in msg
    assert "trùng nội dung" in msg


def test_bounded_attempts_then_clear_error():
    server = FakeOSS(dossier_rows(3), faults=dict.fromkeys(range(1, 20), "503"))
    sleeps: list[float] = []
    with pytest.raises(SourceError, match=r"thất bại sau 3 lần thử; lỗi cuối: HTTP 503"):
        read_all(server, sleeps, attempts=3)
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] / 2


def test_wrong_credentials_fail_without_leaking_the_secret():
    server = FakeOSS(dossier_rows(3))
    bad = SourceConn("http://oss.test", "cid", "wrong")
    client = OneStopShopClient(bad, policy=policy([]), transport=httpx.MockTransport(server), pages_in_flight=1)
    with pytest.raises(SourceError) as ei:
        list(client.rows("/api/v1/don-vi"))
    assert "/oauth/token" in str(ei.value) and "HTTP 401" in str(ei.value)
    assert "wrong" not in str(ei.value)


def test_retry_after_http_date():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("soon") is None


class FakeEdoc:
    def __init__(self, rows: list[dict], faults: dict[int, str] | None = None):
        self.rows, self.faults, self.n = rows, faults or {}, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("X-API-Key") != "k3y":
            return httpx.Response(401)
        self.n += 1
        fault = self.faults.get(self.n)
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "2"})
        if fault == "502":
            return httpx.Response(502, text="<html>bad gateway</html>")
        if fault == "timeout":
            raise httpx.ConnectTimeout("slow", request=request)
        if fault == "badjson":
            return httpx.Response(200, content=b"<html>")
        q = request.url.params
        limit = int(q["limit"])
        start = int(q.get("cursor", "c0")[1:])
        if fault == "repeat" and start:
            start -= limit
        if fault == "loop":
            return httpx.Response(200, json={"items": self.rows[start : start + limit], "next_cursor": "c0"})
        nxt = start + limit
        body = {"items": self.rows[start:nxt], "next_cursor": f"c{nxt}" if nxt < len(self.rows) else None}
        return httpx.Response(200, json=body)


def edoc_rows(n: int) -> list[dict]:
    return [{"report_date": "2024-05-01", "org_code": f"000.00.{i:02d}.H26"} for i in range(n)]


def read_edoc(server: FakeEdoc, key: str = "k3y", sleeps: list[float] | None = None) -> list[dict]:
    conn = SourceConn("http://edoc.test", password=key)
    sleeps = [] if sleeps is None else sleeps
    with EdocClient(conn, policy=policy(sleeps), transport=httpx.MockTransport(server), page_size=3) as c:
        return [r.record for page in c.rows(date(2024, 5, 1), date(2024, 5, 2)) for r in page]


def test_edoc_cursor_pagination_with_faults():
    rows = edoc_rows(10)
    sleeps: list[float] = []
    assert (
        read_edoc(FakeEdoc(rows, {1: "429", 3: "502", 4: "timeout", 5: "badjson", 7: "repeat"}), sleeps=sleeps) == rows
    )
    assert sleeps[0] == 2.0


def test_edoc_cursor_loop_and_bad_key_fail_clearly():
    with pytest.raises(SourceError, match="vòng lặp phân trang"):
        read_edoc(FakeEdoc(edoc_rows(10), {2: "loop"}))
    with pytest.raises(SourceError, match=r"\[edoc\].*HTTP 401"):
        read_edoc(FakeEdoc(edoc_rows(3)), key="nope")


def test_edoc_envelope_checked():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"data": []}).encode())

    conn = SourceConn("http://edoc.test", password="k3y")
    with (
        EdocClient(conn, policy=policy([], attempts=2), transport=httpx.MockTransport(handler)) as c,
        pytest.raises(SourceError, match="thiếu danh sách 'items'"),
    ):
        list(c.rows(date(2024, 5, 1), date(2024, 5, 1)))


def test_scheduled_window_is_previous_day_plus_lookback():
    assert scheduled_window(date(2024, 5, 15)) == (date(2024, 5, 7), date(2024, 5, 14))
    assert scheduled_window(date(2024, 5, 15), lookback_days=0) == (date(2024, 5, 14), date(2024, 5, 14))


def test_prefetched_yields_in_order_at_most_depth_ahead_then_raises_the_producers_error():
    produced: list[int] = []
    taken: list[int] = []

    def items():
        for i in range(6):
            produced.append(i)
            yield i
        raise SourceError("one_stop_shop", "GET", "http://oss.test/x", {"trang": 7}, "HTTP 503")

    it = prefetched(items(), depth=2)
    with pytest.raises(SourceError, match="HTTP 503"):
        for i in it:
            time.sleep(0.02)  # let the producer run ahead as far as it may
            # the item in hand, `depth` queued, and one more being put
            assert len(produced) - len(taken) <= 2 + 2
            taken.append(i)
    assert taken == list(range(6))


def test_prefetched_closed_early_stops_the_producer_and_closes_its_source():
    requested: list[int] = []
    closed = threading.Event()

    def items():
        try:
            for i in range(1000):
                requested.append(i)
                yield i
        finally:
            closed.set()

    it = prefetched(items(), depth=2)
    assert next(it) == 0
    time.sleep(0.05)
    it.close()  # the consumer failed: returns once the producer has stopped
    assert closed.is_set()
    n = len(requested)
    assert n <= 1 + 2 + 1
    time.sleep(0.05)
    assert len(requested) == n  # nothing more requested after close
    assert not any(t.name.startswith("chiso-prefetch") for t in threading.enumerate())


def test_run_loads_reads_the_next_batch_while_one_loads_and_stops_every_reader_on_a_failure():
    produced: list[tuple[int, int]] = []
    closed: set[int] = set()

    def pages(b: int):
        try:
            for i in range(3):
                produced.append((b, i))
                yield (b, i)
        finally:
            closed.add(b)

    def load(b: int, it):
        got = list(it)
        time.sleep(0.1)  # a batch's commit: the next batch's reader is already at work
        assert (b + 1, 0) in produced or b == 3
        if b == 2:
            raise RuntimeError("batch 2 failed")
        return got

    jobs = [(partial(pages, b), partial(load, b)) for b in range(4)]
    with pytest.raises(RuntimeError, match="batch 2 failed"):
        run_loads(jobs)
    assert closed == {0, 1, 2, 3}  # batch 3's pages were being read: stopped and closed, nothing left running
    assert not any(t.name.startswith("chiso-extract-ahead") for t in threading.enumerate())
    assert run_loads(jobs[:2]) == [[(0, i) for i in range(3)], [(1, i) for i in range(3)]]


def test_run_loads_reads_following_batches_up_to_their_bound_while_one_loads():
    produced: dict[int, int] = {}

    def pages(b: int):
        for i in range(20):
            produced[b] = i + 1
            yield (b, i)

    seen_while_loading: list[dict[int, int]] = []

    def load(b: int, it):
        got = list(it)
        time.sleep(0.2)  # the readers of the following batches run meanwhile, then wait at their bound
        seen_while_loading.append(dict(produced))
        return got

    jobs = [(partial(pages, b), partial(load, b)) for b in range(4)]
    out = run_loads(jobs, ahead_batches=2, ahead_pages=5)
    assert out == [[(b, i) for i in range(20)] for b in range(4)]  # every page, in order
    first = seen_while_loading[0]
    assert set(first) == {0, 1, 2}  # batches 1 and 2 read ahead, batch 3 not yet
    # each reader went beyond one page but stopped at its bound (queue + the item in hand + one blocked put)
    assert all(5 <= first[b] <= 5 + 2 for b in (1, 2))
    assert not any(t.name.startswith("chiso-extract-ahead") for t in threading.enumerate())


def test_prefetching_client_yields_pages_in_order_and_stops_cleanly_on_a_fault():
    rows = dossier_rows(10)
    server = FakeOSS(rows, faults=dict.fromkeys(range(3, 20), "503"))  # pages 1-2 fine, then 503 for good
    client = OneStopShopClient(
        CONN,
        policy=policy([], attempts=3),
        transport=httpx.MockTransport(server),
        pages_in_flight=1,
        page_size=4,
        prefetch=2,
    )
    got = []
    with client, pytest.raises(SourceError, match=r"HTTP 503") as ei:
        for page in client.rows("/api/v1/thong-ke/ho-so", {"tuNgay": "x"}):
            got.append([r.record for r in page])
    assert got == [rows[:4], rows[4:8]]  # the pages before the fault, in order
    assert "'trang': 3" in str(ei.value)
    assert server.list_requests == 2 + 3  # no request after the failing page's attempts

    # the loader fails on the first page: the reading thread stops, no page is read beyond its look-ahead
    server = FakeOSS(dossier_rows(40))
    client = OneStopShopClient(
        CONN, policy=policy([]), transport=httpx.MockTransport(server), pages_in_flight=1, page_size=4
    )
    with client:
        pages = client.rows("/api/v1/thong-ke/ho-so", {"tuNgay": "x"})
        next(iter(pages))
        pages.close()
        n = server.list_requests
        assert n <= 1 + client.prefetch + 1
        time.sleep(0.05)
        assert server.list_requests == n


def test_prefetch_off_reads_page_by_page():
    rows = dossier_rows(10)
    server = FakeOSS(rows)
    client = OneStopShopClient(
        CONN, policy=policy([]), transport=httpx.MockTransport(server), pages_in_flight=1, page_size=4, prefetch=0
    )
    with client:
        pages = client.rows("/api/v1/thong-ke/ho-so", {"tuNgay": "x"})
        assert [r.record for r in next(iter(pages))] == rows[:4]
        assert server.list_requests == 1
        assert [r.record for p in pages for r in p] == rows[4:]


class SlowOSS(FakeOSS):
    """FakeOSS whose list responses take a while, recording how many were being answered at once.
    `repeat_pages`: page numbers answered with the previous page's content the first time they are asked."""

    def __init__(self, rows: list[dict], delay: float = 0.02, repeat_pages: set[int] = frozenset()):
        super().__init__(rows)
        self.delay, self.repeat_pages = delay, set(repeat_pages)
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        self.asked: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return super().__call__(request)
        trang = int(request.url.params["trang"])
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.asked.append(trang)
            repeat = trang in self.repeat_pages
            self.repeat_pages.discard(trang)
        try:
            time.sleep(self.delay)
            if repeat:
                params = dict(request.url.params) | {"trang": str(trang - 1)}
                request = httpx.Request("GET", request.url.copy_with(params=params), headers=request.headers)
                body = super().__call__(request).json() | {"trang": trang}
                return httpx.Response(200, json=body)
            return super().__call__(request)
        finally:
            with self.lock:
                self.active -= 1


def test_pages_in_flight_overlap_requests_and_keep_order():
    rows = dossier_rows(40)
    server = SlowOSS(rows, repeat_pages={4})
    with OneStopShopClient(
        CONN, policy=policy([]), transport=httpx.MockTransport(server), page_size=4, pages_in_flight=3, prefetch=0
    ) as c:
        pages = list(c.pages("/api/v1/thong-ke/ho-so", None))
    assert [n for n, _ in pages] == list(range(1, 11))
    assert [r for _, items in pages for r in items] == rows  # the repeated page 4 was read again on its own
    assert server.max_active == 3  # never more than asked, and the overlap happened
    assert sorted(server.asked) == sorted([*range(1, 11), 4])

    # the consumer stops after two pages: nothing is left running and nothing further is asked
    server = SlowOSS(rows)
    with OneStopShopClient(
        CONN, policy=policy([]), transport=httpx.MockTransport(server), page_size=4, pages_in_flight=3, prefetch=0
    ) as c:
        it = c.pages("/api/v1/thong-ke/ho-so", None)
        next(it), next(it)
        it.close()
        asked = len(server.asked)
        assert asked <= 2 + 3 and server.active == 0
        time.sleep(0.05)
        assert len(server.asked) == asked
    assert not any(t.name.startswith("chiso-one_stop_shop-page") for t in threading.enumerate())
