"""The extractors' default HTTP transport (http.client under httpx) against a real loopback server that
scripts each response byte for byte: keep-alive reuse, a connection the server dropped, timeouts, truncated
bodies, Connection: close, gzip, POST bodies, several threads; and JsonFetcher's retries and errors on it."""

from __future__ import annotations

import gzip
import json
import random
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from chiso.extract.http import JsonFetcher, RetryPolicy, SourceError
from chiso.extract.transport import HttpClientTransport


class Server:
    """Loopback HTTP/1.1 server on an ephemeral port: each request is answered by `respond(request bytes,
    connection number, request number on it)` -> raw response bytes, or None to close without answering.
    A response ending with b"<close>" is sent without that marker and the connection is closed after it."""

    def __init__(self, respond: Callable[[dict, int, int], bytes | None]) -> None:
        self.respond = respond
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(c, self.connections), daemon=True).start()

    def _serve(self, c: socket.socket, n: int) -> None:
        f = c.makefile("rb")
        with c, f:
            for i in range(1, 1000):
                line = f.readline()
                if not line:
                    return
                headers, raw = {}, []
                while (h := f.readline()) not in (b"\r\n", b""):
                    raw.append(h)
                    k, v = h.decode().split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length", 0)))
                method, target, _ = line.decode().split(" ")
                req = {"method": method, "target": target, "headers": headers, "raw": raw, "body": body}
                self.requests.append(req)
                out = self.respond(req, n, i)
                if out is None:
                    return
                close = out.endswith(b"<close>")
                c.sendall(out.removesuffix(b"<close>"))
                if close:
                    return

    def close(self) -> None:
        self.sock.close()


def ok(body: bytes = b'{"ok": true}', *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def serve():
    servers: list[Server] = []

    def make(respond):
        servers.append(Server(respond))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def fetcher(url: str, attempts: int = 3, timeout: float = 5.0, sleeps: list | None = None) -> JsonFetcher:
    sleep = (sleeps if sleeps is not None else []).append
    pol = RetryPolicy(max_attempts=attempts, timeout=timeout, sleep=sleep, rng=random.Random(1))
    return JsonFetcher("edoc", url, policy=pol)


def test_default_transport_is_http_client_and_sends_httpx_request_as_built(serve):
    srv = serve(lambda req, n, i: ok(json.dumps({"n": i}).encode()))
    with fetcher(srv.url) as f:
        assert isinstance(f.client._transport, HttpClientTransport) and f._lean is not None
        f.client.headers["X-API-Key"] = "k"
        bodies = [f.request_json("GET", "/api/x", params={"from": "2024-01-01", "q": "a b/ư"}) for _ in range(3)]
    assert bodies == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert srv.connections == 1  # kept alive
    req = srv.requests[0]
    assert req["target"] == "/api/x?from=2024-01-01&q=a+b%2F%C6%B0"
    h = req["headers"]
    assert h["x-api-key"] == "k" and h["host"] == f"127.0.0.1:{srv.port}" and h["accept"] == "application/json"
    assert h["user-agent"] == "chiso-extract/1" and "gzip" in h["accept-encoding"]


def test_post_bodies_form_and_json(serve):
    srv = serve(lambda req, n, i: ok())
    with fetcher(srv.url) as f:
        f.request_json("POST", "/token", data={"grant_type": "client_credentials"}, authenticated=False)
        f.request_json("POST", "/q", json_body={"nhom": [1, 2]})
    form, js = srv.requests
    assert form["body"] == b"grant_type=client_credentials"
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert json.loads(js["body"]) == {"nhom": [1, 2]} and js["headers"]["content-type"] == "application/json"


def test_connection_the_server_closed_while_idle_is_replaced_silently(serve):
    # each response on a new connection; the server closes the connection right after it (no Connection: close)
    srv = serve(lambda req, n, i: ok(json.dumps({"conn": n}).encode()) + b"<close>")
    sleeps: list[float] = []
    with fetcher(srv.url, sleeps=sleeps) as f:
        first = f.request_json("GET", "/a")
        time.sleep(0.05)  # the server's FIN has arrived
        second = f.request_json("GET", "/b")
    assert (first, second, sleeps) == ({"conn": 1}, {"conn": 2}, [])


def test_stale_connection_not_yet_seen_closed_is_retried_once_for_a_get(serve):
    # the server reads the second request on a connection and closes it without a word (as a keep-alive
    # timeout racing the request would): the GET is sent again on a new connection, no retry round spent
    srv = serve(lambda req, n, i: ok(json.dumps({"conn": n}).encode()) if i == 1 else None)
    sleeps: list[float] = []
    with fetcher(srv.url, sleeps=sleeps) as f:
        assert f.request_json("GET", "/a") == {"conn": 1}
        assert f.request_json("GET", "/b") == {"conn": 2}
    assert sleeps == [] and srv.connections == 2


def test_disconnect_on_a_new_connection_is_a_transport_error_retried_by_the_fetcher(serve):
    srv = serve(lambda req, n, i: None if n == 1 else ok())
    sleeps: list[float] = []
    with fetcher(srv.url, sleeps=sleeps) as f:
        assert f.request_json("GET", "/a") == {"ok": True}
    assert len(sleeps) == 1


def test_read_timeout_closes_the_connection_and_names_the_request(serve):
    def slow(req, n, i):
        time.sleep(0.6)
        return ok()

    srv = serve(slow)
    with fetcher(srv.url, attempts=2, timeout=0.2) as f, pytest.raises(SourceError) as e:
        f.request_json("GET", "/api/v2/x", params={"from": "2024-01-01", "api_key": "s3cret"})
    msg = str(e.value)
    assert "[edoc] GET http://127.0.0.1" in msg and "/api/v2/x" in msg and "ReadTimeout" in msg
    assert "s3cret" not in msg and srv.connections == 2  # the timed-out connection was not reused


def test_connect_refused_is_a_connect_error():
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t = HttpClientTransport()
    with pytest.raises(httpx.ConnectError):
        t.handle_request(httpx.Request("GET", f"http://127.0.0.1:{port}/"))


def test_truncated_body_is_a_protocol_error_then_retried(serve):
    def respond(req, n, i):
        full = ok(b'{"items": [1, 2, 3]}')
        return full[:-5] + b"<close>" if n == 1 else full

    srv = serve(respond)
    t = HttpClientTransport()
    with pytest.raises(httpx.RemoteProtocolError):
        t.handle_request(httpx.Request("GET", srv.url + "/"))
    sleeps: list[float] = []
    with fetcher(srv.url, sleeps=sleeps) as f:
        assert f.request_json("GET", "/") == {"items": [1, 2, 3]}
    assert sleeps == []


def test_connection_close_and_chunked_and_gzip_responses(serve):
    packed = gzip.compress(b'{"z": "\xc3\xa1"}')

    def respond(req, n, i):
        if req["target"] == "/close":
            return ok(b'{"c": 1}', "Connection: close")
        if req["target"] == "/chunked":
            return b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"k"\r\n4\r\n: 1}\r\n0\r\n\r\n'
        return ok(packed, "Content-Encoding: gzip")

    srv = serve(respond)
    with fetcher(srv.url) as f:
        assert f.request_json("GET", "/close") == {"c": 1}
        assert f.request_json("GET", "/chunked") == {"k": 1}
        assert f.request_json("GET", "/gz") == {"z": "á"}
    assert srv.connections == 2  # a new one after Connection: close, then kept


def test_error_status_and_retry_after_reach_the_fetcher(serve):
    def respond(req, n, i):
        if i == 1:
            return b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n"
        if i == 2:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
        return ok()

    srv = serve(respond)
    sleeps: list[float] = []
    with fetcher(srv.url, sleeps=sleeps) as f, pytest.raises(SourceError, match="HTTP 404: not found"):
        f.request_json("GET", "/x")
    assert sleeps == [3.0] and srv.connections == 1


def test_threads_share_the_pool_one_request_per_connection_at_a_time(serve):
    def respond(req, n, i):
        time.sleep(0.01)
        return ok(json.dumps({"t": req["target"]}).encode())

    srv = serve(respond)
    out: dict[int, list] = {}
    with fetcher(srv.url) as f:

        def work(k: int) -> None:
            out[k] = [f.request_json("GET", f"/{k}/{j}")["t"] for j in range(10)]

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert out == {k: [f"/{k}/{j}" for j in range(10)] for k in range(4)}
    assert srv.connections <= 4


def test_close_closes_idle_connections(serve):
    srv = serve(lambda req, n, i: ok())
    t = HttpClientTransport()
    t.handle_request(httpx.Request("GET", srv.url + "/"))
    (conn,) = t._idle[("http", "127.0.0.1", srv.port)]
    t.close()
    assert conn.sock is None and not t._idle


def test_lean_path_sends_the_bytes_httpx_client_sends_and_logs_its_line(serve, caplog):
    srv = serve(lambda req, n, i: ok())
    cases = [
        (
            "GET",
            "/api/v2/reports/documents/daily",
            {"params": {"from": "2024-01-01", "limit": 500, "cursor": "eyJk_-="}},
        ),
        ("GET", "/x", {"params": {"q": "a b/ư&x=1%2", "on": True, "off": False, "none": None, "many": ["a", 2]}}),
        ("GET", "/plain", {}),
        ("POST", "/oauth/token", {"data": {"grant_type": "client_credentials", "id": "c d+ư"}, "authenticated": False}),
        ("POST", "/q", {"json_body": {"nhóm": [1, 2.5, None, "đ"]}}),
        ("POST", "/both", {"data": {"a": 1}, "json_body": {"b": 2}}),
    ]

    def authorize(headers: dict, force: bool) -> None:
        headers.update({"Authorization": "Bearer t", "accept": "application/xml"})  # replaces the client's

    for base in (srv.url, srv.url + "/lgsp/edoc/"):
        lean = JsonFetcher("edoc", base, authorize=authorize)
        via = JsonFetcher("edoc", base, transport=HttpClientTransport(), authorize=authorize)
        assert lean._lean is not None and via._lean is None  # via: httpx.Client builds the request
        for f in (lean, via):
            f.client.headers["X-API-Key"] = "k"
        with lean, via:
            for method, path, kw in cases:
                caplog.clear()
                with caplog.at_level("INFO", logger="httpx"):
                    lean.request_json(method, path, **kw)
                    via.request_json(method, path, **kw)
                a, b = srv.requests[-2:]
                assert (a["method"], a["target"], a["raw"], a["body"]) == (
                    b["method"],
                    b["target"],
                    b["raw"],
                    b["body"],
                )
                assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
                    f"HTTP Request: {method} {b['headers']['host'] and 'http://' + b['headers']['host']}{b['target']}"
                    ' "HTTP/1.1 200 OK"'
                ] * 2
    assert srv.requests[0]["target"].startswith("/api/v2/reports/documents/daily?from=2024-01-01&limit=500")
    assert any(r["target"].startswith("/lgsp/edoc/x?q=a+b%2F%C6%B0%26x%3D1%252&on=true") for r in srv.requests)


def test_cookies_the_source_sets_are_kept_and_sent_as_httpx_does(serve):
    def respond(req, n, i):
        return ok(json.dumps({"cookie": req["headers"].get("cookie")}).encode(), "Set-Cookie: lb=node2; Path=/")

    srv = serve(respond)
    with fetcher(srv.url) as f:
        assert f.request_json("GET", "/a") == {"cookie": None}
        assert f.request_json("GET", "/b") == {"cookie": "lb=node2"}


def test_a_proxy_from_the_environment_is_left_to_httpx(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with JsonFetcher("edoc", "http://edoc.example") as f:
        assert f._lean is None and isinstance(f.client._transport_for_url(f.client.base_url), httpx.HTTPTransport)
    monkeypatch.setenv("NO_PROXY", "edoc.example")
    with JsonFetcher("edoc", "http://edoc.example") as f:
        assert f._lean is not None and f.client._transport_for_url(f.client.base_url) is f._wire
    with JsonFetcher("edoc", "http://other.example") as f:  # the proxy still serves what NO_PROXY does not name
        assert f._lean is None
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.delenv("NO_PROXY")
    with JsonFetcher("edoc", "http://edoc.example") as f:
        assert f._lean is not None and f.client._transport_for_url(f.client.base_url) is f._wire
