"""The national reporting system simulator follows sources.md §4 (in-process, FastAPI TestClient)."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from test_export_documents import bieu06_doc, cds_doc

from chiso_simulator.national import create_app

TOKEN = "sim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(client: TestClient, doc, key: str | None = None, *, raw: str | None = None, headers=None):
    h = {**AUTH, **(headers or {})}
    if key is not None:
        h["Idempotency-Key"] = key
    return client.post("/api/v1/bao-cao", content=raw if raw is not None else json.dumps(doc), headers=h)


@pytest.fixture
def client():
    return TestClient(create_app(TOKEN))


def test_bearer_token_is_required(client):
    assert post(client, bieu06_doc(), "k", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = client.post("/api/v1/bao-cao", json=bieu06_doc(), headers={"Idempotency-Key": "k"})
    assert r.status_code == 401 and r.json()["loi"][0]["truong"] == "Authorization"
    assert client.get("/api/v1/bao-cao/x").status_code == 401
    assert client.get("/health").json()["status"] == "ok"


def test_first_accept_then_same_receipt_for_equal_json(client):
    doc = bieu06_doc()
    first = post(client, doc, "key-1")
    assert first.status_code == 201 and first.json()["trangThai"] == "DA_TIEP_NHAN"
    receipt = first.json()["maTiepNhan"]
    # Equal once parsed: other key order and whitespace.
    reordered = json.dumps(dict(reversed(list(doc.items()))), indent=3, ensure_ascii=False)
    again = post(client, None, "key-1", raw=reordered)
    assert again.status_code == 200 and again.json() == {"maTiepNhan": receipt, "trangThai": "DA_TIEP_NHAN"}
    stored = client.get(f"/api/v1/bao-cao/{receipt}", headers=AUTH).json()
    assert stored["baoCao"] == doc and stored["trangThai"] == "DA_TIEP_NHAN"
    assert [r["maTiepNhan"] for r in client.get("/_sim/received").json()] == [receipt]


def test_same_key_other_content_is_a_conflict(client):
    doc = bieu06_doc()
    assert post(client, doc, "key-1").status_code == 201
    doc["duLieu"][0]["chiTieu"][0]["giaTri"] += 1
    r = post(client, doc, "key-1")
    assert r.status_code == 409 and r.json()["loi"][0]["truong"] == "Idempotency-Key"
    assert len(client.get("/_sim/received").json()) == 1


def test_a_revision_is_accepted_once_whatever_the_key(client):
    doc = cds_doc()
    assert post(client, doc, "a").status_code == 201
    r = post(client, {**doc, "thoiDiemLap": "2024-04-02T06:00:00+07:00"}, "b")
    assert r.status_code == 409 and r.json()["loi"][0]["truong"] == "lanGui"
    assert post(client, {**doc, "lanGui": 3}, "c").status_code == 201


def test_invalid_document_gets_422_with_reasons_and_the_key_stays_usable(client):
    doc = bieu06_doc()
    bad = json.loads(json.dumps(doc))
    bad["kyBaoCao"]["loaiKy"] = "TUAN"
    bad["duLieu"][0]["chiTieu"][0].pop("giaTri")
    r = post(client, bad, "key-1")
    assert r.status_code == 422
    loi = r.json()["loi"]
    assert {"kyBaoCao.loaiKy", "duLieu[0].chiTieu[0].giaTri"} <= {e["truong"] for e in loi}
    assert all(e["moTa"] for e in loi)
    assert post(client, None, "key-2", raw="{not json").status_code == 422
    assert client.get("/_sim/received").json() == []
    assert post(client, doc, "key-1").status_code == 201


def test_missing_key_and_unknown_receipt(client):
    assert post(client, bieu06_doc(), None).status_code == 400
    r = client.get("/api/v1/bao-cao/KHONG-CO", headers=AUTH)
    assert r.status_code == 404 and "KHONG-CO" in r.json()["loi"][0]["moTa"]


def _outcomes(seed: int, n: int = 30) -> list[int]:
    c = TestClient(create_app(TOKEN, faults={"rate": 0.5, "seed": seed, "slow_seconds": 0.01}))
    out = []
    for _ in range(n):
        r = post(c, bieu06_doc(), str(uuid.uuid4()) if not out else "same", headers=None)
        out.append(r.status_code)
    return out


def test_faults_are_seeded_and_replayable():
    a, b = _outcomes(5), _outcomes(5)
    assert a == b and a != _outcomes(6)
    assert {429, 500, 502, 503, 504} & set(a) and {200, 201} & set(a)


def test_429_carries_retry_after():
    c = TestClient(create_app(TOKEN, faults={"rate": 1, "seed": 1, "kinds": {"429": 1}, "retry_after": 9}))
    r = post(c, bieu06_doc(), "k")
    assert r.status_code == 429 and r.headers["Retry-After"] == "9"


def test_accepted_but_answer_lost_then_retry_gets_the_receipt():
    c = TestClient(create_app(TOKEN, faults={"rate": 1, "seed": 1, "kinds": {"lost_503": 1}}))
    doc = bieu06_doc()
    assert post(c, doc, "k").status_code == 503
    stored = c.get("/_sim/received").json()
    assert len(stored) == 1 and stored[0]["idempotencyKey"] == "k"
    assert c.get("/_sim/faults").json()["injected"]["lost_503"] == 1
    assert c.post("/_sim/faults", json={"rate": 0}).status_code == 200  # a new configuration restarts counts
    r = post(c, doc, "k")
    assert r.status_code == 200 and r.json()["maTiepNhan"] == stored[0]["maTiepNhan"]


def test_slow_answers_and_fault_control():
    c = TestClient(create_app(TOKEN, faults={"rate": 1, "seed": 1, "kinds": {"lost_timeout": 1}, "slow_seconds": 0.05}))
    assert post(c, bieu06_doc(), "k").status_code == 504
    assert len(c.get("/_sim/received").json()) == 1  # stored before the slow answer
    assert c.post("/_sim/faults", json={"rate": 2}).status_code == 422
    assert c.post("/_sim/faults", json={"kinds": {"boom": 1}}).status_code == 422
    assert c.post("/_sim/reset").json() == {"received": 0}


def test_store_survives_a_restart(tmp_path):
    path = tmp_path / "national.jsonl"
    c = TestClient(create_app(TOKEN, store_path=path))
    receipt = post(c, bieu06_doc(), "k").json()["maTiepNhan"]
    c2 = TestClient(create_app(TOKEN, store_path=path))
    assert post(c2, bieu06_doc(), "k").json()["maTiepNhan"] == receipt
    assert c2.get(f"/api/v1/bao-cao/{receipt}", headers=AUTH).status_code == 200


def test_store_is_a_journal_appended_once_per_accepted_document(tmp_path):
    path = tmp_path / "national.jsonl"
    c = TestClient(create_app(TOKEN, store_path=path))
    first = post(c, bieu06_doc(), "k").json()["maTiepNhan"]
    assert post(c, bieu06_doc(), "k").status_code == 200  # the same key again: nothing new journalled
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["maTiepNhan"] for line in lines] == [first]
    assert c.post("/_sim/reset").json() == {"received": 0}
    assert path.read_text(encoding="utf-8") == ""
    assert TestClient(create_app(TOKEN, store_path=path)).get("/_sim/received").json() == []


def test_the_stack_keeps_the_receivers_journal_in_its_home(tmp_path):
    from chiso.settings import Settings
    from chiso.stack.components import simulator_argv

    argv = simulator_argv(Settings(home=tmp_path), {})
    assert argv[argv.index("--national-store") + 1] == str(tmp_path / "simulator" / "national_received.jsonl")
