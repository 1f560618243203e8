"""The national portal's extractor (sources.md §5) against the real captured responses in
tests/fixtures/national_portal (Phú Thọ, month 8/2026): flattening into raw records, the requests it sends, paging,
faults, and which periods a run reads."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest

from chiso.extract import national_portal as portal
from chiso.extract.common import SourceConn
from chiso.extract.dag_support import await_portal, portal_needs_refresh, portal_periods
from chiso.extract.http import RetryPolicy, SourceError
from chiso.raw.entities import PORTAL_INDICATOR_SCORES, parse_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "national_portal"
REQUESTS = json.loads((FIXTURES / "requests.json").read_text())["captures"]
ROOT = "019d2be3-6a88-732b-8b17-b68020c8553a"  # Phú Thọ on the real portal
AUG = portal.Period("month", date(2026, 8, 1))
YEN_KY = "019d2be3-6ab4-74ce-8a81-8d94bcbaed3d"  # UBND xã Yên Kỳ, the 6.44 example
BQL = "019d2be3-6a88-732b-8b17-bcfe78dd3f07"  # Ban quản lý các khu công nghiệp


def fixture(group: str) -> dict:
    return json.loads((FIXTURES / f"{group}.month-all.json").read_text())


def records(group: str) -> list[dict]:
    data = fixture(group)["data"]
    root, units = portal.root_and_units(group, data)
    out = portal.flatten_unit(group, AUG, root, is_root=True)
    for u in units:
        out += portal.flatten_unit(group, AUG, u, is_root=False)
    return out


def parsed(group: str) -> dict[tuple[str, str], dict]:
    """(departmentId, metricCode) -> typed values, every record parsing clean."""
    out = {}
    for rec in records(group):
        p = parse_record(PORTAL_INDICATOR_SCORES, rec)
        assert p.ok, (rec, p.problems)
        out[(p.values["department_id"], p.values["metric_code"])] = p.values
    return out


def test_every_real_response_flattens_into_clean_records():
    expected_metrics = {  # metrics per unit, plus the group's own score (totalScore)
        "transparency": 4,
        "dvc-progress-tree": 1,
        "provide-online-tree": 0,
        "dossier-digitized": 7,
        "formality-online-payment-tree": 3,
        "handling-satisfaction": 5,
    }
    for group, n in expected_metrics.items():
        data = fixture(group)["data"]
        units = len(portal.root_and_units(group, data)[1])
        rows = parsed(group)
        assert len(rows) == (units + 1) * (n + 1), group  # the province row + every unit row
        roots = {k[0] for k, v in rows.items() if v["is_root"]}
        assert roots == {ROOT}, group
        assert all(v["period_type"] == "month" and v["period_start"] == date(2026, 8, 1) for v in rows.values())
        assert all(v["period_end"] == date(2026, 8, 31) and v["group_code"] == group for v in rows.values())


def test_online_payment_counts_and_the_group_score_of_the_rounding_example():
    rows = parsed("formality-online-payment-tree")
    pairs = {k[1]: (v["numerator"], v["denominator"], v["score"]) for k, v in rows.items() if k[0] == YEN_KY}
    assert pairs == {
        "totalDossierOnlinePaymentSuccess/totalDossierFinancialObligation": (268, 318, None),
        "totalDossierOnlineFormalityPaymentSuccess/totalFeeDossierFormalityDistinct": (9, 31, None),
        "totalFeeDossierFormality/totalFeeFormality": (8, 31, None),
        "totalScore": (None, None, 6.44),  # 5.06 + 0.73 + 0.65: only the group's score is published
    }
    assert rows[(YEN_KY, "totalScore")]["max_score"] == 10.0
    assert rows[(YEN_KY, "totalScore")]["department_code"] == "H44.130"
    assert rows[(YEN_KY, "totalScore")]["department_level"] == "COMMUNE"


def test_metrics_keep_published_scores_flags_and_nulls():
    t = parsed("transparency")
    sync = t[(BQL, "DOSSIER_SYNC")]
    assert (sync["numerator"], sync["denominator"], sync["score"], sync["max_score"]) == (380, 380, 6.0, 6.0)
    assert sync["data_quality_status"] == "TEMP_NATIONAL_REPORT_DENOMINATOR"
    assert sync["data_quality_message"].startswith("Mẫu số BCQG/GRIS")
    # transparency rows carry no departmentCode: left empty, matched through other groups by departmentId
    assert sync["department_code"] is None and sync["department_type"] == "PROVINCIAL_DEPARTMENT"
    nothing = t[("019d2be3-6a88-732b-8b17-bb1e9a3f14ab", "PUBLISH_ON_TIME")]
    assert (nothing["numerator"], nothing["denominator"], nothing["score"], nothing["ratio"]) == (0, 0, None, None)
    d = parsed("dossier-digitized")
    copy = d[(BQL, "ELECTRONIC_CERTIFIED_COPY")]
    assert (copy["numerator"], copy["denominator"], copy["score"]) == (None, None, 2.0)
    e_result = d[(ROOT, "ORIGINAL_RESULT_AVAILABLE")]  # the province's e-results over the handled base
    assert (e_result["numerator"], e_result["denominator"], e_result["score"]) == (133274, 184513, 4.33)
    assert d[(ROOT, "totalScore")]["department_code"] == "H44"
    h = parsed("handling-satisfaction")
    assert h[(ROOT, "PETITION_CLASSIFICATION_TTHC")]["max_score"] == 0.0
    assert h[(ROOT, "DOSSIER_RECEIVING_SATISFACTION")]["score"] == 5.22


def test_tree_groups_metric_and_group_rows():
    p = parsed("dvc-progress-tree")
    root = p[(ROOT, "totalOnTime/totalReceived")]  # the province row names its score totalScore
    assert (root["numerator"], root["denominator"], root["score"], root["max_score"]) == (144625, 184513, 15.68, 20.0)
    assert root["department_level"] is None and root["is_root"]
    child = p[(BQL, "totalOnTime/totalReceived")]  # children name it score
    assert (child["numerator"], child["denominator"], child["score"], child["ratio"]) == (486, 588, 16.53, 82.65)
    assert p[(BQL, "totalScore")]["score"] == 16.53
    clgq = parsed("provide-online-tree")
    assert {k[1] for k in clgq} == {"totalScore"}
    assert clgq[(ROOT, "totalScore")]["score"] == 8.83 and clgq[(ROOT, "totalScore")]["max_score"] == 12.0


def test_a_bad_value_is_named_by_its_field():
    data = fixture("dossier-digitized")["data"]
    unit = json.loads(json.dumps(data["evaluation"][1]))
    unit["metrics"][0]["numerator"] = -3
    unit["metrics"][1]["score"] = "2,12"
    del unit["departmentId"]
    recs = portal.flatten_unit("dossier-digitized", AUG, unit, is_root=False)
    problems = [parse_record(PORTAL_INDICATOR_SCORES, r).problems for r in recs]
    assert any(p.field == "numerator" and "âm" in p.message for p in problems[0])
    assert any(p.field == "score" and "không phải số" in p.message for p in problems[1])
    assert all(any(p.field == "departmentId" and p.drift for p in ps) for ps in problems)
    bad = portal.flatten_unit("transparency", AUG, "not a unit", is_root=False)
    assert not parse_record(PORTAL_INDICATOR_SCORES, bad[0]).ok


# ---------------------------------------------------------------- the client against a fake portal


class FakePortal:
    """Serves the real responses; `pages` splits an evaluation group's units over pages; `faults` maps the n-th
    request (1-based) to a status code or 'repeat' (serve the previous page again) or 'not_ok'."""

    def __init__(self, pages: int = 1, faults: dict[int, object] | None = None, drop: set[str] = frozenset()):
        self.pages = pages
        self.faults = faults or {}
        self.drop = drop  # groups answering 404
        self.requests: list[tuple[str, dict, dict]] = []
        self.last: dict | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append((request.url.path, body, dict(request.headers)))
        n = len(self.requests)
        group = request.url.path.rsplit("/", 1)[1]
        fault = self.faults.get(n)
        if isinstance(fault, int):
            return httpx.Response(fault, headers={"Retry-After": "0"}, json={"message": "busy"})
        if fault == "repeat" and self.last is not None:
            return httpx.Response(201, json=self.last)
        if fault == "not_ok":
            return httpx.Response(201, json={"code": "ERROR", "message": "Lỗi hệ thống", "data": None})
        if fault == "negative":  # a count gone wrong in this answer only
            doc = json.loads(json.dumps(fixture(group)))
            doc["data"]["evaluation"][0]["metrics"][0]["numerator"] = -1
            return httpx.Response(201, json=doc)
        if group in self.drop:
            return httpx.Response(404, json={"message": "not found"})
        doc = fixture(group)
        data = doc["data"]
        if "pagination" in data and self.pages > 1:
            units = data["evaluation"]
            page, size = body["currentPage"], -(-len(units) // self.pages)
            data = {
                **data,
                "evaluation": units[(page - 1) * size : page * size],
                "pagination": {"total": len(units), "currentPage": page, "pageSize": size, "totalPages": self.pages},
            }
            doc = {**doc, "data": data}
        self.last = doc
        return httpx.Response(201, json=doc)


def client(fake: FakePortal, password: str | None = None, **extra) -> portal.PortalClient:
    conn = SourceConn(
        base_url="https://dichvucong.gov.vn", password=password, extra={"root_department_id": ROOT, **extra}
    )
    policy = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    return portal.PortalClient(conn, policy=policy, transport=httpx.MockTransport(fake))


def all_rows(c: portal.PortalClient, period: portal.Period = AUG) -> list:
    return [r for page in c.rows(period) for r in page]


def test_requests_are_the_real_portals():
    fake = FakePortal()
    with client(fake) as c:
        rows = all_rows(c)
    assert [p for p, _, _ in fake.requests] == [f"/api/v1/reporting/evaluation/{g}" for g in portal.GROUPS]
    for path, body, headers in fake.requests:
        captured = REQUESTS[f"{path.rsplit('/', 1)[1]}.month-all.json"]
        assert captured["path"] == path
        assert body == {**captured["payload"], "pageSize": 200}  # the captured requests, pageSize aside
        assert headers["content-type"] == "application/json" and "authorization" not in headers
    assert len(rows) == sum(len(parsed(g)) for g in portal.GROUPS)
    assert (
        rows[0].ref
        == "POST /api/v1/reporting/evaluation/transparency month 2026-08-01 trang 1 overview chỉ tiêu PUBLISH_ON_TIME"
    )
    assert rows[-1].ref.endswith("handling-satisfaction month 2026-08-01 trang 1 evaluation[3] chỉ tiêu totalScore")


def test_other_periods_bodies():
    q3, y = portal.Period("quarter", date(2026, 7, 1)), portal.Period("year", date(2026, 1, 1))
    assert q3.body("transparency") == {"timeType": "quarter", "year": 2026, "quarter": 3}
    assert y.body("dvc-progress-tree") == {"timeType": "year", "year": 2026}
    assert q3.body("handling-satisfaction") == {"fromDate": "2026-07-01", "toDate": "2026-09-30"}
    assert y.body("handling-satisfaction") == {"fromDate": "2026-01-01", "toDate": "2026-12-31"}
    assert portal.Period("month", date(2024, 2, 1)).end == date(2024, 2, 29)


def test_paging_reads_every_page_and_the_province_row_once():
    fake = FakePortal(pages=3)
    with client(fake) as c:
        rows = all_rows(c)
    one_page = FakePortal()
    with client(one_page) as c:
        expected = all_rows(c)
    assert sorted(json.dumps(r.record, sort_keys=True) for r in rows) == sorted(
        json.dumps(r.record, sort_keys=True) for r in expected
    )
    pages = [(p.rsplit("/", 1)[1], b["currentPage"]) for p, b, _ in fake.requests]
    assert pages.count(("transparency", 3)) == 1 and ("transparency", 4) not in pages
    assert pages.count(("dvc-progress-tree", 1)) == 1 and ("dvc-progress-tree", 2) not in pages  # no paging
    assert any(" trang 3 evaluation[0] " in r.ref for r in rows)


def test_transient_faults_are_retried_and_a_repeated_page_read_again():
    fake = FakePortal(pages=2, faults={1: 429, 2: 503, 4: "repeat", 6: "not_ok"})
    with client(fake) as c:
        rows = all_rows(c)
    assert len(rows) == sum(len(parsed(g)) for g in portal.GROUPS)


def test_a_page_with_bad_rows_is_read_again_and_the_best_copy_kept():
    fake = FakePortal(faults={1: "negative", 2: "negative"})
    with client(fake) as c:
        rows = all_rows(c)
    assert len(fake.requests) == len(portal.GROUPS) + 2  # transparency read three times
    assert all(parse_record(PORTAL_INDICATOR_SCORES, r.record).ok for r in rows)
    fake = FakePortal(faults=dict.fromkeys(range(1, 5), "negative"))
    with client(fake) as c:
        rows = all_rows(c)
    assert len(fake.requests) == len(portal.GROUPS) + 3  # after three re-reads the page goes on to the loader
    bad = [r for r in rows if not parse_record(PORTAL_INDICATOR_SCORES, r.record).ok]
    assert [r.ref for r in bad] == [
        "POST /api/v1/reporting/evaluation/transparency month 2026-08-01 trang 1 evaluation[0] chỉ tiêu PUBLISH_ON_TIME"
    ]


def test_a_page_repeating_for_good_fails_naming_the_request():
    fake = FakePortal(pages=2, faults={2: "repeat", 3: "repeat", 4: "repeat"})
    with client(fake) as c, pytest.raises(SourceError) as e:
        all_rows(c)
    assert "trùng nội dung với trang trước" in str(e.value) and "'currentPage': 2" in str(e.value)


def test_an_error_after_retries_names_group_period_and_page():
    fake = FakePortal(drop={"dossier-digitized"})
    with client(fake) as c, pytest.raises(SourceError) as e:
        all_rows(c)
    msg = str(e.value)
    assert "[national_portal] POST https://dichvucong.gov.vn/api/v1/reporting/evaluation/dossier-digitized" in msg
    assert "'month': 8" in msg and "HTTP 404" in msg


def test_a_password_is_sent_as_a_token_and_the_root_is_required():
    fake = FakePortal()
    with client(fake, password="s3cret") as c:
        next(c.rows(AUG))
    assert fake.requests[0][2]["authorization"] == "Bearer s3cret"
    fake = FakePortal()
    with client(fake, password="k", auth_header="X-API-Key") as c:
        next(c.rows(AUG))
    assert fake.requests[0][2]["x-api-key"] == "k"
    with pytest.raises(ValueError, match="root_department_id"):
        portal.PortalClient(SourceConn(base_url="https://dichvucong.gov.vn"))


# ---------------------------------------------------------------- which periods


def labels(periods) -> list[str]:
    return [f"{p.type} {p.start}" for p in periods]


def test_daily_run_reads_the_periods_not_yet_final():
    assert labels(portal.periods_to_read(date(2026, 8, 15))) == [
        "month 2026-07-01", "month 2026-08-01",
        "quarter 2026-04-01", "quarter 2026-07-01",
        "year 2025-01-01", "year 2026-01-01",
    ]  # fmt: skip
    # the run of 1 January reads the December just ended, its quarter and its year
    assert labels(portal.scheduled_periods(date(2026, 1, 1))) == [
        "month 2025-11-01", "month 2025-12-01",
        "quarter 2025-07-01", "quarter 2025-10-01",
        "year 2024-01-01", "year 2025-01-01",
    ]  # fmt: skip
    assert labels(portal_periods({}, date(2026, 1, 2))) == [
        "month 2025-12-01", "month 2026-01-01",
        "quarter 2025-10-01", "quarter 2026-01-01",
        "year 2025-01-01", "year 2026-01-01",
    ]  # fmt: skip


def test_backfill_reads_every_period_overlapping_the_window():
    assert labels(portal.periods_overlapping(date(2025, 6, 15), date(2025, 7, 10))) == [
        "month 2025-06-01", "month 2025-07-01",
        "quarter 2025-04-01", "quarter 2025-07-01",
        "year 2025-01-01",
    ]  # fmt: skip
    window = portal_periods({"start": "2025-01-01", "end": "2026-02-28"}, None)
    assert [p.type for p in window].count("month") == 14 and [p.type for p in window].count("quarter") == 5
    assert labels(window)[-2:] == ["year 2025-01-01", "year 2026-01-01"]
    with pytest.raises(ValueError):
        portal_periods({"start": "2025-01-01"}, None)


class FakeTI:
    def __init__(self, counts: dict[tuple[str, tuple], int]):
        self.counts = counts

    def get_dr_count(self, dag_id, states=None, **kw):
        return self.counts.get((dag_id, tuple(states or ())), 0)

    def get_ti_count(self, dag_id, task_ids=None, states=None, **kw):
        return self.counts.get((dag_id, tuple(task_ids or ())), 0)


def test_refresh_only_for_new_figures_and_when_no_transform_is_coming():
    new = {"totals": {"rows_new_versions": 3, "rows_deleted": 0}}
    assert portal_needs_refresh(new, {}, FakeTI({}))
    assert portal_needs_refresh({"totals": {"rows_new_versions": 0, "rows_deleted": 2}}, {}, FakeTI({}))
    assert not portal_needs_refresh({"totals": {"rows_new_versions": 0, "rows_deleted": 0}}, {}, FakeTI({}))
    assert not portal_needs_refresh(new, {"refresh_warehouse": False}, FakeTI({}))
    assert not portal_needs_refresh(new, {}, FakeTI({("transform_warehouse", ("queued",)): 1}))
    assert not portal_needs_refresh(new, {}, FakeTI({("extract_edoc", ("queued", "running")): 1}))
    # a transform already running started before these figures were stored: a new one is needed
    assert portal_needs_refresh(new, {}, FakeTI({("transform_warehouse", ("running",)): 1}))
    # ...unless it is still waiting for this portal run to end (its first task): it reads them
    assert not portal_needs_refresh(new, {}, FakeTI({("transform_warehouse", ("await_portal",)): 1}))


class PortalRuns:
    """A TI whose portal extract is active for the first `active_polls` polls."""

    def __init__(self, active_polls: int):
        self.left = active_polls
        self.now = 0.0

    def get_dr_count(self, dag_id, states=None, **kw):
        assert dag_id == "extract_national_portal" and set(states) == {"queued", "running"}
        self.left -= 1
        return 1 if self.left >= 0 else 0

    def sleep(self, s):
        self.now += s


def test_transform_waits_for_a_portal_extract_under_way_within_its_bound():
    ti = PortalRuns(3)
    assert await_portal(ti, 60, poll_s=5, sleep=ti.sleep, clock=lambda: ti.now) == 15
    ti = PortalRuns(0)
    assert await_portal(ti, 60, poll_s=5, sleep=ti.sleep, clock=lambda: ti.now) == 0
    ti = PortalRuns(1000)  # a portal outage: build without it after the bound
    assert await_portal(ti, 60, poll_s=5, sleep=ti.sleep, clock=lambda: ti.now) == 60


def test_dag_shape():
    import importlib.util

    from airflow.sdk import Asset

    from chiso.assets import raw_asset_uri

    path = Path(__file__).resolve().parents[2] / "dags" / "extract_national_portal.py"
    spec = importlib.util.spec_from_file_location("extract_national_portal", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    dag = mod.extract_national_portal()
    assert dag.catchup is False and dag.start_date is None
    assert dag.timetable.expression == "0 1 * * *"
    assert {"start", "end", "refresh_warehouse"} <= set(dag.params.keys())
    tasks = {t.task_id: t for t in dag.tasks}
    assert [o.uri for o in tasks["extract"].outlets] == [Asset(raw_asset_uri("portal_indicator_scores")).uri]
    assert tasks["new_figures"].upstream_task_ids == {"extract"}
    assert tasks["refresh_warehouse"].upstream_task_ids == {"new_figures"}
    assert tasks["refresh_warehouse"].trigger_dag_id == "transform_warehouse"
    assert all(t.retries >= 1 for t in dag.tasks)
