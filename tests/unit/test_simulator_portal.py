"""The simulated national portal (sources.md §5): the real response shapes, the portal's rules (rounding, the one
dossier base, predecessors' figures), its documented differences (CLGQ group, temporary denominators, revisions),
paging, errors and faults. Expectations are computed here from the simulator's truth rows and the register, not
from the portal's own code."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chiso_simulator import FaultConfig, PortalConfig, SimConfig, SimState, Simulator, create_portal_app
from chiso_simulator.engine import TZ
from chiso_simulator.portal import GROUPS, RULES, Period, Portal, points, round_half_up, tttt_points

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "national_portal"
REQUESTS = json.loads((FIXTURES / "requests.json").read_text(encoding="utf-8"))["captures"]
NOW = datetime(2026, 9, 26, 12, 0, tzinfo=TZ)  # the day the real responses were captured
AUG = Period.of("month", 2026, 8)
ROOT = "019d2be3-6a88-732b-8b17-b68020c8553a"  # the real portal's id of the merged Phú Thọ


def q2(x) -> Decimal:
    """Half-up to 2 decimals, by hand (Decimal of the exact fraction)."""
    x = Fraction(x)
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(SimConfig(seed=26, province="25"))
    s.clock.set(NOW)
    return s


@pytest.fixture(scope="module")
def client(sim: Simulator) -> TestClient:
    return TestClient(create_portal_app(sim, state=SimState.create(sim)))


@pytest.fixture(scope="module")
def aug(client: TestClient) -> dict[str, dict]:
    """Every group of 8/2026, read with the exact bodies of the real captures (the real root id included)."""
    out = {}
    for name, cap in REQUESTS.items():
        r = client.post(cap["path"], json=cap["payload"])
        assert r.status_code == 201, r.text
        out[name.split(".")[0]] = r.json()
    return out


def truth(sim: Simulator, system: str, start: date, end: date) -> list[dict]:
    return sim.rows_between(system, start, end)


def handled_of(rows: list[dict], codes: set[str], end: date) -> tuple[int, int, int]:
    """(received, handled, e_result) of units `codes` over rows: resolved in the period + in progress at its end."""
    mine = [r for r in rows if r["maDinhDanh"] in codes]
    received = sum(r["tiepNhanTrucTuyen"] + r["tiepNhanTrucTiep"] + r["tiepNhanBuuChinh"] for r in mine)
    resolved = sum(r["daXuLyTruocHan"] + r["daXuLyDungHan"] + r["daXuLyQuaHan"] for r in mine)
    stock = sum(r["dangXuLyTrongHan"] + r["dangXuLyQuaHan"] for r in mine if r["ngay"] == end.isoformat())
    return received, resolved + stock, sum(r["coKetQuaDienTu"] for r in mine)


# ------------------------------------------------------------------------------------------------ shapes
def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return type(v).__name__


def shape(value, path: str = "", objects: dict | None = None, leaves: dict | None = None) -> tuple[dict, dict]:
    """Per JSON path: the ordered key lists of its objects, and the kinds of its leaf values."""
    objects = {} if objects is None else objects
    leaves = {} if leaves is None else leaves
    if isinstance(value, dict):
        objects.setdefault(path, set()).add(tuple(value))
        for k, v in value.items():
            shape(v, f"{path}.{k}", objects, leaves)
    elif isinstance(value, list):
        objects.setdefault(path, set()).add(("[]",))
        for v in value:
            shape(v, f"{path}[]", objects, leaves)
    else:
        leaves.setdefault(path, set()).add(_kind(value))
    return objects, leaves


@pytest.mark.parametrize("group", GROUPS)
def test_shapes_match_the_real_captures(aug: dict, group: str) -> None:
    real = json.loads((FIXTURES / f"{group}.month-all.json").read_text(encoding="utf-8"))
    ours = aug[group]
    r_obj, r_leaf = shape(real)
    o_obj, o_leaf = shape(ours)
    assert o_obj.keys() == r_obj.keys()
    for path, keysets in r_obj.items():
        assert o_obj[path] == keysets, path  # same keys, same order (DOSSIER_SYNC's extra keys included)
    assert o_leaf.keys() == r_leaf.keys()
    for path, kinds in r_leaf.items():
        allowed = kinds | {"null"} if kinds - {"null"} else kinds
        assert o_leaf[path] <= allowed, (path, o_leaf[path], kinds)
    assert ours["code"] == "OK" and ours["message"] == "OK"
    data, rdata = ours["data"], real["data"]
    units = data.get("children") or data.get("evaluation")
    assert len(units) == 163  # the merged Phú Thọ's 15 departments and 148 communes, like the real capture's 163
    for key in ("level", "departmentLevel", "departmentType"):
        if key in (rdata.get("children") or rdata["evaluation"])[0]:
            assert {u[key] for u in units} == {u[key] for u in rdata.get("children") or rdata["evaluation"]}
    if "metrics" in units[0]:
        codes = [[m["code"] for m in u["metrics"]] for u in units]
        real_codes = [m["code"] for m in (rdata.get("children") or rdata["evaluation"])[0]["metrics"]]
        assert all(c == real_codes for c in codes)
    if "pagination" in data:
        assert data["pagination"] == {"total": 163, "currentPage": 1, "pageSize": 200, "totalPages": 1}
        assert [u["stt"] for u in units] == list(range(1, 164))


def test_units_are_todays_by_identifier(sim: Simulator, aug: dict) -> None:
    today = NOW.date() - timedelta(days=1)
    register = [u for u in sim.units()
                if u["hieuLucTu"] <= today.isoformat() and (u["hieuLucDen"] or "9999") >= today.isoformat()]
    expected = sorted({u["maDinhDanh"] for u in register if u["loaiDonVi"] in ("SO_NGANH", "UBND_XA")})
    children = aug["dvc-progress-tree"]["data"]["children"]
    assert [c["departmentCode"] for c in children] == expected
    assert aug["dvc-progress-tree"]["data"]["parent"]["departmentCode"] == "000.00.00.H25"
    # one id per unit, the same in every group (transparency and handling-satisfaction rows carry no code)
    ids = [c["departmentId"] for c in children]
    assert len(set(ids)) == 163
    assert [u["departmentId"] for u in aug["transparency"]["data"]["evaluation"]] == ids
    assert aug["transparency"]["data"]["overview"]["departmentId"] == ROOT


# ------------------------------------------------------------------------------------------------ rules
def test_rounding_half_up_as_the_portal_publishes() -> None:
    # the real commune (UBND xã Yên Kỳ, 8/2026): paid online 268/318, procedures 9/31, integrated 8/31
    assert tttt_points(268, 318, 9, 31, 8, 31) == (5.06, 0.73, 0.65, 6.44)
    unrounded = 6 * Fraction(268, 318) + 2 * Fraction(9, 31) / Fraction(4, 5) + 2 * Fraction(8, 31) / Fraction(4, 5)
    assert q2(unrounded) == Decimal("6.43")  # 6.4276…: rounding the sum would publish another score
    assert round_half_up(Fraction(735, 1000)) == 0.74  # an exact tie goes up (binary 0.735 would give 0.73)
    assert round_half_up(Fraction(7345, 10000)) == 0.73


def test_points_rules() -> None:
    assert points(RULES["QD766.MDSH.REUSED_DATA"], 40, 100) == (Fraction(2, 5), 1.0)  # cap 0.8: 2 × 0.4 / 0.8
    assert points(RULES["QD766.MDSH.REUSED_DATA"], 80, 100)[1] == 2.0
    assert points(RULES["QD766.MDHL.DOSSIER_SATISFACTION"], 9, 10)[1] == 6.0  # cap 0.9
    assert points(RULES["QD766.MDSH.E_RESULT"], 130, 100) == (Fraction(1), 6.0)  # a ratio above 1 is clamped
    assert points(RULES["QD766.MDHL.PETITION_ON_TIME"], 0, 0) == (None, 6.0)  # nothing to handle: full
    assert points(RULES["QD766.MDSH.E_CERTIFIED_COPY"], 0, 0) == (None, 2.0)
    assert points(RULES["QD766.TDGQ.ON_TIME"], 0, 0) == (None, 0.0)  # the portal's default: zero


def test_online_payment_group_adds_rounded_parts(aug: dict) -> None:
    children = aug["formality-online-payment-tree"]["data"]["children"]
    for c in children:
        a = q2(6 * Fraction(c["totalDossierOnlinePaymentSuccess"], c["totalDossierFinancialObligation"])) \
            if c["totalDossierFinancialObligation"] else Decimal(0)
        b = q2(2 * min(1, Fraction(c["totalDossierOnlineFormalityPaymentSuccess"],
                                    c["totalFeeDossierFormalityDistinct"]) / Fraction(4, 5))) \
            if c["totalFeeDossierFormalityDistinct"] else Decimal(0)
        d = q2(2 * min(1, Fraction(c["totalFeeDossierFormality"], c["totalFeeFormality"]) / Fraction(4, 5))) \
            if c["totalFeeFormality"] else Decimal(0)
        assert Decimal(str(c["totalScore"])) == a + b + d, c["departmentCode"]
        assert Decimal(str(c["ratio"])) == q2(Fraction(a + b + d) * 10)


def test_one_dossier_base_handled(sim: Simulator, aug: dict) -> None:
    rows = truth(sim, "dossier", AUG.start, AUG.end)
    children = {c["departmentCode"]: c for c in aug["dvc-progress-tree"]["data"]["children"]}
    digit = {u["departmentId"]: u for u in aug["dossier-digitized"]["data"]["evaluation"]}
    sat = {u["departmentId"]: u for u in aug["handling-satisfaction"]["data"]["evaluation"]}
    checked = 0
    for code in ("000.00.09.H25", "000.01.42.H25", *sorted(children)[100:103]):
        c = children[code]
        received, handled, e_result = handled_of(rows, {code}, AUG.end)
        assert received != handled  # the test tells the two bases apart
        assert c["totalReceived"] == handled
        metrics = {m["code"]: m for m in digit[c["departmentId"]]["metrics"]}
        assert metrics["ORIGINAL_RESULT_AVAILABLE"]["denominator"] == handled
        assert metrics["ORIGINAL_RESULT_AVAILABLE"]["numerator"] == e_result
        score = metrics["ORIGINAL_RESULT_AVAILABLE"]["score"]
        assert Decimal(str(score)) == q2(6 * min(1, Fraction(e_result, handled)))
        for m in ("SO_HOA_GIAY_TO_GIAI_QUYET", "REUSED_DIGITIZED_DATA", "CITIZEN_DATA_CONNECTED_DOSSIER"):
            assert metrics[m]["denominator"] == handled
        s = {m["code"]: m for m in sat[c["departmentId"]]["metrics"]}
        assert s["DOSSIER_RECEIVING_SATISFACTION"]["denominator"] == handled
        checked += 1
    assert checked == 5
    # the province row: every unit's dossiers
    _, handled, e_result = handled_of(rows, {r["maDinhDanh"] for r in rows}, AUG.end)
    parent = aug["dvc-progress-tree"]["data"]["parent"]
    assert parent["totalReceived"] == handled
    assert aug["dossier-digitized"]["data"]["overview"]["metrics"][0]["numerator"] == e_result


def test_satisfaction_composite_on_the_handled_base(sim: Simulator, aug: dict) -> None:
    rows = [r for r in truth(sim, "dossier", AUG.start, AUG.end) if r["maDinhDanh"] == "000.01.42.H25"]
    _, handled, _ = handled_of(rows, {"000.01.42.H25"}, AUG.end)
    late = sum(r["daXuLyQuaHan"] for r in rows)
    overdue = sum(r["dangXuLyQuaHan"] for r in rows if r["ngay"] == AUG.end.isoformat())
    dissatisfied = sum(r["danhGiaKhongHaiLong"] for r in rows)
    ratio = max(0, 1 - Fraction(late + overdue, handled) - Fraction(dissatisfied, handled))
    unit_id = next(c["departmentId"] for c in aug["dvc-progress-tree"]["data"]["children"]
                   if c["departmentCode"] == "000.01.42.H25")
    row = next(u for u in aug["handling-satisfaction"]["data"]["evaluation"] if u["departmentId"] == unit_id)
    m = {x["code"]: x for x in row["metrics"]}["DOSSIER_RECEIVING_SATISFACTION"]
    assert m["numerator"] == handled - late - overdue - dissatisfied
    assert Decimal(str(m["score"])) == q2(6 * min(1, ratio / Fraction(9, 10)))
    assert row["totalDossiers"] == handled


def test_a_month_before_the_reform_in_todays_units(sim: Simulator, client: TestClient) -> None:
    """June 2025: each of today's communes carries the old communes whose primary successor it is."""
    june = Period.of("month", 2025, 6)
    r = client.post("/api/v1/reporting/evaluation/dvc-progress-tree",
                    json={"rootDepartmentId": ROOT, "timeType": "month", "year": 2025, "month": 6})
    assert r.status_code == 201
    children = {c["departmentCode"]: c for c in r.json()["data"]["children"]}
    assert len(children) == 163 and all(code.endswith(".H25") for code in children)
    register = sim.units()
    preds: dict[str, set[str]] = {}
    for u in register:
        if u["hieuLucDen"] == "2025-06-30" and u["donViKeThua"] and u["loaiDonVi"] == "UBND_XA":
            preds.setdefault(u["donViKeThua"][0], set()).add(u["maDinhDanh"])
    rows = truth(sim, "dossier", june.start, june.end)
    merged = [code for code, p in preds.items() if len(p) >= 3][:3]
    assert merged
    for code in merged:
        _, handled, _ = handled_of(rows, preds[code], june.end)
        assert children[code]["totalReceived"] == handled, code
    # the province row holds everything, the district committees' own dossiers too
    _, handled, _ = handled_of(rows, {x["maDinhDanh"] for x in rows}, june.end)
    assert r.json()["data"]["parent"]["totalReceived"] == handled
    # e-certified copies: the predecessor communes offering them / predecessor communes, on 30/6/2025
    d = client.post("/api/v1/reporting/evaluation/dossier-digitized",
                    json={"rootDepartmentId": ROOT, "timeType": "month", "year": 2025, "month": 6,
                          "pageSize": 200}).json()["data"]
    offers = {u["maDinhDanh"]: u["coChungThucDienTu"] for u in register if u["hieuLucDen"] == "2025-06-30"}
    row = next(u for u in d["evaluation"] if u["departmentCode"] == merged[0])
    m = {x["code"]: x for x in row["metrics"]}["ELECTRONIC_CERTIFIED_COPY"]
    assert (m["numerator"], m["denominator"]) == (sum(offers[c] for c in preds[merged[0]]), len(preds[merged[0]]))


def test_competence_and_publication_indicators(sim: Simulator, aug: dict) -> None:
    procs = sim.procedures()
    row = next(u for u in aug["dossier-digitized"]["data"]["evaluation"] if u["departmentCode"] == "000.01.42.H25")
    citizen = [p for p in procs if p["ngayQuyetDinhCongBo"] <= AUG.end.isoformat() and p["doiTuongCongDan"]
               and ("000.01.42.H25" in p["donViThucHien"] or (not p["donViThucHien"] and p["capThucHien"] == "XA"))]
    m = {x["code"]: x for x in row["metrics"]}
    assert m["CITIZEN_DATA_CONNECTED_FORMALITY"]["denominator"] == len(citizen)
    assert m["CITIZEN_DATA_CONNECTED_FORMALITY"]["numerator"] == sum(p["ketNoiDuLieuDanCu"] for p in citizen)
    # ⓟ*: over the whole catalogue, the same for every unit
    full = [p for p in procs if p["ngayQuyetDinhCongBo"] <= AUG.end.isoformat()]
    for u in aug["transparency"]["data"]["evaluation"]:
        c = {x["code"]: x for x in u["metrics"]}["PUBLIC_CONTENT_FULL"]
        assert (c["numerator"], c["denominator"]) == (sum(p["noiDungDayDu"] for p in full), len(full))
    # a department has no commune: electronic copies not measured, full points (as the portal shows it)
    dept = next(u for u in aug["dossier-digitized"]["data"]["evaluation"] if u["departmentLevel"] == "PROVINCE")
    e = {x["code"]: x for x in dept["metrics"]}["ELECTRONIC_CERTIFIED_COPY"]
    assert (e["numerator"], e["denominator"], e["score"]) == (None, None, 2)


# ------------------------------------------------------------------------------------------------ differences
def test_clgq_only_as_a_group_score(aug: dict) -> None:
    data = aug["provide-online-tree"]["data"]
    for c in data["children"]:
        assert set(c) == {"departmentId", "departmentName", "departmentCode", "level", "totalScore", "totalMaxScore",
                          "ratio", "scoreDelta"}
        assert 0 <= c["totalScore"] <= 12 and c["totalMaxScore"] == 12
    p = data["parent"]
    # the portal's own formula, not chiso's 12 × full-online share: 4 × procedures offered online (full + ½ partly)
    # + 4 × online share + 4 × full-online share; the last part's denominator is not published, so check the first two
    first = q2(4 * Fraction(2 * p["fullCount"] + p["partialCount"], 2 * p["authorityCount"]))
    second = q2(4 * Fraction(p["channelOnlineSum"], p["channelTotalSum"]))
    third = Decimal(str(p["totalScore"])) - first - second
    assert Decimal(0) <= third <= Decimal(4)
    assert p["channelTotalSum"] == p["channelOnlineSum"] + p["channelDirectSum"] + p["channelPostalSum"]


def test_temporary_denominators_flagged(sim: Simulator, aug: dict) -> None:
    rows = truth(sim, "dossier", AUG.start, AUG.end)
    by_unit: dict[str, list[dict]] = {}
    for r in rows:
        by_unit.setdefault(r["maDinhDanh"], []).append(r)
    codes = {c["departmentId"]: c["departmentCode"] for c in aug["dvc-progress-tree"]["data"]["children"]}
    flagged = []
    for u in aug["transparency"]["data"]["evaluation"]:
        m = {x["code"]: x for x in u["metrics"]}["DOSSIER_SYNC"]
        mine = by_unit.get(codes[u["departmentId"]], [])
        received, _, _ = handled_of(mine, {codes[u["departmentId"]]}, AUG.end)
        synced = sum(r["dongBoDVCQG"] for r in mine)
        if m["dataQualityStatus"] == "TEMP_NATIONAL_REPORT_DENOMINATOR":
            flagged.append(received - synced)
            assert m["numerator"] == m["denominator"] == synced and m["score"] == 6
            assert m["dataQualityMessage"].startswith("Mẫu số BCQG/GRIS")
        else:
            assert m["dataQualityStatus"] is None and (m["numerator"], m["denominator"]) == (synced, received)
    assert 1 <= len(flagged) <= 40  # a seeded few of 163
    assert any(gap > 0 for gap in flagged)  # smaller than the dossiers received
    ov = {x["code"]: x for x in aug["transparency"]["data"]["overview"]["metrics"]}["DOSSIER_SYNC"]
    received, _, _ = handled_of(rows, {r["maDinhDanh"] for r in rows}, AUG.end)
    assert ov["dataQualityStatus"] == "TEMP_NATIONAL_REPORT_DENOMINATOR"
    assert ov["denominator"] == received - sum(flagged)


def sync_flags(portal: Portal, p: Period, as_of: datetime) -> dict[str, tuple]:
    data = portal.publish("transparency", p, as_of)
    out = {}
    for u in data["evaluation"]:
        m = {x["code"]: x for x in u["metrics"]}["DOSSIER_SYNC"]
        out[u["departmentId"]] = (m["numerator"], m["denominator"], m["dataQualityStatus"])
    return out


def test_a_revision_appears_after_the_clock_moves(sim: Simulator) -> None:
    portal = Portal(sim, PortalConfig(revision_rate=1.0))
    at = portal.revision_at(AUG)
    assert at is not None and AUG.end + timedelta(days=3) <= at.date() <= AUG.end + timedelta(days=21)
    before = sync_flags(portal, AUG, at - timedelta(minutes=1))
    after = sync_flags(portal, AUG, at + timedelta(minutes=1))
    temp = [k for k, v in before.items() if v[2] == "TEMP_NATIONAL_REPORT_DENOMINATOR"]
    assert temp and not any(v[2] for v in after.values() if v[2] == "TEMP_NATIONAL_REPORT_DENOMINATOR")
    assert any(before[k][1] < after[k][1] for k in temp)  # the real denominator replaces the temporary one
    def listed(as_of: datetime) -> dict:
        return next(r for r in portal.status(as_of)["revisions"] if r["timeType"] == "month"
                    and r["periodStart"] == "2026-08-01")

    assert listed(at - timedelta(minutes=1)) == {"timeType": "month", "periodStart": "2026-08-01",
                                                 "at": at.isoformat(), "revised": False}
    assert listed(at)["revised"]


def test_explicit_revision_through_the_control_endpoint(sim: Simulator) -> None:
    c = TestClient(create_portal_app(sim, state=SimState.create(sim), config=PortalConfig(revision_rate=0.0)))
    body = {"rootDepartmentId": "000.00.00.H25", "timeType": "month", "year": 2026, "month": 8, "pageSize": 200}

    def statuses() -> set:
        data = c.post("/api/v1/reporting/evaluation/transparency", json=body).json()["data"]
        return {m.get("dataQualityStatus") for u in data["evaluation"] for m in u["metrics"]}

    assert "TEMP_NATIONAL_REPORT_DENOMINATOR" in statuses()
    r = c.post("/_sim/portal", json={"revise": {"timeType": "month", "periodStart": "2026-08-01"}})
    assert r.status_code == 201
    assert "TEMP_NATIONAL_REPORT_DENOMINATOR" not in statuses()
    assert c.post("/_sim/reset").status_code == 200
    sim.clock.set(NOW)
    assert "TEMP_NATIONAL_REPORT_DENOMINATOR" in statuses()


def test_deterministic_by_seed(sim: Simulator, aug: dict) -> None:
    again = Portal(sim)
    for group in GROUPS:
        served = aug[group]["data"]
        fresh = again.publish(group, AUG, NOW)
        if "evaluation" in served:
            assert fresh["evaluation"] == served["evaluation"] and fresh["overview"] == served["overview"]
        else:
            assert fresh == served
    other = Simulator(SimConfig(seed=27, province="25"))
    other_portal = Portal(other)
    labels = [e.idx for e in sim.entities if e.valid_from >= date(2025, 7, 1)]
    mine = {i for i in labels if again.temp_flagged(AUG, i, NOW)}
    theirs = {i for i in labels if other_portal.temp_flagged(AUG, i, NOW)}
    assert mine != theirs
    assert [again.revision_at(Period.of("month", 2026, m)) for m in range(1, 9)] != \
        [other_portal.revision_at(Period.of("month", 2026, m)) for m in range(1, 9)]


# ------------------------------------------------------------------------------------------------ HTTP face
def test_paging_and_tree_groups(client: TestClient, aug: dict) -> None:
    body = {"rootDepartmentId": ROOT, "fromDate": "2026-08-01", "toDate": "2026-08-31", "pageSize": 50}
    seen = []
    for page in (1, 2, 3, 4):
        data = client.post("/api/v1/reporting/evaluation/handling-satisfaction",
                           json={**body, "currentPage": page}).json()["data"]
        assert data["pagination"] == {"total": 163, "currentPage": page, "pageSize": 50, "totalPages": 4}
        assert data["overview"]["departmentId"] == ROOT
        seen += data["evaluation"]
    assert [u["stt"] for u in seen] == list(range(1, 164))
    assert seen == aug["handling-satisfaction"]["data"]["evaluation"]
    tree = client.post("/api/v1/reporting/evaluation/provide-online-tree",
                       json={"rootDepartmentId": ROOT, "timeType": "month", "year": 2026, "month": 8,
                             "currentPage": 2, "pageSize": 10}).json()["data"]
    assert len(tree["children"]) == 163 and "pagination" not in tree


@pytest.mark.parametrize(("group", "body", "status"), [
    ("transparency", {"timeType": "month", "year": 2026, "month": 8}, 400),  # no root
    ("transparency", {"rootDepartmentId": "019d0000-0000-7000-8000-000000000000", "timeType": "year",
                      "year": 2026}, 404),
    ("transparency", {"rootDepartmentId": ROOT, "timeType": "week", "year": 2026}, 400),
    ("transparency", {"rootDepartmentId": ROOT, "timeType": "month", "year": 2026, "month": 13}, 400),
    ("dvc-progress-tree", {"rootDepartmentId": ROOT, "timeType": "quarter", "year": 2026}, 400),
    ("dvc-progress-tree", {"rootDepartmentId": ROOT, "timeType": "month", "year": 2026, "month": 12}, 400),
    ("handling-satisfaction", {"rootDepartmentId": ROOT, "fromDate": "2026-08-01", "toDate": "2026-08-15"}, 400),
    ("handling-satisfaction", {"rootDepartmentId": ROOT, "timeType": "month", "year": 2026, "month": 8}, 400),
    ("dossier-digitized", {"rootDepartmentId": ROOT, "timeType": "month", "year": 2026, "month": 8,
                           "formalityID": "x"}, 400),
])
def test_bad_requests(client: TestClient, group: str, body: dict, status: int) -> None:
    r = client.post(f"/api/v1/reporting/evaluation/{group}", json=body)
    assert r.status_code == status
    assert r.json()["code"] == "BAD_REQUEST" and r.json()["message"]


def test_faults_and_controls(sim: Simulator) -> None:
    state = SimState.create(sim, {"portal": FaultConfig(rates={"rate_limit": 1.0}, retry_after=3)})
    c = TestClient(create_portal_app(sim, state=state))
    assert c.get("/health").json()["system"] == "national_portal"
    body = {"rootDepartmentId": ROOT, "timeType": "month", "year": 2026, "month": 8, "pageSize": 100}
    r = c.post("/api/v1/reporting/evaluation/dvc-progress-tree", json=body)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    r = c.post("/_sim/faults", json={"system": "portal", "replace": True, "seed": 4,
                                     "rates": {"duplicate_key": 1.0, "repeat_page": 1.0}})
    assert r.status_code == 200
    page1 = c.post("/api/v1/reporting/evaluation/transparency", json={**body, "currentPage": 1}).json()["data"]
    page2 = c.post("/api/v1/reporting/evaluation/transparency", json={**body, "currentPage": 2}).json()["data"]
    assert len(page1["evaluation"]) == 101  # one row twice
    assert {u["stt"] for u in page2["evaluation"]} == {u["stt"] for u in page1["evaluation"]} == set(range(1, 101))
    assert c.get("/_sim/faults").json()["portal"]["injected"]["repeat_page"] == 1
    r = c.post("/_sim/faults", json={"system": "portal", "replace": True, "rates": {"schema_drift": 1.0}})
    drifted = c.post("/api/v1/reporting/evaluation/dvc-progress-tree", json=body).json()["data"]["children"]
    assert all("departmentID" in u and "departmentId" not in u for u in drifted)
    assert c.post("/_sim/portal", json={"tempRate": 2}).status_code == 400
    assert c.get("/_sim/portal").json()["rootDepartmentId"] == ROOT


def test_server_serves_the_portal_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from chiso_simulator.server import parser

    assert parser().parse_args(["serve"]).portal_port == 8704
    monkeypatch.setenv("CHISO_PORTAL_PORT", "18704")
    assert parser().parse_args(["serve"]).portal_port == 18704
    assert parser().parse_args(["serve", "--portal-port", "9999"]).portal_port == 9999
