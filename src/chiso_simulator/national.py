"""Simulator of the national reporting system (sources.md §4): the receiving side of the exports.

Bearer auth; `POST /api/v1/bao-cao` with an `Idempotency-Key` stores a valid document once (201 and a
receipt), answers 200 with the same receipt to the same key and an equal document, 409 to the same
key with different content and 422 (with `loi`) to an invalid document; `GET /api/v1/bao-cao/{ma}`.

Faults, seeded so a failing test replays: `{"rate": 0.3, "seed": 7, "kinds": {...}, "retry_after": 1,
"slow_seconds": 2}`. `kinds` weighs the fault kinds drawn when a request is hit (default all equal):
`429` (with Retry-After), `500`, `502`, `503`, `timeout` (slow, then 504, nothing stored),
`lost_503` (stored, then 503: accepted but the answer lost) and `lost_timeout` (stored, then slow).
Control: `POST /_sim/faults`, `GET /_sim/faults`, `GET /_sim/received`, `POST /_sim/reset`, `GET /health`.

It also refuses (409) a second document for a report, period and unit revision (`lanGui`) already
accepted under another key: the national system takes corrections only as new revisions.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from chiso.export.schema import validation_errors

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FAULT_KINDS = ("429", "500", "502", "503", "timeout", "lost_503", "lost_timeout")
DEFAULT_FAULTS: dict[str, Any] = {"rate": 0.0, "seed": 0, "kinds": None, "retry_after": 1, "slow_seconds": 2.0}


def _loi(status: int, truong: str, mo_ta: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"loi": [{"truong": truong, "moTa": mo_ta}]}, status_code=status, headers=headers)


class _Faults:
    """Draws the fault (or none) of each API request from a seeded generator, in arrival order."""

    def __init__(self, config: dict | None) -> None:
        self.configure(config)

    def configure(self, config: dict | None) -> None:
        cfg = {**DEFAULT_FAULTS, **(config or {})}
        kinds = cfg["kinds"] or dict.fromkeys(FAULT_KINDS, 1)
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if not 0 <= float(cfg["rate"]) <= 1:
            raise ValueError("rate must be within 0..1")
        cfg["kinds"] = {k: float(w) for k, w in kinds.items() if float(w) > 0}
        self.config = cfg
        self.rng = random.Random(cfg["seed"])
        self.injected: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def draw(self) -> str | None:
        cfg = self.config
        hit = self.rng.random() < float(cfg["rate"])
        if not hit or not cfg["kinds"]:
            return None
        kinds, weights = zip(*cfg["kinds"].items(), strict=True)
        kind = self.rng.choices(kinds, weights=weights)[0]
        self.injected[kind] += 1
        return kind


class _Store:
    """Accepted documents by receipt and by key; optionally journalled to a JSON-lines file (one accepted document
    per line, appended and fsynced before the answer), so a restarted receiver still knows what it accepted.
    Appending keeps an acceptance O(document): rewriting a whole store of 332 KiB documents would grow with it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.by_receipt: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.lock = threading.Lock()
        if path and path.exists():
            with path.open(encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        self._index(json.loads(line))

    def _index(self, rec: dict) -> None:
        self.by_receipt[rec["maTiepNhan"]] = rec
        self.by_key[rec["idempotencyKey"]] = rec["maTiepNhan"]

    def accept(self, rec: dict) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self._index(rec)

    def reset(self) -> None:
        self.by_receipt.clear()
        self.by_key.clear()
        if self.path and self.path.exists():
            self.path.write_text("", encoding="utf-8")


def _revision_key(doc: dict) -> tuple:
    ky = doc["kyBaoCao"]
    return (doc["maBaoCao"], ky["loaiKy"], ky["tuNgay"], ky["denNgay"], doc["donViBaoCao"]["maDinhDanh"])


def create_app(token: str, *, faults: dict | None = None, store_path: str | Path | None = None) -> FastAPI:
    app = FastAPI(title="Mô phỏng Hệ thống thông tin báo cáo quốc gia", docs_url=None, redoc_url=None)
    fault = _Faults(faults)
    store = _Store(Path(store_path) if store_path else None)
    app.state.faults = fault
    app.state.store = store

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {token}"

    def unauthorized() -> JSONResponse:
        return _loi(401, "Authorization", "Thiếu hoặc sai mã truy cập (Bearer token)", {"WWW-Authenticate": "Bearer"})

    async def transient(kind: str) -> JSONResponse:
        cfg = fault.config
        if kind == "429":
            return _loi(
                429,
                "(yêu cầu)",
                "Quá nhiều yêu cầu, vui lòng thử lại sau",
                {"Retry-After": str(cfg["retry_after"])},
            )
        if kind in ("timeout", "lost_timeout"):
            await asyncio.sleep(float(cfg["slow_seconds"]))
            return _loi(504, "(hệ thống)", "Hết thời gian xử lý")
        status = 503 if kind == "lost_503" else int(kind)
        return _loi(status, "(hệ thống)", "Hệ thống tạm thời gián đoạn")

    def accept(key: str, doc: dict) -> tuple[int, dict]:
        """Store once per key; (status, body). Runs under the store lock."""
        existing = store.by_key.get(key)
        if existing is not None:
            rec = store.by_receipt[existing]
            if rec["baoCao"] == doc:
                return 200, {"maTiepNhan": existing, "trangThai": "DA_TIEP_NHAN"}
            return 409, {
                "loi": [
                    {
                        "truong": "Idempotency-Key",
                        "moTa": f"Khóa đã được dùng cho một báo cáo khác nội dung (mã tiếp nhận {existing})",
                    }
                ]
            }
        for rec in store.by_receipt.values():
            if _revision_key(rec["baoCao"]) == _revision_key(doc) and rec["baoCao"]["lanGui"] == doc["lanGui"]:
                return 409, {
                    "loi": [
                        {
                            "truong": "lanGui",
                            "moTa": f"Kỳ báo cáo này đã được tiếp nhận lần gửi {doc['lanGui']}"
                            f" (mã {rec['maTiepNhan']}); bản sửa đổi phải gửi với lanGui mới",
                        }
                    ]
                }
        now = datetime.now(TZ)
        receipt = f"BC{now:%Y%m%d}-{len(store.by_receipt) + 1:06d}"
        store.accept(
            {
                "maTiepNhan": receipt,
                "idempotencyKey": key,
                "thoiDiemTiepNhan": now.isoformat(timespec="seconds"),
                "trangThai": "DA_TIEP_NHAN",
                "baoCao": doc,
            }
        )
        return 201, {"maTiepNhan": receipt, "trangThai": "DA_TIEP_NHAN"}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "received": len(store.by_receipt)}

    @app.post("/api/v1/bao-cao")
    async def submit(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        kind = fault.draw()
        if kind in ("429", "500", "502", "503", "timeout"):
            return await transient(kind)
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            return _loi(400, "Idempotency-Key", "Thiếu tiêu đề Idempotency-Key")
        raw = await request.body()
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _loi(422, "(tài liệu)", "Nội dung không phải JSON UTF-8 hợp lệ")
        errors = validation_errors(doc)
        if errors:
            return JSONResponse({"loi": errors}, status_code=422)
        with store.lock:
            status, body = accept(key, doc)
        if kind in ("lost_503", "lost_timeout") and status in (200, 201):
            return await transient(kind)  # stored, but the client never learns it
        return JSONResponse(body, status_code=status)

    @app.get("/api/v1/bao-cao/{ma_tiep_nhan}")
    async def fetch(ma_tiep_nhan: str, request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        kind = fault.draw()
        if kind is not None:
            return await transient("503" if kind.startswith("lost") else kind)
        rec = store.by_receipt.get(ma_tiep_nhan)
        if rec is None:
            return _loi(404, "maTiepNhan", f"Không tìm thấy báo cáo có mã tiếp nhận {ma_tiep_nhan}")
        return JSONResponse(
            {
                "maTiepNhan": rec["maTiepNhan"],
                "trangThai": rec["trangThai"],
                "thoiDiemTiepNhan": rec["thoiDiemTiepNhan"],
                "baoCao": rec["baoCao"],
            }
        )

    @app.post("/_sim/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            fault.configure(await request.json())
        except (ValueError, TypeError) as e:
            return _loi(422, "(cấu hình lỗi)", str(e))
        return JSONResponse(fault.config)

    @app.get("/_sim/faults")
    def get_faults() -> dict:
        return {**fault.config, "injected": fault.injected}

    @app.get("/_sim/received")
    def received() -> list[dict]:
        return sorted(store.by_receipt.values(), key=lambda r: r["maTiepNhan"])

    @app.post("/_sim/reset")
    def reset() -> dict:
        with store.lock:
            store.reset()
        return {"received": 0}

    return app
