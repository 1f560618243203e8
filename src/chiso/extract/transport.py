"""An httpx transport on the standard library's `http.client`, with kept-alive connections.

httpx's own transport (httpcore + h11) spends ~0.3 ms more CPU than `http.client` on a 145 kB e-document page,
and httpx.Client's request building about as much again (JsonFetcher's lean path skips that too): per page
1.8 ms -> 0.7 ms CPU with the JSON decoding (micro-benchmark on a loaded machine). The extractors still speak
httpx (Client, errors, MockTransport in tests); only the wire under it changes. Behaviour kept: the request's
headers as httpx built them, its timeouts (connect, write, read), httpx's exception types (so JsonFetcher retries
exactly what it retried), https with httpx's default certificate checks, compressed bodies decoded by
httpx.Response.
"""

from __future__ import annotations

import http.client
import select
import threading
from collections.abc import Iterable
from typing import Any

import httpx

# Idle connections kept per origin: one per thread reading pages at once is plenty (page readers of the current
# and the next date chunk, pages in flight).
MAX_IDLE = 8
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class _Stale(Exception):
    """A reused connection the server had closed meanwhile: nothing of the request was answered."""


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed by the server (EOF) or is out of step."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # ValueError: a descriptor select cannot watch
        return True


class HttpClientTransport(httpx.BaseTransport):
    """httpx.BaseTransport over http.client: connections kept alive and shared by threads (one request on a
    connection at a time), no proxy of its own (httpx.Client mounts the environment's proxies beside it)."""

    def __init__(self, *, verify: Any = True) -> None:
        self._verify = verify
        self._ssl: Any = None
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------ connections
    def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(verify=self._verify)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._ssl
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.connect()
        return conn

    def _checkout(self, origin: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        return None

    def _checkin(self, origin: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if not self._closed and len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()

    # ------------------------------------------------------------ one request
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.")
        return self.exchange(
            request.method,
            origin_of(url),
            url.raw_path.decode("ascii"),
            request.headers.raw,
            request.read() or None,
            request.extensions.get("timeout") or {},
            request=request,
        )

    def exchange(
        self,
        method: str,
        origin: tuple[str, str, int],
        target: str,
        headers: Iterable[tuple[bytes | str, bytes | str]],
        body: bytes | None,
        timeout: dict,
        *,
        request: httpx.Request | None = None,
    ) -> httpx.Response:
        """One request as given (`headers` are sent as they are, Host included), on a kept-alive connection if
        one is idle. The response comes unread (httpx.Response.read() decodes a compressed body)."""
        conn = self._checkout(origin)
        if conn is not None:
            try:
                return self._exchange(origin, conn, method, target, headers, body, timeout, request, reused=True)
            except _Stale:
                pass  # the server closed it while idle: once more on a new connection
        try:
            conn = self._connect(origin, timeout.get("connect"))
        except TimeoutError as e:
            raise httpx.ConnectTimeout(str(e) or "timed out", request=request) from e
        except OSError as e:
            raise httpx.ConnectError(str(e), request=request) from e
        return self._exchange(origin, conn, method, target, headers, body, timeout, request, reused=False)

    def _exchange(
        self,
        origin: tuple[str, str, int],
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Iterable[tuple[bytes | str, bytes | str]],
        body: bytes | None,
        timeout: dict,
        request: httpx.Request | None,
        *,
        reused: bool,
    ) -> httpx.Response:
        """Send the request on `conn` and read the whole response; the connection goes back to the pool only
        after a complete response the server did not ask to close with."""
        retry_stale = reused and method in IDEMPOTENT
        try:
            try:
                conn.sock.settimeout(timeout.get("write"))
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body)
            except TimeoutError as e:
                raise httpx.WriteTimeout(str(e) or "timed out", request=request) from e
            except OSError as e:
                if retry_stale:
                    raise _Stale from e
                raise httpx.WriteError(str(e), request=request) from e
            try:
                conn.sock.settimeout(timeout.get("read"))
                resp = conn.getresponse()
            except TimeoutError as e:
                raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                if retry_stale:
                    raise _Stale from e
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from e
            except http.client.HTTPException as e:
                raise httpx.RemoteProtocolError(f"{type(e).__name__}: {e}", request=request) from e
            except OSError as e:
                raise httpx.ReadError(str(e), request=request) from e
            try:
                content = resp.read()
            except TimeoutError as e:
                raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
            except http.client.HTTPException as e:  # IncompleteRead: the body ended early
                raise httpx.RemoteProtocolError(f"{type(e).__name__}: {e}", request=request) from e
            except OSError as e:
                raise httpx.ReadError(str(e), request=request) from e
        except BaseException:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            self._checkin(origin, conn)
        return httpx.Response(
            resp.status,
            headers=resp.getheaders(),
            stream=httpx.ByteStream(content),
            extensions={
                "http_version": b"HTTP/1.1" if resp.version == 11 else b"HTTP/1.0",
                "reason_phrase": (resp.reason or "").encode("ascii", "replace"),
            },
        )


def origin_of(url: httpx.URL) -> tuple[str, str, int]:
    """(scheme, host as sent on the wire (IDNA), port) of a URL: what a kept-alive connection serves."""
    return url.scheme, url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80)
