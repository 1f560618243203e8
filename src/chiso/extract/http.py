"""Resilient JSON-over-HTTP fetching shared by the HTTP extractors.

One request = bounded attempts. Retried: timeouts and transport errors, 429 and 5xx (honouring
`Retry-After`), bodies that are not valid JSON or lack the expected envelope. 401 asks the caller to
re-authenticate once per attempt. Other 4xx fail at once. Every error names the source system, the
request (method, URL, query parameters) and the last problem seen.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from urllib.request import getproxies

import httpx
import msgspec

from chiso.extract.transport import HttpClientTransport, origin_of

log = logging.getLogger(__name__)

# Parameters never echoed into errors or logs.
SECRET_PARAMS = {"client_secret", "api_key", "password", "token"}


class SourceError(RuntimeError):
    """A source could not be read. Carries what an operator needs to find the failing request."""

    def __init__(self, source: str, method: str, url: str, params: dict | None, detail: str) -> None:
        self.source, self.method, self.url, self.params, self.detail = source, method, url, params or {}, detail
        shown = {k: ("***" if k in SECRET_PARAMS else v) for k, v in self.params.items()}
        super().__init__(f"[{source}] {method} {url} params={shown}: {detail}")


class TransientPage(Exception):
    """The response parsed but its content is not believable (e.g. a repeated page): fetch again."""


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5  # seconds; doubled per attempt, plus jitter
    max_delay: float = 60.0  # also caps Retry-After so a hostile header cannot stall the run forever
    timeout: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, attempt: int) -> float:
        d = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return d / 2 + self.rng.uniform(0, d / 2)  # "equal jitter": never zero, never synchronized


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class JsonFetcher:
    """GET/POST returning parsed JSON with retries. `authorize(headers, force)` adds credentials;
    with force=True it must obtain fresh ones (called after a 401)."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        authorize: Callable[[dict[str, str], bool], None] | None = None,
    ) -> None:
        self.source = source
        self.policy = policy or RetryPolicy()
        self.authorize = authorize
        # Unless a test hands its own transport (httpx.MockTransport) or the environment sends the source through a
        # proxy (httpx decides, trust_env): http.client under httpx, and the lean path of _send.
        wire = HttpClientTransport() if transport is None and not _environment_proxies() else None
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=self.policy.timeout,
            transport=wire or transport,
            headers={"Accept": "application/json", "User-Agent": "chiso-extract/1"},
        )
        if (
            transport is None
            and wire is None
            and self.client._transport_for_url(self.client.base_url) is (default := self.client._transport)
        ):  # proxies in the environment, none for this source
            default.close()
            self.client._transport = wire = HttpClientTransport()
        self._wire = wire
        self._lean: tuple[tuple[str, str, int], bytes, str, str] | None = None
        if wire is not None:
            base = self.client.base_url  # httpx keeps it with a trailing slash
            site = f"{base.scheme}://{base.netloc.decode('ascii')}"
            self._lean = (origin_of(base), base.netloc, base.raw_path.decode("ascii"), site)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> JsonFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return str(self.client.base_url) + path

    def error(self, method: str, path: str, params: dict | None, detail: str) -> SourceError:
        return SourceError(self.source, method, self.url(path), params, detail)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        json_body: Any = None,
        validate: Callable[[Any], None] | None = None,
        authenticated: bool = True,
        typed: Any = None,
    ) -> Any:
        """Send until a 2xx with valid JSON (and `validate` passes) or attempts run out.
        `validate` raises ValueError for a malformed envelope or TransientPage for suspicious content.
        `json_body`: sent as the JSON request body (POST APIs such as the national portal's).
        `typed`: a msgspec Struct the body is first decoded into (a dict of its members comes back); a body
        that does not fit it is decoded as plain JSON."""
        p = self.policy
        last = "chưa gửi yêu cầu"
        reauth = False
        for attempt in range(1, p.max_attempts + 1):
            headers: dict[str, str] = {}
            if authenticated and self.authorize:
                self.authorize(headers, reauth)
                reauth = False
            delay: float | None = None
            try:
                resp = self._send(method, path, params, data, json_body, headers)
            except httpx.TimeoutException as e:
                last = f"hết thời gian chờ ({type(e).__name__})"
            except httpx.TransportError as e:
                last = f"lỗi kết nối ({type(e).__name__}: {e})"
            else:
                status = resp.status_code
                if status == 401 and authenticated and self.authorize:
                    last = "401 Unauthorized (token hết hạn hoặc không hợp lệ)"
                    reauth = True
                    delay = 0.0
                elif status == 429 or status >= 500:
                    last = f"HTTP {status}"
                    ra = retry_after_seconds(resp.headers.get("Retry-After"))
                    if ra is not None:
                        delay = min(ra, p.max_delay)
                        last += f" (Retry-After {resp.headers.get('Retry-After')})"
                elif status >= 400:
                    raise self.error(method, path, params, f"HTTP {status}: {resp.text[:300]}")
                else:
                    try:
                        body = _decode(resp.content, typed)
                    except (json.JSONDecodeError, UnicodeDecodeError) as e:
                        last = f"nội dung trả về không phải JSON hợp lệ ({e}; {len(resp.content)} byte)"
                    else:
                        try:
                            if validate:
                                validate(body)
                            return body
                        except TransientPage as e:
                            last = f"nội dung bất thường: {e}"
                        except ValueError as e:
                            last = f"cấu trúc phản hồi không đúng: {e}"
            if attempt == p.max_attempts:
                break
            wait = p.backoff(attempt) if delay is None else delay
            log.warning(
                "%s %s %s attempt %d/%d: %s; retrying in %.1fs",
                self.source,
                method,
                path,
                attempt,
                p.max_attempts,
                last,
                wait,
            )
            if wait:
                p.sleep(wait)
        raise self.error(method, path, params, f"thất bại sau {p.max_attempts} lần thử; lỗi cuối: {last}")

    def _send(
        self, method: str, path: str, params: dict | None, data: dict | None, json_body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        """httpx.Client.request(), or with our own transport the same request built here and handed to it:
        httpx's request building (URL parsing character by character, header and cookie models, auth and redirect
        layers) cost more CPU than reading the page (bench/load_vs_copy.py, per-thread profile). Same wire bytes
        (tests/unit/test_extract_transport.py compares them), same errors. httpx builds what this does not cover:
        cookies the source has set, a path needing escapes."""
        lean, wire = self._lean, self._wire
        if lean is None or wire is None or self.client.cookies or not _PLAIN_PATH.fullmatch(path):
            return self.client.request(method, path, params=params, data=data, json=json_body, headers=headers)
        origin, netloc, base_path, site = lean
        target = base_path + path.lstrip("/")
        if params:
            target += "?" + urlencode(_plain_items(params))
        # Request headers as httpx sends them: Host, the client's, the request's (each replacing the client's of
        # its name), the body's.
        merged = {k.lower(): (k, v) for k, v in self.client.headers.raw}
        for k, v in headers.items():
            key = k.lower().encode()
            merged.pop(key, None)
            merged[key] = (k, v)
        body: bytes | None = None
        if data:  # httpx.Client: form data first, JSON only without it
            body = urlencode(_plain_items(data), doseq=True).encode()
            ctype = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            ctype = "application/json"
        sent = [("Host", netloc), *merged.values()]
        if body is not None:
            for k, v in (("Content-Length", str(len(body))), ("Content-Type", ctype)):
                if k.lower().encode() not in merged:
                    sent.append((k, v))
        resp = wire.exchange(method, origin, target, sent, body, self.client.timeout.as_dict())
        resp.read()
        if _httpx_log.isEnabledFor(logging.INFO):  # the line httpx.Client logs for each request
            _httpx_log.info(
                'HTTP Request: %s %s "%s %d %s"',
                method,
                site + target,
                resp.http_version,
                resp.status_code,
                resp.reason_phrase,
            )
        if "set-cookie" in resp.headers:  # kept as httpx.Client keeps them; the next requests go through it
            resp.request = httpx.Request(method, site + target)
            self.client.cookies.extract_cookies(resp)
        return resp


def _environment_proxies() -> bool:
    """Whether the environment names a proxy httpx.Client would mount (it reads the same getproxies()). Asked
    first: otherwise a Client's own transport is made only to be replaced (its TLS context costs ~30 ms CPU)."""
    found = getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~-]*")  # a path httpx sends as it is
_httpx_log = logging.getLogger("httpx")


def _plain_items(params: dict) -> list[tuple[str, str]]:
    """Query or form items as httpx encodes them (lists repeat their key; True -> "true", None -> "")."""
    out = []
    for k, v in params.items():
        for item in v if isinstance(v, list | tuple) else (v,):
            out.append((k, "true" if item is True else "false" if item is False else "" if item is None else str(item)))
    return out


_json_decoder = msgspec.json.Decoder()
_typed_decoders: dict[Any, msgspec.json.Decoder] = {}


def _decode(content: bytes, typed: Any = None) -> Any:
    """JSON body to Python objects (msgspec: several times faster than json.loads, same values). With
    `typed` (a Struct), a body that fits it comes back as a dict of its members, typed in the same pass."""
    if content[:3] == b"\xef\xbb\xbf":  # a UTF-8 BOM, which json.loads-based clients tolerated
        content = content[3:]
    if typed is not None:
        dec = _typed_decoders.get(typed)
        if dec is None:
            dec = _typed_decoders[typed] = msgspec.json.Decoder(typed)
        try:
            return msgspec.structs.asdict(dec.decode(content))
        except msgspec.DecodeError:  # ValidationError included: anything else is read as plain JSON below
            pass
    try:
        return _json_decoder.decode(content)
    except msgspec.DecodeError:  # e.g. integers beyond 64 bits: let json say what it makes of them
        return json.loads(content)


def page_fingerprint(items: list) -> str:
    """What a repeated page would share with the previous one: its size and its first and last rows
    (rows of a paginated listing are distinct, so two different pages never share both)."""
    return msgspec.json.encode([len(items), items[0], items[-1]], order="sorted").decode()


MAX_REPEAT_REFETCH = 2  # a page equal to the previous one: read again this many times, then fail
MAX_QUALITY_REFETCH = 3  # a page with bad rows: read again this many times, then keep the best copy


def fetch_page(
    fetcher: JsonFetcher,
    path: str,
    params: dict,
    *,
    get_items: Callable[[Any], list],
    validate: Callable[[Any], None],
    previous: str | None,
    page_problems: Callable[[list], int] | None = None,
    label: str,
    typed: Any = None,
) -> tuple[Any, list, str | None]:
    """Fetch one page, guarding against two kinds of bad content that a second read may cure:
    a repeat of the previous page (fails after MAX_REPEAT_REFETCH re-reads) and rows that will not
    validate (after MAX_QUALITY_REFETCH re-reads the copy with the fewest bad rows is kept; the loader
    quarantines what is left). `typed`: see JsonFetcher.request_json. Returns (body, items, fingerprint)."""
    repeats = quality = 0
    best: tuple[int, Any, list, str | None] | None = None
    while True:
        body = fetcher.request_json("GET", path, params=params, validate=validate, typed=typed)
        items = get_items(body)
        fp = page_fingerprint(items) if items else None
        if fp is not None and fp == previous:
            repeats += 1
            if repeats > MAX_REPEAT_REFETCH:
                if best is not None:
                    break
                raise fetcher.error(
                    "GET",
                    path,
                    params,
                    f"{label} trùng nội dung với trang trước sau {MAX_REPEAT_REFETCH} lần đọc lại",
                )
            log.warning("%s %s %s repeats the previous page; reading it again", fetcher.source, path, label)
            fetcher.policy.sleep(fetcher.policy.backoff(repeats))
            continue
        bad = page_problems(items) if (page_problems and items) else 0
        if best is None or bad < best[0]:
            best = (bad, body, items, fp)
        if bad == 0 or quality >= MAX_QUALITY_REFETCH:
            break
        quality += 1
        log.warning("%s %s %s has %d bad rows; reading it again (%d)", fetcher.source, path, label, bad, quality)
    _, body, items, fp = best
    return body, items, fp
