"""One HTTP attempt against the national reporting system (sources.md §4), classified for the retry loop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

POST_PATH = "/api/v1/bao-cao"

# outcome -> does the submission end in this state?
ACCEPTED = ("accepted", "already_accepted")
PERMANENT = ("conflict", "invalid", "rejected")
TRANSIENT = "transient"
UNAUTHORIZED = "unauthorized"


@dataclass
class AttemptResult:
    outcome: str
    http_status: int | None = None
    receipt: str | None = None
    retry_after: float | None = None
    error: str | None = None
    body: str | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _loi(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:500]
    loi = data.get("loi") if isinstance(data, dict) else None
    if isinstance(loi, list) and loi:
        return "; ".join(f"{e.get('truong', '?')}: {e.get('moTa', '')}" if isinstance(e, dict) else str(e) for e in loi)
    return body[:500]


class NationalClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NationalClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, document_text: str, idempotency_key: str) -> AttemptResult:
        try:
            r = self._http.post(
                POST_PATH,
                content=document_text.encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idempotency_key},
            )
        except httpx.TimeoutException as e:
            return AttemptResult(TRANSIENT, error=f"Hết thời gian chờ phản hồi ({type(e).__name__})")
        except httpx.TransportError as e:
            return AttemptResult(TRANSIENT, error=f"Lỗi kết nối tới hệ thống báo cáo quốc gia: {e}")
        return classify(r)

    def fetch(self, receipt: str) -> httpx.Response:
        return self._http.get(f"{POST_PATH}/{receipt}")


def classify(r: httpx.Response) -> AttemptResult:
    status, body = r.status_code, r.text
    if status in (200, 201):
        try:
            receipt = r.json().get("maTiepNhan")
        except ValueError:
            receipt = None
        if not receipt:
            # The receiver answered but the receipt is unreadable: retrying with the same key is safe.
            return AttemptResult(TRANSIENT, status, error="Phản hồi thành công nhưng không có maTiepNhan", body=body)
        return AttemptResult("accepted" if status == 201 else "already_accepted", status, receipt, body=body)
    if status == 409:
        return AttemptResult(
            "conflict",
            status,
            error="Bị từ chối (409): Idempotency-Key đã được dùng cho một tài liệu có nội dung khác — " + _loi(body),
            body=body,
        )
    if status == 422:
        return AttemptResult("invalid", status, error="Tài liệu không hợp lệ (422): " + _loi(body), body=body)
    if status in (401, 403):
        return AttemptResult(
            UNAUTHORIZED,
            status,
            error=f"Không được phép ({status}): kiểm tra token của kết nối national_report_api",
            body=body,
        )
    if status in (408, 425, 429) or status >= 500:
        return AttemptResult(
            TRANSIENT,
            status,
            retry_after=parse_retry_after(r.headers.get("Retry-After")),
            error=f"Lỗi tạm thời ({status}), sẽ gửi lại với cùng Idempotency-Key",
            body=body[:2000],
        )
    return AttemptResult("rejected", status, error=f"Bị từ chối ({status}): {_loi(body)}", body=body[:2000])
