"""National public-service portal: its published Decision 766 index (sources.md §5), read to reconcile.

The portal's own public reporting API, the requests its web pages make: `POST /api/v1/reporting/evaluation/<group>`
with a JSON body naming the province (`rootDepartmentId`) and the period, answered `201 {"code": "OK", "data": ...}`.
Two response shapes (tests/fixtures/national_portal, captured from the real portal):

- "evaluation" groups (transparency, dossier-digitized, handling-satisfaction): `overview` (the province) and
  `evaluation[]` (one row per unit), each with `metrics[]` (code, numerator, denominator, ratio, score, maxScore,
  dataQualityStatus), paged by `pagination` {total, currentPage, pageSize, totalPages};
- "tree" groups (dvc-progress-tree, provide-online-tree, formality-online-payment-tree): `parent` and `children[]`
  with the counts as unit fields and no paging (every unit in one response).

Every response is flattened to one record per (group, metric, unit), the raw entity PORTAL_INDICATOR_SCORES: the
tree groups' counts become metrics named "<numerator field>/<denominator field>", and every unit also gets the
group's own score (metric "totalScore"; provide-online-tree publishes nothing else per unit). One batch per
period (all six groups): versions and tombstones stay inside the period, and a group that cannot be read fails the
period's batch, so a period is stored whole or not at which point the next run reads it again.

Which periods: the portal recomputes a period after publishing it, so a daily run re-reads those not yet final —
the month, quarter and year of the run's reference day (the day before the run) and the ones before each; a
backfill reads every period that overlaps its window.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from chiso.extract.common import ExtractSummary, SourceConn, as_date
from chiso.extract.http import JsonFetcher, RetryPolicy, SourceError, page_fingerprint
from chiso.raw.entities import PORTAL_INDICATOR_SCORES, parse_record
from chiso.raw.loader import SourceRow, load_batch

log = logging.getLogger(__name__)

SOURCE = "national_portal"
PATH = "/api/v1/reporting/evaluation/{group}"
PAGE_SIZE = 200  # what the portal's own pages ask for
MAX_PAGES = 1000  # a server that keeps announcing more pages is broken, not big
MAX_REPEAT_REFETCH = 2  # a page equal to the previous one: read again this many times, then fail
MAX_QUALITY_REFETCH = 3  # a page with doubtful rows: read again this many times, then keep the best copy

EVALUATION_GROUPS = ("transparency", "dossier-digitized", "handling-satisfaction")
# Tree groups: the unit fields read as (numerator, denominator) pairs, in the portal's names.
TREE_METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "dvc-progress-tree": (("totalOnTime", "totalReceived"),),
    "provide-online-tree": (),
    "formality-online-payment-tree": (
        ("totalDossierOnlinePaymentSuccess", "totalDossierFinancialObligation"),
        ("totalDossierOnlineFormalityPaymentSuccess", "totalFeeDossierFormalityDistinct"),
        ("totalFeeDossierFormality", "totalFeeFormality"),
    ),
}
# The portal's order of the index's groups (transparency … satisfaction).
GROUPS = (
    "transparency",
    "dvc-progress-tree",
    "provide-online-tree",
    "dossier-digitized",
    "formality-online-payment-tree",
    "handling-satisfaction",
)
GROUP_TOTAL = "totalScore"  # metric code of a unit's score for a whole group
# Groups whose metrics carry their own published score; the others publish one score per group only.
SCORED_METRICS = {"transparency", "dossier-digitized", "handling-satisfaction", "dvc-progress-tree"}


# ---------------------------------------------------------------- periods


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period as the portal publishes it: `timeType` month | quarter | year."""

    type: str
    start: date

    @property
    def end(self) -> date:
        months = {"month": 1, "quarter": 3, "year": 12}[self.type]
        y, m = divmod(self.start.month - 1 + months, 12)
        return date(self.start.year + y, m + 1, 1) - timedelta(days=1)

    @property
    def label(self) -> str:
        if self.type == "month":
            return f"tháng {self.start.month:02d}/{self.start.year}"
        if self.type == "quarter":
            return f"quý {(self.start.month - 1) // 3 + 1}/{self.start.year}"
        return f"năm {self.start.year}"

    def previous(self) -> Period:
        return period_of(self.type, self.start - timedelta(days=1))

    def next(self) -> Period:
        return period_of(self.type, self.end + timedelta(days=1))

    def body(self, group: str) -> dict[str, Any]:
        """The period's fields of a request body: dates for handling-satisfaction, time fields elsewhere."""
        if group == "handling-satisfaction":
            return {"fromDate": self.start.isoformat(), "toDate": self.end.isoformat()}
        out: dict[str, Any] = {"timeType": self.type, "year": self.start.year}
        if self.type == "month":
            out["month"] = self.start.month
        elif self.type == "quarter":
            out["quarter"] = (self.start.month - 1) // 3 + 1
        return out


PERIOD_TYPES = ("month", "quarter", "year")


def period_of(period_type: str, day: date) -> Period:
    if period_type == "month":
        return Period("month", day.replace(day=1))
    if period_type == "quarter":
        return Period("quarter", date(day.year, (day.month - 1) // 3 * 3 + 1, 1))
    if period_type == "year":
        return Period("year", date(day.year, 1, 1))
    raise ValueError(f"unknown period type {period_type!r}")


def periods_to_read(reference_day: date) -> list[Period]:
    """The periods not yet final on `reference_day` (the last whole day before the run): the month, quarter and
    year holding it and the one before each (the portal recomputes a period for a while after it ends)."""
    out = []
    for t in PERIOD_TYPES:
        current = period_of(t, reference_day)
        out += [current.previous(), current]
    return sorted(out, key=lambda p: (PERIOD_TYPES.index(p.type), p.start))


def periods_overlapping(start: date, end: date) -> list[Period]:
    """Every month, quarter and year with at least one day in [start, end] (a backfill)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    out = []
    for t in PERIOD_TYPES:
        p = period_of(t, start)
        while p.start <= end:
            out.append(p)
            p = p.next()
    return out


# ---------------------------------------------------------------- flattening


def _unit_fields(unit: dict, is_root: bool) -> dict[str, Any]:
    """The unit's identity as the raw entity names it; fields the portal did not send stay absent (a unit
    without departmentId is quarantined naming the field)."""
    out: dict[str, Any] = {}
    for name in ("departmentId", "departmentCode", "departmentName", "departmentType"):
        if name in unit:
            out[name] = unit[name]
    level = unit.get("level", unit.get("departmentLevel"))
    if level is not None:
        out["level"] = level
    out["isRoot"] = is_root
    return out


def _copy(dst: dict, src: dict, names: tuple[str, ...]) -> None:
    for name in names:
        if name in src:
            dst[name] = src[name]


def flatten_unit(group: str, period: Period, unit: Any, *, is_root: bool) -> list[dict[str, Any]]:
    """One record per metric of one unit row of a group's response, plus the unit's group score."""
    head = {
        "timeType": period.type,
        "periodStart": period.start.isoformat(),
        "periodEnd": period.end.isoformat(),
        "group": group,
    }
    if not isinstance(unit, dict):  # its record lacks every unit field: quarantined naming them
        return [{**head, "metricCode": GROUP_TOTAL, "isRoot": is_root}]
    ident = _unit_fields(unit, is_root)
    out: list[dict[str, Any]] = []
    if group in EVALUATION_GROUPS:
        metrics = unit.get("metrics")
        for m in metrics if isinstance(metrics, list) else []:
            rec = {**head, **ident}
            if isinstance(m, dict):
                _copy(rec, m, ("numerator", "denominator", "ratio", "score", "maxScore"))
                _copy(rec, m, ("dataQualityStatus", "dataQualityMessage"))
                if "code" in m:
                    rec["metricCode"] = m["code"]
            out.append(rec)
    else:
        for num, den in TREE_METRICS[group]:
            rec = {**head, **ident, "metricCode": f"{num}/{den}"}
            if num in unit:
                rec["numerator"] = unit[num]
            if den in unit:
                rec["denominator"] = unit[den]
            if group in SCORED_METRICS:  # dvc-progress-tree: the metric is the group (children: score; parent: total)
                rec["ratio"] = unit.get("ratio")
                rec["score"] = unit.get("score", unit.get("totalScore"))
                rec["maxScore"] = unit.get("maxScore", unit.get("totalMaxScore"))
            else:  # the metric has counts only: the portal publishes the group's score alone
                rec["score"] = rec["maxScore"] = None
            out.append(rec)
    total = {**head, **ident, "metricCode": GROUP_TOTAL, "numerator": None, "denominator": None}
    if "ratio" in unit:
        total["ratio"] = unit["ratio"]
    # A tree child of dvc-progress-tree names its group score `score`; everyone else `totalScore`.
    for dst, names in (("score", ("totalScore", "score")), ("maxScore", ("totalMaxScore", "maxScore"))):
        for name in names:
            if name in unit:
                total[dst] = unit[name]
                break
    out.append(total)
    return out


def root_and_units(group: str, data: dict) -> tuple[Any, list]:
    if group in EVALUATION_GROUPS:
        return data.get("overview"), data.get("evaluation")
    return data.get("parent"), data.get("children")


def _envelope(group: str):
    def check(body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError("phản hồi không phải đối tượng JSON")
        if body.get("code") != "OK":
            raise ValueError(f"mã kết quả 'code' = {body.get('code')!r}, không phải 'OK' ({body.get('message')!r})")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ValueError("thiếu đối tượng 'data'")
        root_name, units_name = ("overview", "evaluation") if group in EVALUATION_GROUPS else ("parent", "children")
        if not isinstance(data.get(root_name), dict):
            raise ValueError(f"thiếu đối tượng 'data.{root_name}' (dòng của tỉnh)")
        if not isinstance(data.get(units_name), list):
            raise ValueError(f"thiếu danh sách 'data.{units_name}'")
        pagination = data.get("pagination")
        if pagination is not None and not isinstance(pagination, dict):
            raise ValueError("'data.pagination' không phải đối tượng")

    return check


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


# ---------------------------------------------------------------- client


class PortalClient:
    """Reads the published index of one province (`root_department_id`). The portal's reporting API is public; a
    connection with a password (a gateway in front of it, e.g. the provincial LGSP) sends it as a bearer token, or
    in the header named by the connection's extra `auth_header`."""

    def __init__(
        self,
        conn: SourceConn,
        *,
        root_department_id: str | None = None,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        root = (
            root_department_id
            or conn.extra.get("root_department_id")
            or os.environ.get("CHISO_PORTAL_ROOT_DEPARTMENT_ID")
        )
        if not root:
            raise ValueError(
                "national_portal_api: extra 'root_department_id' (the province's department id on the portal) "
                "is required"
            )
        self.root = str(root)
        self.page_size = page_size
        self.http = JsonFetcher(SOURCE, conn.base_url, policy=policy, transport=transport)
        self.http.client.headers["Content-Type"] = "application/json"
        if conn.password:
            header = conn.extra.get("auth_header") or "Authorization"
            self.http.client.headers[header] = (
                f"Bearer {conn.password}" if header.lower() == "authorization" else conn.password
            )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, group: str, body: dict) -> dict:
        path = PATH.format(group=group)
        try:
            return self.http.request_json("POST", path, json_body=body, validate=_envelope(group))
        except SourceError as e:  # name the request body, which says which period and page failed
            raise SourceError(SOURCE, "POST", e.url, body, e.detail) from e

    def _read(self, group: str, body: dict, previous: str | None, page: int, period: Period) -> tuple[dict, str | None]:
        """One page, read again while it repeats the previous page (a paging fault), failing after a few re-reads."""
        repeats = 0
        while True:
            data = self._post(group, body)["data"]
            units = root_and_units(group, data)[1]
            fp = page_fingerprint(units) if units else None
            if fp is None or fp != previous:
                return data, fp
            repeats += 1
            if repeats > MAX_REPEAT_REFETCH:
                raise SourceError(
                    SOURCE,
                    "POST",
                    self.http.url(PATH.format(group=group)),
                    body,
                    f"trang {page} trùng nội dung với trang trước sau {MAX_REPEAT_REFETCH} lần đọc lại",
                )
            log.warning("%s %s %s page %d repeats the previous page; reading it again", SOURCE, group, period, page)
            self.http.policy.sleep(self.http.policy.backoff(repeats))

    def pages(self, group: str, period: Period) -> Iterator[tuple[int, Any, list]]:
        """Yield (page, province row or None after the first page, unit rows) until the last page. A page with rows
        that would be quarantined is read again a few times (such faults are often transient) and the copy with the
        fewest is kept; the loader quarantines what is left."""
        previous: str | None = None
        page = seen = 0
        while True:
            page += 1
            body = {
                "rootDepartmentId": self.root,
                **period.body(group),
                "currentPage": page,
                "pageSize": self.page_size,
            }
            best: tuple[int, dict, str | None] | None = None
            for attempt in range(MAX_QUALITY_REFETCH + 1):
                data, fp = self._read(group, body, previous, page, period)
                bad = page_problems(group, period, data)
                if best is None or bad < best[0]:
                    best = (bad, data, fp)
                if bad == 0:
                    break
                if attempt < MAX_QUALITY_REFETCH:
                    log.warning(
                        "%s %s %s page %d: %d doubtful rows; reading it again", SOURCE, group, period, page, bad
                    )
                    self.http.policy.sleep(self.http.policy.backoff(attempt + 1))
            _, data, previous = best
            root, units = root_and_units(group, data)
            seen += len(units)
            yield page, root if page == 1 else None, units
            pagination = data.get("pagination") or {}
            total_pages, total = _int(pagination.get("totalPages")), _int(pagination.get("total"))
            if not units or total_pages is None or page >= total_pages:
                if total is not None and seen != total:
                    log.warning(
                        "%s %s %s: read %d units, portal announced %d", SOURCE, group, period.label, seen, total
                    )
                return
            if page >= MAX_PAGES:
                raise SourceError(
                    SOURCE,
                    "POST",
                    self.http.url(PATH.format(group=group)),
                    body,
                    f"cổng báo {total_pages} trang, vượt quá giới hạn {MAX_PAGES}",
                )

    def rows(self, period: Period, groups: tuple[str, ...] = GROUPS) -> Iterator[list[SourceRow]]:
        """The period's records, a page of one group at a time, each naming the request and the row it came from."""
        for group in groups:
            for page, root, units in self.pages(group, period):
                prefix = f"POST {PATH.format(group=group)} {period.type} {period.start.isoformat()} trang {page}"
                out: list[SourceRow] = []
                rows = ([("overview" if group in EVALUATION_GROUPS else "parent", root, True)] if root else []) + [
                    (f"{'evaluation' if group in EVALUATION_GROUPS else 'children'}[{i}]", u, False)
                    for i, u in enumerate(units)
                ]
                for where, unit, is_root in rows:
                    for rec in flatten_unit(group, period, unit, is_root=is_root):
                        out.append(SourceRow(f"{prefix} {where} chỉ tiêu {rec.get('metricCode', '?')}", rec))
                yield out


def page_problems(group: str, period: Period, data: dict) -> int:
    """Records of a page that would be quarantined: a value that does not parse, a key twice."""
    root, units = root_and_units(group, data)
    bad = 0
    keys: set[tuple] = set()
    for unit, is_root in [(root, True)] * bool(root) + [(u, False) for u in units]:
        for rec in flatten_unit(group, period, unit, is_root=is_root):
            p = parse_record(PORTAL_INDICATOR_SCORES, rec)
            key = p.key(PORTAL_INDICATOR_SCORES)
            if not p.ok or key in keys:
                bad += 1
            keys.add(key)
    return bad


def extract(
    conn: SourceConn,
    warehouse_uri: str,
    periods: list[Period],
    *,
    run_id: str = "cli",
    root_department_id: str | None = None,
    policy: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    page_size: int = PAGE_SIZE,
    groups: tuple[str, ...] = GROUPS,
) -> dict[str, Any]:
    """Read each period's six groups into raw, one batch (audit) per period. A period that fails does not stop
    the others; the first failure is raised once all were tried (the batches that succeeded stay)."""
    if not periods:
        raise ValueError("no period to read")
    summary = ExtractSummary(SOURCE, min(p.start for p in periods), max(p.end for p in periods))
    failures: list[tuple[Period, BaseException]] = []
    with PortalClient(
        conn, root_department_id=root_department_id, policy=policy, transport=transport, page_size=page_size
    ) as client:
        for p in periods:
            try:
                r = load_batch(
                    warehouse_uri,
                    PORTAL_INDICATOR_SCORES,
                    client.rows(p, groups),
                    scope={"period_type": p.type, "period_start": p.start},
                    run_id=run_id,
                    check_units=False,  # portal units are matched to the register by dbt, and reported if not
                )
            except Exception as e:  # noqa: BLE001 - recorded in the batch's audit; raised after the other periods
                log.error("%s %s: %s", SOURCE, p.label, e)
                failures.append((p, e))
                continue
            summary.add(r)
    if failures:
        p, first = failures[0]
        others = ", ".join(q.label for q, _ in failures[1:])
        raise RuntimeError(
            f"Cổng DVC quốc gia: không đọc được {p.label}" + (f" (và {others})" if others else "") + f": {first}"
        ) from first
    return summary.as_dict()


def scheduled_periods(logical: date) -> list[Period]:
    """The daily run's periods: those not yet final on the day before the run."""
    return periods_to_read(as_date(logical) - timedelta(days=1))


__all__ = ["GROUPS", "Period", "PortalClient", "extract", "periods_overlapping", "periods_to_read"]
