"""The national portal's published index into raw on a real PostgreSQL, from the real captured responses
(tests/fixtures/national_portal) served by a fake portal: the first load, an identical re-read that adds nothing,
a recomputed period stored as a new version, a unit the portal stopped listing, a bad value quarantined naming its
field, periods kept apart (one batch each), and a period that fails while the others load."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import httpx
import pytest

from chiso.extract import national_portal as portal
from chiso.extract.common import SourceConn
from chiso.extract.http import RetryPolicy

pytestmark = pytest.mark.postgres

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "national_portal"
ROOT = "019d2be3-6a88-732b-8b17-b68020c8553a"
AUG = portal.Period("month", date(2026, 8, 1))
Q3 = portal.Period("quarter", date(2026, 7, 1))
YEN_KY = "019d2be3-6ab4-74ce-8a81-8d94bcbaed3d"
VIET_TRI = "019d2be3-6ab4-74ce-8a81-1708de733a98"
PAID = "totalDossierOnlinePaymentSuccess/totalDossierFinancialObligation"


class Portal:
    """Serves the captured responses for any period (a copy per test, edited to stage revisions); `fail` lists
    (group, timeType) pairs answering 500."""

    def __init__(self) -> None:
        self.docs = {g: json.loads((FIXTURES / f"{g}.month-all.json").read_text()) for g in portal.GROUPS}
        self.fail: set[tuple[str, str]] = set()

    def unit(self, group: str, department_id: str) -> dict:
        data = self.docs[group]["data"]
        return next(u for u in data.get("evaluation") or data["children"] if u["departmentId"] == department_id)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        group = request.url.path.rsplit("/", 1)[1]
        ttype = body.get("timeType") or ("month" if body.get("toDate", "").endswith("-31") else "quarter")
        if (group, ttype) in self.fail:
            return httpx.Response(500, json={"message": "lỗi"})
        return httpx.Response(201, json=copy.deepcopy(self.docs[group]))


def expected_rows() -> int:
    n = 0
    for g in portal.GROUPS:
        data = json.loads((FIXTURES / f"{g}.month-all.json").read_text())["data"]
        root, units = portal.root_and_units(g, data)
        n += sum(len(portal.flatten_unit(g, AUG, u, is_root=False)) for u in [root, *units])
    return n


def run(wh, fake: Portal, periods=(AUG,)) -> dict:
    conn = SourceConn(base_url="http://portal.test", extra={"root_department_id": ROOT})
    return portal.extract(
        conn,
        wh.uri("chiso_loader"),
        list(periods),
        run_id="test",
        policy=RetryPolicy(max_attempts=2, sleep=lambda s: None),
        transport=httpx.MockTransport(fake),
    )


def latest(wh, department_id: str, metric: str, period: portal.Period = AUG) -> tuple:
    with wh.connect() as conn:
        return conn.execute(
            "SELECT numerator, denominator, score::float FROM raw.portal_indicator_scores_latest"
            " WHERE period_type = %s AND period_start = %s AND department_id = %s AND metric_code = %s"
            " AND group_code = 'formality-online-payment-tree'",
            (period.type, period.start, department_id, metric),
        ).fetchone()


def test_versions_of_a_published_period(fresh_schema):
    wh, fake, n = fresh_schema, Portal(), expected_rows()
    first = run(wh, fake)["totals"]
    assert first == {"rows_received": n, "rows_new_versions": n, "rows_unchanged": 0, "rows_deleted": 0,
                     "rows_quarantined": 0}  # fmt: skip
    with wh.connect() as conn:
        scope = conn.execute(
            "SELECT scope, window_start FROM raw.load_audit WHERE source = 'national_portal'"
        ).fetchall()
    assert scope == [({"period_type": "month", "period_start": "2026-08-01"}, None)]
    assert latest(wh, YEN_KY, PAID) == (268, 318, None) and latest(wh, YEN_KY, "totalScore") == (None, None, 6.44)

    # the same figures read again: nothing new
    again = run(wh, fake)["totals"]
    assert (again["rows_new_versions"], again["rows_unchanged"], again["rows_deleted"]) == (0, n, 0)

    # the portal recomputes the month: two figures of one commune change
    unit = fake.unit("formality-online-payment-tree", YEN_KY)
    unit["totalDossierOnlinePaymentSuccess"], unit["totalScore"] = 280, 6.65
    revised = run(wh, fake)["totals"]
    assert (revised["rows_new_versions"], revised["rows_unchanged"]) == (2, n - 2)
    assert latest(wh, YEN_KY, PAID) == (280, 318, None) and latest(wh, YEN_KY, "totalScore") == (None, None, 6.65)
    with wh.connect() as conn:
        versions = conn.execute(
            "SELECT numerator FROM raw.portal_indicator_scores WHERE department_id = %s AND metric_code = %s"
            " ORDER BY _seq",
            (YEN_KY, PAID),
        ).fetchall()
    assert versions == [(268,), (280,)]  # every version kept

    # the portal stops listing a commune in one group: its rows there get tombstones, the other groups keep it
    tr = fake.docs["transparency"]["data"]
    tr["evaluation"] = [u for u in tr["evaluation"] if u["departmentId"] != VIET_TRI]
    gone = run(wh, fake)["totals"]
    assert gone["rows_deleted"] == 5  # its four transparency metrics and the group's score
    with wh.connect() as conn:
        left = dict(
            conn.execute(
                "SELECT group_code, count(*) FROM raw.portal_indicator_scores_latest WHERE department_id = %s"
                " GROUP BY 1",
                (VIET_TRI,),
            ).fetchall()
        )
    assert "transparency" not in left and left["dossier-digitized"] == 8


def test_bad_values_are_quarantined_naming_the_field_and_periods_stay_apart(fresh_schema):
    wh, fake, n = fresh_schema, Portal(), expected_rows()
    run(wh, fake, (AUG, Q3))
    unit = fake.unit("formality-online-payment-tree", YEN_KY)
    unit["totalDossierOnlinePaymentSuccess"] = -5
    res = run(wh, fake, (AUG,))
    assert res["totals"]["rows_quarantined"] == 1 and res["totals"]["rows_deleted"] == 0
    with wh.connect() as conn:
        ref, field, reason, payload = conn.execute(
            "SELECT record_ref, field, reason, payload FROM raw.quarantine WHERE source = 'national_portal'"
        ).fetchone()
        per_period = conn.execute(
            "SELECT period_type, count(*) FROM raw.portal_indicator_scores_latest GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert field == "numerator" and "'numerator' có giá trị âm (-5)" in reason
    assert ref == (
        "POST /api/v1/reporting/evaluation/formality-online-payment-tree month 2026-08-01 trang 1 children[3]"
        f" chỉ tiêu {PAID}"
    )
    assert payload["departmentName"] == "UBND xã Yên Kỳ"
    assert latest(wh, YEN_KY, PAID) == (268, 318, None)  # the version stored before stays the latest
    assert per_period == [("month", n), ("quarter", n)]  # the month's batch left the quarter alone

    # a period whose group cannot be read is not stored at all; the other periods load, then the run fails
    fake.fail.add(("dossier-digitized", "quarter"))
    unit["totalDossierOnlinePaymentSuccess"] = 270
    with pytest.raises(RuntimeError, match=r"không đọc được quý 3/2026: .*HTTP 500"):
        run(wh, fake, (AUG, Q3))
    assert latest(wh, YEN_KY, PAID) == (270, 318, None)
    assert latest(wh, YEN_KY, PAID, Q3) == (268, 318, None)
    with wh.connect() as conn:
        audits = conn.execute(
            "SELECT scope ->> 'period_type', status FROM raw.load_audit WHERE source = 'national_portal'"
            " ORDER BY started_at DESC LIMIT 2"
        ).fetchall()
    assert audits == [("quarter", "failed"), ("month", "succeeded")]


def test_quality_suite_passes_clean_loads_and_names_each_defect(fresh_schema, tmp_path):
    import os

    from chiso.quality import validate

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    wh, fake = fresh_schema, Portal()
    run(wh, fake, (AUG, Q3))
    window = (date(2026, 8, 20), date(2026, 8, 27))

    def failed(run_id: str) -> dict[str, str]:
        out = validate(
            "raw_portal_indicator_scores", warehouse_uri=wh.uri("chiso_loader"), run_id=run_id, window=window,
            home=tmp_path,
        )  # fmt: skip
        return {r.name: r.message_vi for r in out.results if not r.success}

    assert failed("clean") == {}
    with wh.connect(autocommit=True) as conn:
        # defects written past the loader, as a broken extractor or a hand edit would leave them
        batch = conn.execute(
            "SELECT batch_id FROM raw.load_audit WHERE scope ->> 'period_type' = 'quarter'"
        ).fetchone()[0]
        conn.execute(
            """INSERT INTO raw.portal_indicator_scores (period_type, period_start, period_end, group_code, metric_code,
                   department_id, department_name, is_root, numerator, denominator, score, max_score, _batch_id,
                   _row_hash)
               VALUES ('month', '2026-08-01', '2026-08-30', 'transparency', 'X', 'u1', 'Đơn vị lạ', false, 5, 3, 7, 6,
                       %(b)s, 'h'),
                      ('month', '2026-08-01', '2026-08-31', 'transparency', 'totalScore', 'u2', 'Tỉnh thứ hai', true,
                       0, 0, 0, 6, %(b)s, 'h')""",
            {"b": batch},
        )
    names = failed("broken")
    assert set(names) == {
        "period_aligned",  # 30 August does not end a month
        "score_le_max",  # 7 points of 6
        "numerator_le_denominator",  # 5 of 3 (a warning)
        "one_province_row",  # a second province row in transparency of 8/2026
        "in_batch_scope",  # both rows claim the quarter's batch
    }, names
    assert "Kỳ phải là một tháng, quý hoặc năm dương lịch trọn vẹn" in names["period_aligned"]
