"""HTTP faces of the simulated source systems (FastAPI): the one-stop-shop API, the e-document API, and
the `/_sim/*` control endpoints (clock, faults, corrections, reset, truth) mounted on both."""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import json
import math
import secrets
import threading
import time as _time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .engine import Simulator
from .faults import DRIFT, FaultConfig, FaultInjector

MAX_PAGE_OSS = 1000
MAX_PAGE_EDOC = 500
MAX_RANGE_DAYS = 366
EDOC_KEY = ("report_date", "org_code")  # the e-document listing's order and cursor
DATA_FAULTS = ("negative_counts", "unknown_unit", "duplicate_key", "schema_drift")  # faults that edit rows


@dataclass
class SimState:
    """Everything the servers of one process share: the simulator and the fault injectors per system."""

    sim: Simulator
    faults: dict[str, FaultInjector] = field(default_factory=dict)
    initial: dict[str, FaultConfig] = field(default_factory=dict)
    initial_corrections: dict[str, float] = field(default_factory=dict)
    initial_clock: dict | None = None
    portal: Any = None  # the national portal's published index (portal.Portal), when its app is served

    @classmethod
    def create(cls, sim: Simulator, faults: dict[str, FaultConfig] | None = None) -> SimState:
        faults = faults or {}
        st = cls(sim=sim)
        for system in ("oss", "edoc", "esign", "portal"):
            cfg = faults.get(system) or FaultConfig()
            st.initial[system] = cfg
            st.faults[system] = FaultInjector(system, FaultConfig.from_dict(cfg.to_dict(), system))
        st.initial_corrections = dict(sim.cfg.correction_rate)
        st.initial_clock = sim.clock.state()
        return st

    def reset(self) -> None:
        for system, cfg in self.initial.items():
            self.faults[system].configure(FaultConfig.from_dict(cfg.to_dict(), system))
        self.sim.cfg.correction_rate = dict(self.initial_corrections)
        if self.initial_clock and self.initial_clock["frozen"]:
            self.sim.clock.set(datetime.fromisoformat(self.initial_clock["now"]))
        elif self.initial_clock:
            self.sim.clock.reset()
            self.sim.clock.advance(self.initial_clock["offset_seconds"])
        self.sim.reset()
        if self.portal is not None:
            self.portal.reset()


def _err(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"maLoi": code, "thongBao": message}, status_code=status, headers=headers)


def _parse_date(value: str | None, name: str) -> date:
    if not value:
        raise ValueError(f"thiếu tham số {name} (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"tham số {name} không đúng định dạng YYYY-MM-DD: {value!r}") from None


def _parse_int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"tham số {name} phải là số nguyên: {value!r}") from None
    if not lo <= n <= hi:
        raise ValueError(f"tham số {name} phải trong khoảng {lo}..{hi}, nhận {n}")
    return n


def _request_key(request: Request, extra: str = "") -> str:
    q = sorted(request.query_params.multi_items())
    return f"{request.method} {request.url.path}?{q}{extra}"


async def _pre_faults(inj: FaultInjector, key: str) -> Response | None:
    """Transport-level faults, decided before the handler runs."""
    cfg = inj.config
    if inj.roll("timeout", key):
        await asyncio.sleep(cfg.timeout_seconds)
    elif inj.roll("slow", key):
        await asyncio.sleep(cfg.slow_seconds)
    if inj.roll("rate_limit", key):
        return JSONResponse(
            {"maLoi": "TOO_MANY_REQUESTS", "thongBao": "Vượt quá số lượt gọi cho phép"},
            status_code=429,
            headers={"Retry-After": str(cfg.retry_after)},
        )
    if inj.roll("server_error", key):
        status = (500, 502, 503)[inj.pick("server_error", key, 3)]
        return JSONResponse({"maLoi": "SERVER_ERROR", "thongBao": "Lỗi máy chủ"}, status_code=status)
    return None


def _data_faults(
    inj: FaultInjector, key: str, items: list[dict], kind: str, unit_field: str, count_fields: list[str], province: str
) -> list[dict]:
    """Row-level faults on a page (the page is a copy: the truth is untouched)."""
    if not items:
        return items
    items = [dict(x) for x in items]
    if count_fields and inj.roll("negative_counts", key):
        row = items[inj.pick("negative_counts", key, len(items))]
        f = count_fields[inj.pick("negative_counts_field", key, len(count_fields))]
        row[f] = -(abs(int(row[f])) + 1)
    if unit_field and inj.roll("unknown_unit", key):
        row = items[inj.pick("unknown_unit", key, len(items))]
        row[unit_field] = f"000.{inj.pick('unknown_unit_code', key, 90) + 10:02d}.99.H{province}"
    if inj.roll("duplicate_key", key):
        i = inj.pick("duplicate_key", key, len(items))
        items.insert(i + 1, dict(items[i]))
    if kind in DRIFT and inj.roll("schema_drift", key):
        old, new = DRIFT[kind]
        items = [{(new if k == old else k): v for k, v in x.items()} for x in items]
    return items


def _body(inj: FaultInjector, key: str, payload: Any, status: int = 200) -> Response:
    return _body_raw(inj, key, msgspec.json.encode(payload), status)


def _body_raw(inj: FaultInjector, key: str, raw: bytes, status: int = 200) -> Response:
    if inj.roll("truncated_json", key):
        raw = raw[: max(1, len(raw) // 2)]
    elif inj.roll("invalid_json", key):
        raw = raw + b"\n<!-- upstream: connection reset -->"
    return Response(raw, status_code=status, media_type="application/json")


def control_router(state: SimState, own_system: str) -> APIRouter:
    """`/_sim/*`: test and demo controls. Unauthenticated: the simulator listens on loopback only."""
    r = APIRouter(prefix="/_sim")
    sim = state.sim

    @r.get("/clock")
    def get_clock() -> dict:
        return {**sim.clock.state(), "today": sim.today().isoformat()}

    @r.post("/clock")
    async def set_clock(request: Request) -> JSONResponse:
        body = await _json(request)
        try:
            if body.get("reset"):
                sim.clock.reset()
            elif body.get("today"):
                sim.clock.set_today(date.fromisoformat(body["today"]))
            elif body.get("now"):
                sim.clock.set(datetime.fromisoformat(body["now"]), running=bool(body.get("running", False)))
            if body.get("advance_seconds"):
                sim.clock.advance(float(body["advance_seconds"]))
            if body.get("advance_days"):
                sim.clock.advance(float(body["advance_days"]) * 86400)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({**sim.clock.state(), "today": sim.today().isoformat()})

    @r.get("/faults")
    def get_faults() -> dict:
        return {s: inj.status() for s, inj in state.faults.items()} | {
            "late_corrections": dict(sim.cfg.correction_rate)
        }

    @r.post("/faults")
    async def set_faults(request: Request) -> JSONResponse:
        body = await _json(request)
        system = body.pop("system", own_system)
        if system not in state.faults:
            return JSONResponse({"error": f"unknown system {system!r}"}, status_code=400)
        merge = not body.pop("replace", False)
        try:
            current = state.faults[system].config.to_dict() if merge else {}
            rates = {**(current.get("rates") or {}), **(body.pop("rates", None) or {})}
            cfg = FaultConfig.from_dict({**current, **body, "rates": rates}, system)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        lc = cfg.rates.pop("late_corrections", None)
        if lc is not None:
            targets = {"oss": ("dossier", "petition"), "edoc": ("edoc",)}.get(system, ())
            for t in targets:
                sim.cfg.correction_rate[t] = lc
            sim.clear_caches()
        state.faults[system].configure(cfg)
        return JSONResponse(state.faults[system].status())

    @r.post("/corrections")
    async def corrections(request: Request) -> JSONResponse:
        body = await _json(request)
        try:
            system = body.get("system", "dossier" if own_system == "oss" else own_system)
            day = date.fromisoformat(body["date"])
            at = datetime.fromisoformat(body["at"]) if body.get("at") else None
            c = sim.correct(
                system,
                day,
                body["unit"],
                body.get("procedure"),
                body.get("fields"),
                bool(body.get("delete", False)),
                at,
            )
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad correction: {exc}"}, status_code=400)
        rows = sim._rows(c.system, c.day, max(sim.now(), c.at))
        match = [x for x in rows if _unit_of(x) == c.unit and (c.procedure is None or x.get("maThuTuc") == c.procedure)]
        return JSONResponse(
            {
                "system": c.system,
                "date": c.day.isoformat(),
                "unit": c.unit,
                "procedure": c.procedure,
                "at": c.at.isoformat(),
                "rows": match,
            },
            status_code=201,
        )

    @r.post("/reset")
    def reset() -> dict:
        state.reset()
        return {"reset": True, **sim.clock.state()}

    @r.get("/truth/{system}")
    def truth(system: str, tuNgay: str, denNgay: str) -> JSONResponse:  # noqa: N803 (API names)
        try:
            start, end = date.fromisoformat(tuNgay), date.fromisoformat(denNgay)
            if system in ("units", "procedures"):
                return JSONResponse(sim.units() if system == "units" else sim.procedures())
            return JSONResponse(sim.rows_between(system, start, end))
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    return r


def _unit_of(x: dict) -> str | None:
    return x.get("maDinhDanh") or x.get("org_code") or x.get("ma_dinh_danh")


async def _json(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _health(app: FastAPI, state: SimState, system: str) -> None:
    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "system": system, "now": state.sim.now().isoformat(), "seed": state.sim.seed}


class _Window:
    """A day range's encoded rows as a sequence (len, slices) paged without joining the whole range for every
    page: a national day holds ~10^5 dossier rows."""

    def __init__(self, sim: Simulator, kind: str, start: date, end: date) -> None:
        self.sim, self.args = sim, (kind, start, end)
        self.total = sim.rows_json_page(kind, start, end, 0, 0)[0]

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, sl: slice) -> list[bytes]:
        lo, hi = sl.start or 0, self.total if sl.stop is None else sl.stop
        return self.sim.rows_json_page(*self.args, lo, max(0, hi - lo))[1] if hi > lo else []


# ---------------------------------------------------------------------------- one-stop shop
def create_oss_app(
    sim: Simulator,
    client_id: str,
    client_secret: str,
    *,
    token_ttl: float = 300,
    faults: FaultConfig | None = None,
    state: SimState | None = None,
) -> FastAPI:
    """The one-stop-shop system: OAuth2 client credentials, unit register, catalogue, daily counts."""
    state = state or SimState.create(sim, {"oss": faults} if faults else None)
    inj = state.faults["oss"]
    app = FastAPI(title="Hệ thống thông tin giải quyết TTHC (mô phỏng)", docs_url="/docs", redoc_url=None)
    app.state.sim_state = state
    tokens: dict[str, float] = {}
    lock = threading.Lock()
    _health(app, state, "one_stop_shop")
    app.include_router(control_router(state, "oss"))

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        cid, csec = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, csec = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                cid = csec = None
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if not (
            cid and csec and secrets.compare_digest(cid, client_id) and secrets.compare_digest(csec, client_secret)
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        tok = secrets.token_urlsafe(32)
        with lock:
            now = _time.monotonic()
            for t in [t for t, exp in tokens.items() if exp < now]:
                del tokens[t]
            tokens[tok] = now + token_ttl
        return JSONResponse(
            {"access_token": tok, "token_type": "Bearer", "expires_in": math.ceil(token_ttl)},
            headers={"Cache-Control": "no-store"},
        )

    def bearer(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        tok = auth[7:].strip()
        with lock:
            exp = tokens.get(tok)
        return tok if exp is not None and exp >= _time.monotonic() else None

    unauthorized = JSONResponse(
        {"error": "invalid_token", "error_description": "Token không hợp lệ hoặc đã hết hạn"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )

    async def serve(request: Request, kind: str, fetch) -> Response:
        tok = bearer(request)
        if tok is None:
            return unauthorized
        key = inj.attempt_key(_request_key(request))
        pre = await _pre_faults(inj, key)
        if pre is not None:
            return pre
        qp = request.query_params
        try:
            trang = _parse_int(qp.get("trang"), "trang", 1, 1, 10**7)
            size = _parse_int(qp.get("soBanGhi"), "soBanGhi", 100, 1, MAX_PAGE_OSS)
            rows = fetch(qp)
        except ValueError as exc:
            return _err(400, "THAM_SO_KHONG_HOP_LE", str(exc))
        if trang > 1 and inj.roll("token_expiry", key):
            with lock:
                tokens.pop(tok, None)
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Token đã hết hạn"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        total = len(rows)
        shown = trang
        if trang > 1 and inj.roll("repeat_page", key):
            shown = trang - 1
        page = rows[(shown - 1) * size : shown * size]
        if page and isinstance(page[0], bytes):  # rows served pre-encoded (daily counts)
            if not any(inj.config.rates.get(f, 0) > 0 for f in DATA_FAULTS):
                head = (
                    f'{{"trang":{trang},"soBanGhi":{size},"tongSoBanGhi":{total},'
                    f'"tongSoTrang":{math.ceil(total / size) if total else 0},"duLieu":['
                ).encode()
                return _body_raw(inj, key, head + b",".join(page) + b"]}")
            page = msgspec.json.decode(b"[" + b",".join(page) + b"]")
        unit_field = "maDinhDanh" if kind in ("dossier", "petition", "units") else ""
        counts = [
            k
            for k in (page[0] if page else {})
            if isinstance(page[0][k], int) and not isinstance(page[0][k], bool) and kind in ("dossier", "petition")
        ]
        page = _data_faults(inj, key, page, kind, unit_field, counts, sim.cfg.province)
        payload = {
            "trang": trang,
            "soBanGhi": size,
            "tongSoBanGhi": total,
            "tongSoTrang": math.ceil(total / size) if total else 0,
            "duLieu": page,
        }
        return _body(inj, key, payload)

    def date_range(qp) -> tuple[date, date]:
        start, end = _parse_date(qp.get("tuNgay"), "tuNgay"), _parse_date(qp.get("denNgay"), "denNgay")
        if end < start:
            raise ValueError("denNgay phải sau hoặc bằng tuNgay")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise ValueError(f"khoảng ngày tối đa {MAX_RANGE_DAYS} ngày")
        return start, end

    def daily_rows(kind: str, start: date, end: date) -> list:
        """Pre-encoded rows when the source offers them (the Simulator), else its cached dicts (any stand-in
        with rows_between, e.g. a hand-made test dataset)."""
        if hasattr(sim, "rows_json_page"):
            return _Window(sim, kind, start, end)
        return sim.rows_between(kind, start, end, copy=False)

    @app.get("/api/v1/don-vi")
    async def units(request: Request) -> Response:
        return await serve(request, "units", lambda qp: sim.units())

    @app.get("/api/v1/thu-tuc")
    async def procedures(request: Request) -> Response:
        return await serve(request, "procedures", lambda qp: sim.procedures())

    @app.get("/api/v1/thong-ke/ho-so")
    async def dossiers(request: Request) -> Response:
        return await serve(request, "dossier", lambda qp: daily_rows("dossier", *date_range(qp)))

    @app.get("/api/v1/thong-ke/phan-anh-kien-nghi")
    async def petitions(request: Request) -> Response:
        return await serve(request, "petition", lambda qp: daily_rows("petition", *date_range(qp)))

    return app


# ---------------------------------------------------------------------------- e-documents
def _enc_cursor(d: str, org: str, start: date, end: date) -> str:
    raw = json.dumps({"d": d, "o": org, "f": start.isoformat(), "t": end.isoformat()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _dec_cursor(cursor: str, start: date, end: date) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        c = json.loads(raw)
        d, org, f, t = c["d"], c["o"], c["f"], c["t"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValueError("invalid cursor") from None
    if f != start.isoformat() or t != end.isoformat():
        raise ValueError("cursor does not belong to this from/to window")
    return d, org


def create_edoc_app(
    sim: Simulator, api_key: str, *, faults: FaultConfig | None = None, state: SimState | None = None
) -> FastAPI:
    """The e-document system: API-key auth, daily document counts with cursor pagination."""
    state = state or SimState.create(sim, {"edoc": faults} if faults else None)
    inj = state.faults["edoc"]
    app = FastAPI(title="Hệ thống quản lý văn bản và điều hành (mô phỏng)", docs_url="/docs", redoc_url=None)
    app.state.sim_state = state
    _health(app, state, "edoc")
    app.include_router(control_router(state, "edoc"))

    def err(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse(
            {"error": "bad_request" if status == 400 else "error", "message": message},
            status_code=status,
            headers=headers,
        )

    @app.get("/api/v2/reports/documents/daily")
    async def documents(request: Request) -> Response:
        key_hdr = request.headers.get("x-api-key", "")
        if not key_hdr or not secrets.compare_digest(key_hdr, api_key):
            return JSONResponse({"error": "unauthorized", "message": "missing or invalid X-API-Key"}, status_code=401)
        key = inj.attempt_key(_request_key(request))
        pre = await _pre_faults(inj, key)
        if pre is not None:
            return pre
        qp = request.query_params
        try:
            start, end = _parse_date(qp.get("from"), "from"), _parse_date(qp.get("to"), "to")
            if end < start:
                raise ValueError("'to' must not be before 'from'")
            if (end - start).days + 1 > MAX_RANGE_DAYS:
                raise ValueError(f"at most {MAX_RANGE_DAYS} days per request")
            limit = _parse_int(qp.get("limit"), "limit", 100, 1, MAX_PAGE_EDOC)
            after = _dec_cursor(qp["cursor"], start, end) if qp.get("cursor") else None
        except ValueError as exc:
            return err(400, str(exc))
        if hasattr(sim, "rows_json_keyed"):  # the Simulator: rows pre-encoded per day, with their keys
            rows, keys = sim.rows_json_keyed("edoc", start, end, EDOC_KEY)
        else:  # any stand-in with rows_between (e.g. a hand-made test dataset)
            rows = sim.rows_between("edoc", start, end, copy=False)
            keys = [(r["report_date"], r["org_code"]) for r in rows]
        lo = 0
        if after is not None:
            lo = bisect.bisect_right(keys, after)
        if after is not None and inj.roll("repeat_page", key):
            # the rows just before the cursor again; the cursor does not advance
            page = rows[max(0, lo - limit) : lo]
            nxt = qp["cursor"]
        else:
            page = rows[lo : lo + limit]
            more = lo + limit < len(rows)
            nxt = _enc_cursor(*keys[lo + len(page) - 1], start, end) if page and more else None
        if page and isinstance(page[0], bytes):
            if not any(inj.config.rates.get(f, 0) > 0 for f in DATA_FAULTS):
                # the same bytes msgspec gives for the whole envelope of decoded rows
                tail = b"]," + msgspec.json.encode({"next_cursor": nxt})[1:]
                return _body_raw(inj, key, b'{"items":[' + b",".join(page) + tail)
            page = msgspec.json.decode(b"[" + b",".join(page) + b"]")
        page = _data_faults(
            inj,
            key,
            page,
            "edoc",
            "org_code",
            [k for k in page[0] if k not in ("report_date", "org_code", "updated_at")] if page else [],
            sim.cfg.province,
        )
        return _body(inj, key, {"items": page, "next_cursor": nxt})

    return app
