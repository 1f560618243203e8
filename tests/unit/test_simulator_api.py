"""The HTTP faces: auth, pagination envelopes, faults at their configured rates, control endpoints."""

from __future__ import annotations

import json
import time
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient

from chiso_simulator import FaultConfig, SimConfig, SimState, Simulator, create_edoc_app, create_oss_app
from chiso_simulator.engine import TZ

NOW = datetime(2025, 7, 1, 8, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(SimConfig(seed=26))
    s.clock.set(NOW)
    return s


@pytest.fixture
def state(sim: Simulator):
    st = SimState.create(sim)
    yield st
    st.reset()
    sim.clock.set(NOW)


@pytest.fixture
def oss(sim: Simulator, state: SimState) -> TestClient:
    return TestClient(create_oss_app(sim, "cid", "secret", state=state))


@pytest.fixture
def edoc(sim: Simulator, state: SimState) -> TestClient:
    return TestClient(create_edoc_app(sim, "k3y", state=state))


def token(client: TestClient) -> dict:
    r = client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "cid",
                                           "client_secret": "secret"})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_health(oss: TestClient, edoc: TestClient) -> None:
    assert oss.get("/health").json()["status"] == "ok"
    assert edoc.get("/health").json()["status"] == "ok"


def test_oauth_failures(sim: Simulator, oss: TestClient) -> None:
    bad = oss.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "cid",
                                         "client_secret": "nope"})
    assert bad.status_code == 401
    assert oss.post("/oauth/token", data={"grant_type": "password", "client_id": "cid",
                                          "client_secret": "secret"}).status_code == 400
    assert oss.get("/api/v1/don-vi").status_code == 401
    assert oss.get("/api/v1/don-vi", headers={"Authorization": "Bearer forged"}).status_code == 401
    short = TestClient(create_oss_app(sim, "cid", "secret", token_ttl=0.2))
    h = token(short)
    assert short.get("/api/v1/don-vi", headers=h).status_code == 200
    time.sleep(0.3)
    assert short.get("/api/v1/don-vi", headers=h).status_code == 401
    # HTTP Basic client authentication is accepted too
    r = oss.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("cid", "secret"))
    assert r.status_code == 200


def get(client: TestClient, path: str, headers: dict, **params):
    """GET with extra query parameters appended to those already in the path."""
    extra = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"{path}{'&' if '?' in path else '?'}{extra}" if extra else path, headers=headers)


def read_all(client: TestClient, path: str, headers: dict, size: int) -> tuple[list[dict], list[dict]]:
    pages, rows, trang = [], [], 1
    while True:
        body = get(client, path, headers, trang=trang, soBanGhi=size).json()
        pages.append(body)
        rows.extend(body["duLieu"])
        if trang >= body["tongSoTrang"]:
            return rows, pages
        trang += 1


def test_dossier_pagination_matches_truth(sim: Simulator, oss: TestClient) -> None:
    h = token(oss)
    path = "/api/v1/thong-ke/ho-so?tuNgay=2024-05-13&denNgay=2024-05-15"
    rows, pages = read_all(oss, path, h, 1000)
    truth = sim.rows_between("dossier", date(2024, 5, 13), date(2024, 5, 15))
    assert rows == truth
    assert all(p["tongSoBanGhi"] == len(truth) and p["soBanGhi"] == 1000 for p in pages)
    assert pages[0]["tongSoTrang"] == -(-len(truth) // 1000) == len(pages)
    assert [p["trang"] for p in pages] == list(range(1, len(pages) + 1))
    assert set(rows[0]) == {"ngay", "maDinhDanh", "maThuTuc", "tiepNhanTrucTuyen", "tiepNhanTrucTiep",
                            "tiepNhanBuuChinh", "tiepNhanToanTrinh", "daXuLyTruocHan", "daXuLyDungHan",
                            "daXuLyQuaHan", "dongBoDVCQG", "coKetQuaDienTu", "soHoa", "taiSuDungDuLieu",
                            "luuKhoCaNhan", "suDungDuLieuDanCu", "coNghiaVuTaiChinh", "thanhToanTrucTuyen",
                            "danhGiaKhongHaiLong", "dangXuLyTrongHan", "dangXuLyQuaHan", "thoiDiemCapNhat"}
    # a different page size gives the same sequence (stable order)
    rows_small, _ = read_all(oss, "/api/v1/thong-ke/ho-so?tuNgay=2024-05-13&denNgay=2024-05-13", h, 333)
    assert rows_small == sim.dossier_rows(date(2024, 5, 13))
    past_end = get(oss, path, h, trang=999, soBanGhi=1000).json()
    assert past_end["duLieu"] == [] and past_end["tongSoBanGhi"] == len(truth)
    assert get(oss, path, h, soBanGhi=1001).status_code == 400
    assert oss.get("/api/v1/thong-ke/ho-so?tuNgay=2024-05-13", headers=h).status_code == 400
    assert oss.get("/api/v1/thong-ke/ho-so?tuNgay=2024-05-13&denNgay=2024-05-01", headers=h).status_code == 400


def test_registers_and_petitions(sim: Simulator, oss: TestClient) -> None:
    h = token(oss)
    units, _ = read_all(oss, "/api/v1/don-vi", h, 50)
    assert units == sim.units()
    procs, _ = read_all(oss, "/api/v1/thu-tuc", h, 1000)
    assert procs == sim.procedures()
    pet, _ = read_all(oss, "/api/v1/thong-ke/phan-anh-kien-nghi?tuNgay=2024-06-01&denNgay=2024-06-30", h, 1000)
    assert pet == sim.rows_between("petition", date(2024, 6, 1), date(2024, 6, 30))


def test_edoc_cursor_pagination(sim: Simulator, edoc: TestClient) -> None:
    h = {"X-API-Key": "k3y"}
    url = "/api/v2/reports/documents/daily"
    params = {"from": "2024-05-01", "to": "2024-05-07", "limit": 200}
    items, cursors = [], []
    while True:
        body = edoc.get(url, params=params, headers=h).json()
        items.extend(body["items"])
        if not body["next_cursor"]:
            break
        cursors.append(body["next_cursor"])
        params = {**params, "cursor": body["next_cursor"]}
    assert items == sim.rows_between("edoc", date(2024, 5, 1), date(2024, 5, 7))
    assert len(cursors) == -(-len(items) // 200) - 1
    assert edoc.get(url, params={"from": "2024-05-01", "to": "2024-05-07"}).status_code == 401
    assert edoc.get(url, params={"from": "2024-05-01", "to": "2024-05-07"},
                    headers={"X-API-Key": "wrong"}).status_code == 401
    assert edoc.get(url, params={"from": "2024-05-01", "to": "2024-05-07", "limit": 501}, headers=h).status_code == 400
    assert edoc.get(url, params={"from": "2024-05-01", "to": "2024-05-07", "cursor": "garbage"},
                    headers=h).status_code == 400
    # a cursor only works for its own window
    assert edoc.get(url, params={"from": "2024-05-02", "to": "2024-05-07", "cursor": cursors[0]},
                    headers=h).status_code == 400


def set_faults(client: TestClient, **body) -> dict:
    r = client.post("/_sim/faults", json=body)
    assert r.status_code == 200, r.text
    return r.json()


N = 160


def _statuses(client: TestClient, headers: dict, n: int = N, path: str = "/api/v1/don-vi") -> list:
    return [client.get(path, params={"trang": 1 + i % 4, "soBanGhi": 20}, headers=headers) for i in range(n)]


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_rate_limit_and_server_errors_at_configured_rate(oss: TestClient, rate: float) -> None:
    h = token(oss)
    set_faults(oss, rates={"rate_limit": rate}, seed=5)
    res = _statuses(oss, h)
    limited = [r for r in res if r.status_code == 429]
    assert abs(len(limited) / N - rate) < 0.09
    assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    set_faults(oss, rates={"rate_limit": 0, "server_error": rate}, seed=6)
    res = _statuses(oss, h)
    errors = [r.status_code for r in res if r.status_code >= 500]
    assert abs(len(errors) / N - rate) < 0.09 and set(errors) <= {500, 502, 503}
    status = oss.get("/_sim/faults").json()["oss"]
    assert status["injected"]["server_error"] == len(errors)


def _body_ok(r) -> bool:
    try:
        json.loads(r.content)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("kind", ["truncated_json", "invalid_json"])
def test_broken_bodies(edoc: TestClient, kind: str) -> None:
    set_faults(edoc, rates={kind: 0.25}, seed=9)
    res = [edoc.get("/api/v2/reports/documents/daily", params={"from": "2024-05-01", "to": "2024-05-01",
                                                                "limit": 5 + i % 3}, headers={"X-API-Key": "k3y"})
           for i in range(N)]
    bad = sum(not _body_ok(r) for r in res)
    assert all(r.status_code == 200 for r in res)
    assert abs(bad / N - 0.25) < 0.09


def test_row_faults(sim: Simulator, oss: TestClient) -> None:
    h = token(oss)
    path = "/api/v1/thong-ke/ho-so?tuNgay=2024-05-14&denNgay=2024-05-14"
    truth = sim.dossier_rows(date(2024, 5, 14))
    codes = {u["maDinhDanh"] for u in sim.units()}
    counts = {"negative_counts": 0, "unknown_unit": 0, "duplicate_key": 0, "schema_drift": 0}
    set_faults(oss, rates=dict.fromkeys(counts, 0.3), seed=11)
    for i in range(60):
        rows = get(oss, path, h, trang=1 + i % 3, soBanGhi=100).json()["duLieu"]
        counts["negative_counts"] += any(v < 0 for r in rows for v in r.values() if isinstance(v, int))
        counts["unknown_unit"] += any(r.get("maDinhDanh") not in codes for r in rows)
        keys = [(r.get("maDinhDanh"), r["maThuTuc"]) for r in rows]
        counts["duplicate_key"] += len(keys) != len(set(keys))
        counts["schema_drift"] += "tiepNhanTrucTuyen" not in rows[0]
    for kind, n in counts.items():
        assert 6 <= n <= 32, (kind, n)
    # the truth is untouched
    assert sim.dossier_rows(date(2024, 5, 14)) == truth


def test_repeat_page_and_token_expiry(sim: Simulator, oss: TestClient, edoc: TestClient) -> None:
    h = token(oss)
    path = "/api/v1/thong-ke/ho-so?tuNgay=2024-05-14&denNgay=2024-05-14"
    set_faults(oss, rates={"repeat_page": 1.0})
    p1 = get(oss, path, h, trang=1, soBanGhi=50).json()
    p2 = get(oss, path, h, trang=2, soBanGhi=50).json()
    assert p2["trang"] == 2 and p2["duLieu"] == p1["duLieu"]
    set_faults(oss, rates={"repeat_page": 0, "token_expiry": 1.0})
    assert get(oss, path, h, trang=1, soBanGhi=50).status_code == 200
    assert get(oss, path, h, trang=2, soBanGhi=50).status_code == 401
    # the token is dead for good: page 1 fails too until a new token is fetched
    assert get(oss, path, h, trang=1, soBanGhi=50).status_code == 401
    assert get(oss, path, token(oss), trang=1, soBanGhi=50).status_code == 200
    # e-documents: a repeated page does not advance the cursor
    eh = {"X-API-Key": "k3y"}
    url = "/api/v2/reports/documents/daily"
    q = {"from": "2024-05-14", "to": "2024-05-14", "limit": 40}
    first = edoc.get(url, params=q, headers=eh).json()
    set_faults(edoc, rates={"repeat_page": 1.0})
    again = edoc.get(url, params={**q, "cursor": first["next_cursor"]}, headers=eh).json()
    assert again["items"] == first["items"] and again["next_cursor"] == first["next_cursor"]


def test_slow_and_timeout(oss: TestClient) -> None:
    h = token(oss)
    set_faults(oss, rates={"slow": 1.0}, slow_seconds=0.3)
    t = time.monotonic()
    assert oss.get("/api/v1/don-vi", headers=h).status_code == 200
    assert time.monotonic() - t >= 0.3
    set_faults(oss, rates={"slow": 0, "timeout": 1.0}, timeout_seconds=0.5)
    t = time.monotonic()
    oss.get("/api/v1/don-vi", headers=h)
    assert time.monotonic() - t >= 0.5


def test_faults_replay_with_the_same_seed(sim: Simulator) -> None:
    def run() -> list[int]:
        st = SimState.create(sim, {"oss": FaultConfig(rates={"rate_limit": 0.2, "server_error": 0.2}, seed=42)})
        c = TestClient(create_oss_app(sim, "cid", "secret", state=st))
        return [r.status_code for r in _statuses(c, token(c), 80)]

    a, b = run(), run()
    assert a == b
    assert 429 in a and 200 in a and {500, 502, 503} & set(a)


def test_retries_get_through(oss: TestClient) -> None:
    """Decisions are per attempt: retrying the same request eventually succeeds."""
    h = token(oss)
    set_faults(oss, rates={"server_error": 0.5}, seed=1)
    for i in range(20):
        for _ in range(30):
            r = oss.get("/api/v1/don-vi", params={"trang": i + 1, "soBanGhi": 5}, headers=h)
            if r.status_code == 200:
                break
        assert r.status_code == 200


def test_control_clock_corrections_reset(sim: Simulator, oss: TestClient) -> None:
    r = oss.post("/_sim/clock", json={"now": "2024-06-01T09:00:00+07:00"})
    assert r.json()["today"] == "2024-06-01"
    h = token(oss)
    body = oss.get("/api/v1/thong-ke/ho-so?tuNgay=2024-06-01&denNgay=2024-06-01", headers=h).json()
    assert body["tongSoBanGhi"] == 0  # not over yet
    oss.post("/_sim/clock", json={"advance_days": 1})
    row = oss.get("/api/v1/thong-ke/ho-so?tuNgay=2024-05-31&denNgay=2024-05-31&soBanGhi=1",
                  headers=h).json()["duLieu"][0]
    oss.post("/_sim/clock", json={"advance_seconds": 60})
    c = oss.post("/_sim/corrections", json={"date": "2024-05-31", "unit": row["maDinhDanh"],
                                            "procedure": row["maThuTuc"], "fields": {"daXuLyQuaHan": 99}})
    assert c.status_code == 201
    new = oss.get("/api/v1/thong-ke/ho-so?tuNgay=2024-05-31&denNgay=2024-05-31&soBanGhi=1",
                  headers=h).json()["duLieu"][0]
    assert new["daXuLyQuaHan"] == 99 and new["thoiDiemCapNhat"] > row["thoiDiemCapNhat"]
    assert oss.post("/_sim/corrections", json={"date": "2024-05-31"}).status_code == 400
    truth = oss.get("/_sim/truth/dossier", params={"tuNgay": "2024-05-31", "denNgay": "2024-05-31"}).json()
    assert truth[0] == new
    oss.post("/_sim/reset")
    assert sim.manual == []


class _PlainSource:
    """The same simulator seen as a stand-in without pre-encoded rows: the e-document face then encodes the
    decoded rows of rows_between() on every request (the reference the cached bytes must equal)."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def __getattr__(self, name: str):
        if name in ("rows_json", "rows_json_keyed"):
            raise AttributeError(name)
        return getattr(self._sim, name)


@pytest.mark.parametrize(
    "rates",
    [{}, {"repeat_page": 0.3, "truncated_json": 0.1, "invalid_json": 0.1},
     {"repeat_page": 0.2, "negative_counts": 0.3, "duplicate_key": 0.3, "schema_drift": 0.2}],
)
def test_edoc_cached_pages_serve_identical_bytes(sim: Simulator, rates: dict) -> None:
    """Pages served from the per-day pre-encoded rows (and their cached keys) are byte for byte the pages
    encoded from the rows each time, cursors and faults included; a correction shows on the next read."""
    cfg = FaultConfig(rates=rates, seed=5)
    cached = TestClient(create_edoc_app(sim, "k3y", state=SimState.create(sim, {"edoc": cfg})))
    plain = TestClient(create_edoc_app(_PlainSource(sim), "k3y", state=SimState.create(sim, {"edoc": cfg})))
    h = {"X-API-Key": "k3y"}
    url = "/api/v2/reports/documents/daily"

    def read_all(client: TestClient, frm: str, to: str, limit: int) -> list[tuple[int, bytes]]:
        params: dict = {"from": frm, "to": to, "limit": limit}
        out = []
        for _ in range(200):
            r = client.get(url, params=params, headers=h)
            out.append((r.status_code, r.content))
            try:
                nxt = r.json()["next_cursor"]
            except (ValueError, KeyError):
                continue
            if not nxt:
                break
            params = {**params, "cursor": nxt}
        return out

    try:
        for frm, to, limit in (("2024-05-01", "2024-05-20", 500), ("2024-02-03", "2024-02-11", 97)):
            got = read_all(cached, frm, to, limit)
            assert len(got) > 2
            assert got == read_all(plain, frm, to, limit)
        day = date(2024, 2, 5)
        org = sim.edoc_rows(day)[2]["org_code"]
        sim.correct("edoc", day, org, None, {"incoming_total": 4242}, False, None)
        after = read_all(cached, "2024-02-03", "2024-02-11", 97)
        assert after == read_all(plain, "2024-02-03", "2024-02-11", 97)
        if not rates:
            assert b'"incoming_total":4242' in b"".join(body for _, body in after)
    finally:
        sim.reset()
        sim.clock.set(NOW)
