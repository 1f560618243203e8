"""The national public-service portal's published Decision 766 index (sources.md §5), computed from the simulator's
truth with the portal's rules, served in the real portal's request and response shapes.

This module is the **test oracle** of the warehouse's QD766 figures: it reads the truth the source systems serve
(`Simulator._rows`: what a fault-free server returns at an instant) and implements warehouse.md's rules on its own,
in Python — competence (donViThucHien, else every procedure of the unit's level), the ⓟ* publication indicators over
the whole catalogue, flows summed and stocks at the period's end, the one dossier base (handled = resolved in the
period + in progress at its end, ᵇ), ratios clamped to 1, caps 0.8 / 0.9, zero-denominator rules (`full` for
petitions and electronic certified copies, else `zero`), every indicator's points rounded half-up to 2 decimals and
group totals summed from the rounded parts. Where the warehouse computes the same, the reconciliation finds `same`.

What the portal publishes differently, on purpose (the documented classes of difference):

- **CLGQ** (online service, 12 points) only as one group score per unit, by the portal's own formula
  (`clgq_points`): 4 × (full-online procedures + ½ partly-online) / procedures in competence + 4 × dossiers received
  online / received + 4 × full-online dossiers / dossiers of full-online procedures, each part rounded.
- **DOSSIER_SYNC on a temporary denominator** for a seeded few units per period (`temp_rate`): the denominator is the
  synced count (the national report's provisional figure, smaller than the dossiers received), flagged
  `dataQualityStatus` = `TEMP_NATIONAL_REPORT_DENOMINATOR`; the province row is flagged when any unit is, its
  denominator then the received total less what the flagged units' temporary figures leave out.
- **Revisions**: a period is now and then recomputed after it ended (`revision_rate`; at a seeded instant 3–21 days
  after its end, deterministic by seed, or explicitly through `revise()`): from then on its temporary denominators
  are replaced by the dossiers received, so a later read returns different figures for a past period. Beside that,
  every read computes from the truth at the read's instant, so a past day's late corrections (sources.md: 1–5 days
  after the day) also show in a later read, as on the real portal, which computes from its daily collections.

Units: the portal publishes **today's** units of the province (valid on yesterday, the last closed day): a province
row (`parent` / `overview`, scope area: every unit of the province, district committees' own work included) and one
row per department (`level` PROVINCE) and commune (COMMUNE; a pre-reform province also lists its district committees,
DISTRICT). For any period, each unit carries its predecessors' figures for the days before it existed (flows of the
units whose primary successor it is, transitively; stocks, register attributes and competence of the members valid
on the period's last evaluated day): the old systems' data as migrated to the units that took them over — the
warehouse's `current` basis. So a period before 1/7/2025 is published in today's structure (the 148 communes of the
merged Phú Thọ), never in the predecessor provinces' own trees. A period running past yesterday is evaluated to
yesterday.

Identifiers: `departmentCode` = the unit's electronic identifier (the register's maDinhDanh), `departmentId` a stable
UUID-shaped id per unit; the merged Phú Thọ (province 25 across the reform) uses the real portal's department id
(`019d2be3-6a88-732b-8b17-b68020c8553a`) so the same setting reads the real portal and the simulator.
`rootDepartmentId` may also be given as the province committee's identifier.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .apps import SimState, _body, _health, _json, _pre_faults, control_router
from .engine import _LRU, DOSSIER_FLOWS, DOSSIER_STOCKS, TZ, Simulator
from .faults import FaultConfig, FaultInjector
from .rng import h64, u01

GROUPS = (
    "transparency",
    "dvc-progress-tree",
    "provide-online-tree",
    "dossier-digitized",
    "formality-online-payment-tree",
    "handling-satisfaction",
)
EVALUATION_GROUPS = ("transparency", "dossier-digitized", "handling-satisfaction")
TREE_GROUPS = ("dvc-progress-tree", "provide-online-tree", "formality-online-payment-tree")
SOURCES = {  # as the real portal names its collections
    "transparency": "reporting_766_transparency_* and reporting_dvc_calendar Mongo collections",
    "dossier-digitized": "reporting_digitized_dossiers_daily Mongo collection",
    "handling-satisfaction": "reporting_766_satisfaction_petition_months, reporting_766_satisfaction_dossier_periods",
}
TEMP_STATUS = "TEMP_NATIONAL_REPORT_DENOMINATOR"
TEMP_MESSAGE = "Mẫu số BCQG/GRIS đang dùng số tạm, cần thay bằng dữ liệu crawl hệ thống cũ."
NO_DATA_STATUS = "NO_NATIONAL_REPORT_DATA"
NO_DATA_MESSAGE = "Không có dữ liệu báo cáo tổng hợp."
# The real portal's department id of the merged Phú Thọ (tests/fixtures/national_portal).
KNOWN_ROOTS = {"25": "019d2be3-6a88-732b-8b17-b68020c8553a"}

# Every auto correction of day d has appeared by midnight of d + 6 (delays 1-5 days, before 22:00): engine.py.
SETTLED_AFTER_DAYS = 6
LEVEL_OF_KIND = {"UBND_TINH": "TINH", "SO_NGANH": "TINH", "UBND_HUYEN": "HUYEN", "UBND_XA": "XA"}
DEPARTMENT_TYPE = {
    "UBND_TINH": ("PROVINCE", "PROVINCE"),
    "SO_NGANH": ("PROVINCIAL_DEPARTMENT", "PROVINCE"),
    "UBND_HUYEN": ("DISTRICT_PEOPLE_COMMITTEE", "DISTRICT"),
    "UBND_XA": ("COMMUNE_PEOPLE_COMMITTEE", "COMMUNE"),
}


# ---------------------------------------------------------------------------------------------------- scoring
@dataclass(frozen=True)
class Rule:
    """One scored QD766 indicator as warehouse.md defines it (max points, cap, zero-denominator rule)."""

    code: str  # the catalogue's indicator code
    metric: str | None  # the portal's metric code (None: published in a tree group's own fields)
    name: str  # the portal's metric name
    max_points: int
    cap: Fraction = Fraction(1)
    zero: str = "zero"  # "zero" | "full"


RULES: dict[str, Rule] = {
    r.code: r
    for r in (
        Rule("QD766.CKMB.PUBLISH_ON_TIME", "PUBLISH_ON_TIME", "Tỷ lệ TTHC công bố đúng hạn", 6),
        Rule("QD766.CKMB.PUBLIC_UPDATE_ON_TIME", "PUBLIC_UPDATE_ON_TIME", "Tỷ lệ TTHC cập nhật, công khai đúng hạn", 4),
        Rule("QD766.CKMB.PUBLIC_CONTENT_FULL", "PUBLIC_CONTENT_FULL", "Tỷ lệ TTHC công khai đầy đủ nội dung", 2),
        Rule("QD766.CKMB.DOSSIER_SYNC", "DOSSIER_SYNC", "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG", 6),
        Rule("QD766.TDGQ.ON_TIME", None, "Tiến độ giải quyết hồ sơ", 20),
        Rule(
            "QD766.MDSH.E_RESULT",
            "ORIGINAL_RESULT_AVAILABLE",
            "Tỷ lệ hồ sơ thủ tục hành chính có cấp kết quả giải quyết thủ tục hành chính điện tử",
            6,
        ),
        Rule(
            "QD766.MDSH.DIGITIZED",
            "SO_HOA_GIAY_TO_GIAI_QUYET",
            "Tỷ lệ hồ sơ thủ tục hành chính thực hiện số hóa hồ sơ",
            4,
        ),
        Rule(
            "QD766.MDSH.REUSED_DATA",
            "REUSED_DIGITIZED_DATA",
            "Tỷ lệ hồ sơ khai thác, sử dụng lại thông tin, dữ liệu số hóa",
            2,
            Fraction(4, 5),
        ),
        Rule(
            "QD766.MDSH.PERSONAL_STORAGE",
            "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
            "Tỷ lệ hồ sơ TTHC được số hóa có kết nối, chia sẻ dữ liệu phục vụ tái sử dụng",
            4,
        ),
        Rule(
            "QD766.MDSH.POPULATION_DATA_DOSSIER",
            "CITIZEN_DATA_CONNECTED_DOSSIER",
            "Tỷ lệ hồ sơ TTHC có sử dụng thông tin, dữ liệu dân cư",
            2,
        ),
        Rule(
            "QD766.MDSH.POPULATION_DATA_PROCEDURE",
            "CITIZEN_DATA_CONNECTED_FORMALITY",
            "Tỷ lệ TTHC triển khai kết nối, chia sẻ dữ liệu dân cư phục vụ GQ TTHC",
            2,
        ),
        Rule(
            "QD766.MDSH.E_CERTIFIED_COPY",
            "ELECTRONIC_CERTIFIED_COPY",
            "Tỷ lệ cung cấp dịch vụ chứng thực bản sao điện tử từ bản chính",
            2,
            zero="full",
        ),
        Rule("QD766.TTTT.DOSSIERS_PAID_ONLINE", None, "Tỷ lệ hồ sơ thanh toán trực tuyến", 6),
        Rule(
            "QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT",
            None,
            "Tỷ lệ TTHC có phát sinh thanh toán trực tuyến",
            2,
            Fraction(4, 5),
        ),
        Rule(
            "QD766.TTTT.FEE_PROCEDURES_INTEGRATED",
            None,
            "Tỷ lệ TTHC có phí tích hợp thanh toán trực tuyến",
            2,
            Fraction(4, 5),
        ),
        Rule(
            "QD766.MDHL.DOSSIER_SATISFACTION",
            "DOSSIER_RECEIVING_SATISFACTION",
            "Tỷ lệ hài lòng trong tiếp nhận, giải quyết TTHC",
            6,
            Fraction(9, 10),
        ),
        Rule("QD766.MDHL.PETITION_ON_TIME", "PETITION_PROCESSING_ON_TIME", "Tỷ lệ PAKN xử lý đúng hạn", 6, zero="full"),
        Rule(
            "QD766.MDHL.PETITION_SATISFACTION",
            "PETITION_HANDLING_SATISFACTION",
            "Tỷ lệ hài lòng trong xử lý PAKN",
            6,
            zero="full",
        ),
    )
}
GROUP_MAX = {"CKMB": 18, "TDGQ": 20, "CLGQ": 12, "MDSH": 22, "TTTT": 10, "MDHL": 18}
TRANSPARENCY = ("QD766.CKMB.PUBLISH_ON_TIME", "QD766.CKMB.PUBLIC_UPDATE_ON_TIME", "QD766.CKMB.PUBLIC_CONTENT_FULL",
                "QD766.CKMB.DOSSIER_SYNC")
DIGITIZED = ("QD766.MDSH.E_RESULT", "QD766.MDSH.DIGITIZED", "QD766.MDSH.REUSED_DATA", "QD766.MDSH.PERSONAL_STORAGE",
             "QD766.MDSH.POPULATION_DATA_DOSSIER", "QD766.MDSH.POPULATION_DATA_PROCEDURE",
             "QD766.MDSH.E_CERTIFIED_COPY")
PAYMENT = ("QD766.TTTT.DOSSIERS_PAID_ONLINE", "QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT",
           "QD766.TTTT.FEE_PROCEDURES_INTEGRATED")
SATISFACTION = ("QD766.MDHL.DOSSIER_SATISFACTION", "QD766.MDHL.PETITION_ON_TIME", "QD766.MDHL.PETITION_SATISFACTION")
CLASSIFICATION = (
    ("PETITION_CLASSIFICATION_TTHC", "Tỷ lệ PAKN về quy định, thủ tục hành chính", 0.55, 0.3),
    ("PETITION_CLASSIFICATION_STAFF", "Tỷ lệ PAKN về hành vi cán bộ, công chức, viên chức", 0.1, 0.25),
)


def round_half_up(x: Fraction | Decimal | int | float, places: int = 2) -> float:
    """Half-up at `places` decimals, on the exact value (a Fraction is not rounded through binary floats)."""
    if isinstance(x, Fraction):
        # 28 significant digits: a tie (…5 exactly) is a finite decimal, so exact; anything else is far from one
        d = Decimal(x.numerator) / Decimal(x.denominator)
    else:
        d = Decimal(str(x)) if isinstance(x, float) else Decimal(x)
    return float(d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def points(rule: Rule, num: int | None, den: int | None) -> tuple[Fraction | None, float]:
    """(ratio clamped to 1, or None when not applicable; points rounded half-up to 2 decimals)."""
    if not den:
        return None, float(rule.max_points) if rule.zero == "full" else 0.0
    ratio = min(Fraction(1), Fraction(max(0, num or 0), den))
    return ratio, round_half_up(rule.max_points * min(Fraction(1), ratio / rule.cap))


def satisfaction_ratio(handled: int, late: int, overdue: int, dissatisfied: int) -> Fraction | None:
    """QD766.MDHL.DOSSIER_SATISFACTION: max(0, 1 − overdue rate − dissatisfied rate), both over the handled base."""
    if handled <= 0:
        return None
    return max(Fraction(0), 1 - Fraction(late + overdue, handled) - Fraction(dissatisfied, handled))


def tttt_points(paid: int, fee_due: int, procs_paid: int, procs_with_dossier: int, integrated: int,
                fee_procs: int) -> tuple[float, float, float, float]:
    """The online-payment group as the portal publishes it: three rounded parts and their sum
    (268/318, 9/31, 8/31 → 5.06 + 0.73 + 0.65 = 6.44)."""
    a = points(RULES["QD766.TTTT.DOSSIERS_PAID_ONLINE"], paid, fee_due)[1]
    b = points(RULES["QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT"], procs_paid, procs_with_dossier)[1]
    c = points(RULES["QD766.TTTT.FEE_PROCEDURES_INTEGRATED"], integrated, fee_procs)[1]
    return a, b, c, round_half_up(Decimal(str(a)) + Decimal(str(b)) + Decimal(str(c)))


def clgq_points(procs: int, full: int, partial: int, received: int, online: int, full_procs_received: int,
                full_online: int) -> float:
    """The portal's own online-service group score (12 points; its formula is unpublished, chiso's reading
    differs: QD766.CLGQ.FULL_ONLINE_DOSSIERS is `provisional`)."""
    parts = [
        Fraction(2 * full + partial, 2 * procs) if procs else Fraction(0),
        Fraction(online, received) if received else Fraction(0),
        Fraction(full_online, full_procs_received) if full_procs_received else Fraction(0),
    ]
    return round_half_up(sum(Decimal(str(round_half_up(4 * min(Fraction(1), p)))) for p in parts))


def _num(x: float | int | Fraction | None) -> int | float | None:
    """JSON numbers as the portal writes them: whole values without a fraction part (6, not 6.0)."""
    if x is None:
        return None
    x = float(x)
    return int(x) if x == int(x) else x


def _pct(ratio: Fraction | None) -> float | int | None:
    return None if ratio is None else _num(round_half_up(100 * ratio))


def _sum(values) -> float:
    return round_half_up(sum((Decimal(str(v)) for v in values if v is not None), Decimal(0)))


# ---------------------------------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    type: str  # month | quarter | year
    start: date
    end: date

    @classmethod
    def of(cls, period_type: str, year: int, number: int | None = None) -> Period:
        if period_type == "year":
            return cls("year", date(year, 1, 1), date(year, 12, 31))
        if period_type == "quarter":
            if number is None or not 1 <= number <= 4:
                raise ValueError("quarter phải từ 1 đến 4")
            s = date(year, 3 * number - 2, 1)
        elif period_type == "month":
            if number is None or not 1 <= number <= 12:
                raise ValueError("month phải từ 1 đến 12")
            s = date(year, number, 1)
        else:
            raise ValueError(f"timeType không hợp lệ: {period_type!r} (month | quarter | year)")
        months = 3 if period_type == "quarter" else 1
        nxt = date(s.year + (s.month + months - 1) // 12, (s.month + months - 1) % 12 + 1, 1)
        return cls(period_type, s, nxt - timedelta(days=1))

    @classmethod
    def from_dates(cls, start: date, end: date) -> Period:
        """fromDate / toDate of handling-satisfaction: a calendar month, quarter or year."""
        for ptype, number in (("month", start.month), ("quarter", (start.month + 2) // 3), ("year", None)):
            try:
                p = cls.of(ptype, start.year, number)
            except ValueError:
                continue
            if p.start == start and p.end == end:
                return p
        raise ValueError("fromDate/toDate phải là trọn một tháng, một quý hoặc một năm dương lịch")

    def months(self) -> list[date]:
        out, m = [], self.start
        while m <= self.end:
            out.append(m)
            m = date(m.year + m.month // 12, m.month % 12 + 1, 1)
        return out


def _month_end(m: date) -> date:
    return date(m.year + m.month // 12, m.month % 12 + 1, 1) - timedelta(days=1)


# ---------------------------------------------------------------------------------------------------- figures
@dataclass
class UnitFigures:
    """The counts of one published row (a unit at scope unit, or the province at scope area)."""

    idx: int  # entity index (the province row: the committee)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Figures:
    period: Period
    evaluated_to: date  # the last day counted (the period's end, or yesterday for a period running past it)
    province: UnitFigures
    units: list[UnitFigures]  # published children, by departmentCode
    publication: dict[str, int]  # ⓟ*: over the whole catalogue


@dataclass
class PortalConfig:
    temp_rate: float = 0.08  # share of units whose DOSSIER_SYNC a period publishes on a temporary denominator
    revision_rate: float = 0.5  # share of periods recomputed after they ended
    revision_min_days: int = 3  # a revision comes this many days after the period's end, at the earliest
    revision_max_days: int = 21


class Portal:
    """The portal's published index over a Simulator's truth. Thread-safe; cached per version of the truth."""

    def __init__(self, sim: Simulator, config: PortalConfig | None = None) -> None:
        self.sim = sim
        self.initial = config or PortalConfig()
        self.cfg = PortalConfig(**vars(self.initial))
        self.explicit: list[tuple[Period, datetime]] = []  # revise(): (period, at)
        self._lock = threading.RLock()
        ents = sim.entities
        self.ents = ents
        self.kind = [e.kind for e in ents]
        # (entity, procedure) pairs seen in dossier rows, numbered once for all aggregates
        self._kidx: dict[tuple[int, int], int] = {}
        self._kent: list[int] = []
        self._kproc: list[int] = []
        self._days = _LRU(80)
        self._months = _LRU(60)
        self._figures = _LRU(24)
        self._code_maps: dict[int, dict[str, int]] = {}
        self.proc_index = {p.code: i for i, p in enumerate(sim.catalogue)}
        cat = sim.catalogue
        self.p_fee = np.array([p.fee for p in cat])
        self.p_pay = np.array([p.payment for p in cat])
        self.p_cit = np.array([p.citizen for p in cat])
        self.p_pop = np.array([p.population for p in cat])
        self.p_full = np.array([p.mode == "TOAN_TRINH" for p in cat])
        self.p_partial = np.array([p.mode == "MOT_PHAN" for p in cat])
        self.p_deadline = np.array([p.deadline for p in cat], dtype=float)
        self.p_announced = np.array([p.announced.toordinal() for p in cat])
        self._competence = [self._competent(e) for e in ents]
        plan = sim.plan
        self.committee = next(  # the province committee of today's structure (the latest one)
            e for e in reversed(ents) if e.kind == "UBND_TINH" and (e.province == plan.code or not sim.reform)
        )
        known = KNOWN_ROOTS.get(plan.code) if sim.reform else None
        self.root_id = known or self.department_id(self.committee.idx)

    # ------------------------------------------------------------------ identity
    def department_id(self, idx: int) -> str:
        e = self.ents[idx]
        if e.idx == self.committee.idx and getattr(self, "root_id", None):
            return self.root_id
        h = format(h64("portal-dept", e.label, 1), "016x") + format(h64("portal-dept", e.label, 2), "016x")
        return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def accepts_root(self, value: str) -> bool:
        return value in (self.root_id, self.committee.code)

    def reset(self) -> None:
        with self._lock:
            self.cfg = PortalConfig(**vars(self.initial))
            self.explicit.clear()
            self._figures.clear()

    # ------------------------------------------------------------------ register
    def _competent(self, e) -> np.ndarray:
        level = LEVEL_OF_KIND[e.kind]
        return np.array(
            [
                i
                for i, p in enumerate(self.sim.catalogue)
                if (e.code in p.competent) or (not p.competent and p.level == level)
            ],
            dtype=np.int64,
        )

    def _valid(self, e, d: date) -> bool:
        return e.valid_from <= d and (e.valid_to is None or d <= e.valid_to)

    def _code_map(self, d: date) -> dict[str, int]:
        """Identifier -> the entity valid on d (identifiers are reused across the reform)."""
        cuts = self.sim._epoch_cuts
        i = bisect.bisect_right(cuts, d.toordinal())
        hit = self._code_maps.get(i)
        if hit is None:
            hit = {e.code: e.idx for e in self.ents if self._valid(e, d)}
            self._code_maps[i] = hit
        return hit

    def homes(self, today_units_day: date) -> np.ndarray:
        """Entity -> the unit valid on `today_units_day` whose figures include its own (itself, or its primary
        successor, transitively); -1 when the chain ends without one (a district committee after the reform)."""
        out = np.full(len(self.ents), -1, dtype=np.int64)
        for e in self.ents:
            x = e
            while x is not None and x.valid_to is not None and x.valid_to < today_units_day:
                x = self.ents[x.successor] if x.successor is not None else None
            if x is not None and self._valid(x, today_units_day):
                out[e.idx] = x.idx
        return out

    def published_units(self, y: date) -> list[int]:
        """Today's units below the province committee, by identifier (the portal's order)."""
        units = [e for e in self.ents if self._valid(e, y) and e.kind != "UBND_TINH"]
        return [e.idx for e in sorted(units, key=lambda e: e.code)]

    # ------------------------------------------------------------------ truth aggregates
    def _day_key(self, system: str, d: date, as_of: datetime) -> tuple:
        sim = self.sim
        manual = tuple(i for i, c in enumerate(sim.manual) if c.system == system and c.day == d and c.at <= as_of)
        rates = (sim.cfg.correction_rate.get(system, 0.0), sim.cfg.vanish_rate)
        if as_of >= datetime.combine(d + timedelta(days=SETTLED_AFTER_DAYS), time(0), TZ):
            return (system, d, "settled", manual, rates)
        with sim._lock:
            key = sim._rows_locked(system, d, as_of)[0]
        return (*key, rates)

    def _key_index(self, ent: int, proc: int) -> int:
        k = self._kidx.get((ent, proc))
        if k is None:
            k = self._kidx[(ent, proc)] = len(self._kent)
            self._kent.append(ent)
            self._kproc.append(proc)
        return k

    def _day(self, system: str, d: date, as_of: datetime, key: tuple) -> tuple[np.ndarray, np.ndarray]:
        """One day's rows as served at as_of: (key indices, values). Dossiers: keys (entity, procedure), values the
        16 flows + 2 stocks; petitions: keys = entities, values tiepNhan, on time, late, dissatisfied + 2 stocks."""
        hit = self._days.hit(key)
        if hit is not None:
            return hit
        rows = self.sim._rows(system, d, as_of, copy=False)
        codes = self._code_map(d)
        idx, vals = [], []
        if system == "dossier":
            names = DOSSIER_FLOWS + DOSSIER_STOCKS
            for r in rows:
                ent = codes.get(r["maDinhDanh"])
                proc = self.proc_index.get(r["maThuTuc"])
                if ent is None or proc is None:  # not in the register that day / not in the catalogue
                    continue
                idx.append(self._key_index(ent, proc))
                vals.append([r[n] for n in names])
            width = len(names)
        else:
            names = ["tiepNhan", "daXuLyDungHan", "daXuLyQuaHan", "khongHaiLong", "dangXuLyTrongHan", "dangXuLyQuaHan"]
            for r in rows:
                ent = codes.get(r["maDinhDanh"])
                if ent is None:
                    continue
                idx.append(ent)
                vals.append([r[n] for n in names])
            width = len(names)
        out = (np.array(idx, dtype=np.int64), np.array(vals, dtype=np.int64).reshape(-1, width))
        return self._days.put(key, out)

    def _month(self, system: str, m: date, last: date, as_of: datetime) -> tuple:
        """Flows of the month's days up to `last`, and stocks on `last`: (flow keys, flows, stock keys, stocks)."""
        days = [m + timedelta(days=i) for i in range((last - m).days + 1)]
        keys = [self._day_key(system, d, as_of) for d in days]
        mkey = (system, m, last, tuple(keys))
        hit = self._months.hit(mkey)
        if hit is not None:
            return hit
        parts = [self._day(system, d, as_of, k) for d, k in zip(days, keys, strict=True)]
        nflow = len(DOSSIER_FLOWS) if system == "dossier" else 4
        idx = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        vals = np.concatenate([p[1][:, :nflow] for p in parts]) if parts else np.zeros((0, nflow), dtype=np.int64)
        fk, inv = np.unique(idx, return_inverse=True)
        flows = np.zeros((len(fk), nflow), dtype=np.int64)
        np.add.at(flows, inv, vals)
        sk, sv = (parts[-1][0], parts[-1][1][:, nflow:]) if parts else (np.zeros(0, dtype=np.int64),
                                                                          np.zeros((0, 2), dtype=np.int64))
        return self._months.put(mkey, (fk, flows, sk, sv))

    def _period_truth(self, system: str, p: Period, e: date, as_of: datetime) -> tuple:
        """Flows over [p.start, e] and stocks on e, for dossiers or petitions."""
        months = [m for m in p.months() if m <= e]
        parts = [self._month(system, m, min(_month_end(m), e), as_of) for m in months]
        nflow = len(DOSSIER_FLOWS) if system == "dossier" else 4
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return z, np.zeros((0, nflow), dtype=np.int64), z, np.zeros((0, 2), dtype=np.int64)
        idx = np.concatenate([x[0] for x in parts])
        fk, inv = np.unique(idx, return_inverse=True)
        flows = np.zeros((len(fk), nflow), dtype=np.int64)
        np.add.at(flows, inv, np.concatenate([x[1] for x in parts]))
        return fk, flows, parts[-1][2], parts[-1][3]

    # ------------------------------------------------------------------ figures
    def figures(self, p: Period, as_of: datetime | None = None) -> Figures:
        as_of = (as_of or self.sim.now()).astimezone(TZ)
        with self._lock:
            today = as_of.date()
            y = today - timedelta(days=1)
            e = min(p.end, y)
            sig = (p, today, tuple(
                (m, tuple(self._day_key(s, m + timedelta(days=i), as_of)
                          for i in range((min(_month_end(m), e) - m).days + 1)))
                for m in p.months() if m <= e for s in ("dossier", "petition")
            ))
            hit = self._figures.hit(sig)
            if hit is not None:
                return hit
            return self._figures.put(sig, self._compute(p, e, y, today, as_of))

    def _compute(self, p: Period, e: date, y: date, today: date, as_of: datetime) -> Figures:
        home = self.homes(y)
        units = self.published_units(y)
        slot = {u: i for i, u in enumerate(units)}
        n_units = len(units)
        prov = n_units  # the province row's slot: every entity
        rows = n_units + 1
        ent_slot = np.array([slot.get(int(h), -1) if h >= 0 else -1 for h in home], dtype=np.int64)
        counts: list[dict[str, int]] = [{} for _ in range(rows)]

        def spread(ent: np.ndarray, vals: np.ndarray) -> np.ndarray:
            """Sum rows per published unit (through their homes) and, in the last row, over the province."""
            out = np.zeros((rows, vals.shape[1]), dtype=np.int64)
            s = ent_slot[ent] if len(ent) else np.zeros(0, dtype=np.int64)
            keep = s >= 0
            np.add.at(out, s[keep], vals[keep])
            out[prov] = vals.sum(axis=0)
            return out

        # dossiers
        fk, flows, sk, stocks = self._period_truth("dossier", p, e, as_of)
        kent = np.array(self._kent, dtype=np.int64)
        kproc = np.array(self._kproc, dtype=np.int64)
        f_ent, f_proc = kent[fk], kproc[fk]
        fl = {n: flows[:, i] for i, n in enumerate(DOSSIER_FLOWS)}
        received = fl["tiepNhanTrucTuyen"] + fl["tiepNhanTrucTiep"] + fl["tiepNhanBuuChinh"]
        full_proc = self.p_full[f_proc] if len(f_proc) else np.zeros(0, dtype=bool)
        fee_proc = self.p_fee[f_proc] if len(f_proc) else np.zeros(0, dtype=bool)
        # processing days (shown, not scored): early at 60 % of the deadline, on time at it, late 2 days after
        wdays = (
            fl["daXuLyTruocHan"] * 0.6 * self.p_deadline[f_proc]
            + fl["daXuLyDungHan"] * self.p_deadline[f_proc]
            + fl["daXuLyQuaHan"] * (self.p_deadline[f_proc] + 2)
        ) if len(f_proc) else np.zeros(0)
        cols = {
            "received": received,
            "received_online": fl["tiepNhanTrucTuyen"],
            "received_in_person": fl["tiepNhanTrucTiep"],
            "received_by_post": fl["tiepNhanBuuChinh"],
            "received_full_online_procs": received * full_proc,
            "full_online_on_full_online_procs": fl["tiepNhanToanTrinh"] * full_proc,
            "resolved_early": fl["daXuLyTruocHan"],
            "resolved_on_time": fl["daXuLyDungHan"],
            "resolved_late": fl["daXuLyQuaHan"],
            "synced": fl["dongBoDVCQG"],
            "e_result": fl["coKetQuaDienTu"],
            "digitized": fl["soHoa"],
            "reused": fl["taiSuDungDuLieu"],
            "storage": fl["luuKhoCaNhan"],
            "population": fl["suDungDuLieuDanCu"],
            "fee_due": fl["coNghiaVuTaiChinh"],
            "paid_online": fl["thanhToanTrucTuyen"],
            "dissatisfied": fl["danhGiaKhongHaiLong"],
            "processing_days_x10": np.rint(wdays * 10).astype(np.int64),
        }
        names = list(cols)
        agg = spread(f_ent, np.stack([cols[n] for n in names], axis=1) if len(f_ent) else
                     np.zeros((0, len(names)), dtype=np.int64))
        for r in range(rows):
            counts[r].update({n: int(agg[r, i]) for i, n in enumerate(names)})
        # stocks on the last evaluated day: rows of that day belong to units valid then (members at the end)
        s_ent = kent[sk] if len(sk) else np.zeros(0, dtype=np.int64)
        st = spread(s_ent, stocks)
        for r in range(rows):
            counts[r]["in_progress_within"], counts[r]["in_progress_overdue"] = int(st[r, 0]), int(st[r, 1])
        # fee-bearing procedures with a dossier (paid online) in the period, distinct over each row's members
        for name, mask in (
            ("fee_procs_with_dossier", fee_proc & (received > 0)),
            ("fee_procs_paid_online", fee_proc & (received > 0) & (fl["thanhToanTrucTuyen"] > 0)),
        ):
            s = ent_slot[f_ent[mask]]
            pr = f_proc[mask]
            keep = s >= 0
            pairs = np.unique(np.stack([s[keep], pr[keep]], axis=1), axis=0) if keep.any() else np.zeros((0, 2))
            per = np.bincount(pairs[:, 0].astype(np.int64), minlength=rows) if len(pairs) else np.zeros(rows)
            for r in range(n_units):
                counts[r][name] = int(per[r])
            counts[prov][name] = len(np.unique(pr))

        # petitions
        pk, pflows, psk, pstocks = self._period_truth("petition", p, e, as_of)
        pa = spread(pk, pflows)
        ps = spread(psk, pstocks)
        for r in range(rows):
            c = counts[r]
            c["petitions_received"], c["petitions_on_time"] = int(pa[r, 0]), int(pa[r, 1])
            c["petitions_late"], c["petitions_dissatisfied"] = int(pa[r, 2]), int(pa[r, 3])
            c["petitions_within"], c["petitions_overdue"] = int(ps[r, 0]), int(ps[r, 1])

        # register attributes and competence over the members valid on the last evaluated day
        at_end = [[] for _ in range(rows)]
        for ent in self.ents:
            if e >= ent.valid_from and (ent.valid_to is None or e <= ent.valid_to):
                at_end[prov].append(ent.idx)
                s = ent_slot[ent.idx]
                if s >= 0:
                    at_end[s].append(ent.idx)
        cutoff = min(p.end, today).toordinal()  # in the catalogue (announced by today) and by the period's end
        for r in range(rows):
            members = at_end[r]
            c = counts[r]
            c["communes"] = sum(1 for i in members if self.kind[i] == "UBND_XA")
            c["communes_e_copy"] = sum(
                1 for i in members if self.kind[i] == "UBND_XA" and self.ents[i].e_certified_copy
            )
            comp = np.unique(np.concatenate([self._competence[i] for i in members])) if members else \
                np.zeros(0, dtype=np.int64)
            comp = comp[self.p_announced[comp] <= cutoff] if len(comp) else comp
            c["procedures"] = len(comp)
            c["procedures_full"] = int(self.p_full[comp].sum())
            c["procedures_partial"] = int(self.p_partial[comp].sum())
            c["citizen_procedures"] = int(self.p_cit[comp].sum())
            c["citizen_procedures_connected"] = int((self.p_cit[comp] & self.p_pop[comp]).sum())
            c["fee_procedures"] = int(self.p_fee[comp].sum())
            c["fee_procedures_integrated"] = int((self.p_fee[comp] & self.p_pay[comp]).sum())
            c["online_services"] = sum(  # (unit, procedure) pairs offered online: the province's service count
                int((self.p_full[self._competence[i]] | self.p_partial[self._competence[i]]).sum()) for i in members
            )

        return Figures(
            period=p,
            evaluated_to=e,
            province=UnitFigures(self.committee.idx, counts[prov]),
            units=[UnitFigures(u, counts[slot[u]]) for u in units],
            publication=self._publication(p, today),
        )

    def _publication(self, p: Period, today: date) -> dict[str, int]:
        """ⓟ*: the province's publication duty over the whole catalogue (as published by today)."""
        cal = self.sim.cal
        out = dict.fromkeys(("announced", "announced_on_time", "published_on_time", "procedures_at_end",
                             "content_full_at_end"), 0)
        for pr in self.sim.catalogue:
            if pr.announced > today:
                continue
            if pr.announced <= p.end:
                out["procedures_at_end"] += 1
                out["content_full_at_end"] += int(pr.content_full)
            if p.start <= pr.announced <= p.end:
                out["announced"] += 1
                out["announced_on_time"] += int(cal.wdi(pr.in_force) - cal.wdi(pr.announced) >= 5)
                published = pr.published if pr.published <= today else None
                out["published_on_time"] += int(
                    published is not None and cal.wdi(published) - cal.wdi(pr.announced) <= 5
                )
        return out

    # ------------------------------------------------------------------ temporary denominators and revisions
    def revision_at(self, p: Period) -> datetime | None:
        """When the portal recomputes period p after it ended (None: never), explicit revisions first."""
        seed = self.sim.seed
        explicit = [at for q, at in self.explicit if q == p]
        if explicit:
            return min(explicit)
        if u01(seed, "portal-revision", p.type, p.start) >= self.cfg.revision_rate:
            return None
        span = self.cfg.revision_max_days - self.cfg.revision_min_days
        days = self.cfg.revision_min_days + int(u01(seed, "portal-revision-day", p.type, p.start) * (span + 1))
        secs = 2 * 3600 + u01(seed, "portal-revision-time", p.type, p.start) * 4 * 3600  # overnight recomputation
        return datetime.combine(p.end + timedelta(days=days), time(0), TZ) + timedelta(seconds=secs)

    def revised(self, p: Period, as_of: datetime) -> bool:
        at = self.revision_at(p)
        return at is not None and as_of >= at

    def revise(self, p: Period, at: datetime | None = None) -> datetime:
        """Recompute period p from `at` (default: now): its temporary denominators are replaced."""
        at = (at or self.sim.now()).astimezone(TZ)
        with self._lock:
            self.explicit.append((p, at))
        return at

    def temp_flagged(self, p: Period, idx: int, as_of: datetime) -> bool:
        if self.revised(p, as_of):
            return False
        return u01(self.sim.seed, "portal-temp", self.ents[idx].label, p.type, p.start) < self.cfg.temp_rate

    # ------------------------------------------------------------------ published rows
    def metrics(self, fig: Figures, uf: UnitFigures, as_of: datetime, flagged_units: set[int] | None = None) -> dict:
        """Every published figure of one row: {indicator code: (numerator, denominator, ratio, points, status)}."""
        c, pub = uf.counts, fig.publication
        handled = c["resolved_early"] + c["resolved_on_time"] + c["resolved_late"] + c["in_progress_within"] + \
            c["in_progress_overdue"]
        num_den = {
            "QD766.CKMB.PUBLISH_ON_TIME": (pub["announced_on_time"], pub["announced"]),
            "QD766.CKMB.PUBLIC_UPDATE_ON_TIME": (pub["published_on_time"], pub["announced"]),
            "QD766.CKMB.PUBLIC_CONTENT_FULL": (pub["content_full_at_end"], pub["procedures_at_end"]),
            "QD766.CKMB.DOSSIER_SYNC": (c["synced"], c["received"]),
            "QD766.TDGQ.ON_TIME": (c["resolved_early"] + c["resolved_on_time"] + c["in_progress_within"], handled),
            "QD766.MDSH.E_RESULT": (c["e_result"], handled),
            "QD766.MDSH.DIGITIZED": (c["digitized"], handled),
            "QD766.MDSH.REUSED_DATA": (c["reused"], handled),
            "QD766.MDSH.PERSONAL_STORAGE": (c["storage"], handled),
            "QD766.MDSH.POPULATION_DATA_DOSSIER": (c["population"], handled),
            "QD766.MDSH.POPULATION_DATA_PROCEDURE": (c["citizen_procedures_connected"], c["citizen_procedures"]),
            "QD766.MDSH.E_CERTIFIED_COPY": (c["communes_e_copy"], c["communes"]),
            "QD766.TTTT.DOSSIERS_PAID_ONLINE": (c["paid_online"], c["fee_due"]),
            "QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT": (c["fee_procs_paid_online"], c["fee_procs_with_dossier"]),
            "QD766.TTTT.FEE_PROCEDURES_INTEGRATED": (c["fee_procedures_integrated"], c["fee_procedures"]),
            "QD766.MDHL.PETITION_ON_TIME": (
                c["petitions_on_time"] + c["petitions_within"],
                c["petitions_on_time"] + c["petitions_late"] + c["petitions_within"] + c["petitions_overdue"],
            ),
            "QD766.MDHL.PETITION_SATISFACTION": (
                max(0, c["petitions_on_time"] + c["petitions_late"] - c["petitions_dissatisfied"]),
                c["petitions_on_time"] + c["petitions_late"],
            ),
        }
        out: dict[str, tuple] = {}
        for code, (num, den) in num_den.items():
            ratio, pts = points(RULES[code], num, den)
            out[code] = (num, den, ratio, pts, None)
        # DOSSIER_SYNC on a temporary denominator: the synced count stands in for the dossiers received
        sync_num, sync_den = num_den["QD766.CKMB.DOSSIER_SYNC"]
        if uf is fig.province:
            shortfall = sum(
                u.counts["received"] - u.counts["synced"] for u in fig.units if u.idx in (flagged_units or set())
            )
            flag = bool(flagged_units)
            den = sync_den - shortfall
        else:
            flag = self.temp_flagged(fig.period, uf.idx, as_of) and sync_den > 0
            den = sync_num if flag else sync_den
        if flag:
            ratio, pts = points(RULES["QD766.CKMB.DOSSIER_SYNC"], sync_num, den)
            out["QD766.CKMB.DOSSIER_SYNC"] = (sync_num, den, ratio, pts, TEMP_STATUS)
        elif not sync_den:
            out["QD766.CKMB.DOSSIER_SYNC"] = (0, 0, None, 0.0, NO_DATA_STATUS)
        # the composite dossier satisfaction, over the handled base; its numerator as the portal shows it
        sat = satisfaction_ratio(handled, c["resolved_late"], c["in_progress_overdue"], c["dissatisfied"])
        rule = RULES["QD766.MDHL.DOSSIER_SATISFACTION"]
        sat_pts = 0.0 if sat is None else round_half_up(rule.max_points * min(Fraction(1), sat / rule.cap))
        sat_num = max(0, handled - c["resolved_late"] - c["in_progress_overdue"] - c["dissatisfied"])
        out["QD766.MDHL.DOSSIER_SATISFACTION"] = (sat_num, handled, sat, sat_pts, None)
        out["CLGQ"] = (None, None, None, clgq_points(
            c["procedures"], c["procedures_full"], c["procedures_partial"], c["received"], c["received_online"],
            c["received_full_online_procs"], c["full_online_on_full_online_procs"]), None)
        return out

    def flagged(self, fig: Figures, as_of: datetime) -> set[int]:
        return {u.idx for u in fig.units if u.counts["received"] > 0 and self.temp_flagged(fig.period, u.idx, as_of)}

    def _ident(self, idx: int, *, code: bool, tree: bool) -> dict[str, Any]:
        ent = self.ents[idx]
        name = ent.versions[-1]["name"]
        out: dict[str, Any] = {"departmentId": self.department_id(idx), "departmentName": name}
        if code:
            out["departmentCode"] = ent.code
        if tree:
            if idx != self.committee.idx:
                out["level"] = DEPARTMENT_TYPE[ent.kind][1]
        else:
            dtype, dlevel = DEPARTMENT_TYPE[ent.kind]
            out["departmentType"], out["departmentLevel"] = dtype, dlevel
            out["agencyLevel"] = "level_1" if idx == self.committee.idx else "level_2"
        return out

    def publish(self, group: str, p: Period, as_of: datetime | None = None) -> dict[str, Any]:
        """The group's `data` as the portal serves it, every unit row included (paging is the app's)."""
        if group not in GROUPS:
            raise KeyError(group)
        as_of = (as_of or self.sim.now()).astimezone(TZ)
        fig = self.figures(p, as_of)
        flagged = self.flagged(fig, as_of)
        rows = [(fig.province, True)] + [(u, False) for u in fig.units]
        built = [(self._row(group, fig, uf, is_root, as_of, flagged)) for uf, is_root in rows]
        root, children = built[0], built[1:]
        if group in TREE_GROUPS:
            data: dict[str, Any] = {"parent": root, "children": children}
            if group != "formality-online-payment-tree":
                data["monthlyChart"] = self._chart(group, fig, as_of)
            return data
        for i, r in enumerate(children, start=1):
            r["stt"] = i  # the key comes first already
        if group == "transparency":
            scores = [r["totalScore"] for r in children]
            root["averageScore"] = _num(round_half_up(Decimal(str(_sum(scores))) / len(scores))) if scores else None
            return {"overview": root, "monthlyChart": [], "evaluation": children}
        return {"overview": root, "evaluation": children}

    def _row(self, group: str, fig: Figures, uf: UnitFigures, is_root: bool, as_of: datetime,
             flagged: set[int]) -> dict[str, Any]:
        m = self.metrics(fig, uf, as_of, flagged if is_root else None)
        c = uf.counts
        if group == "transparency":
            row = {"stt": 1, **self._ident(uf.idx, code=False, tree=False)}
            mets = [self._metric(code, m[code]) for code in TRANSPARENCY]
            total = _sum(x["score"] for x in mets)
            row.update(totalScore=_num(total), totalMaxScore=GROUP_MAX["CKMB"],
                       ratio=_num(round_half_up(Fraction(Decimal(str(total))) * 100 / GROUP_MAX["CKMB"])),
                       scoreDelta=None, metrics=mets)
            return row
        if group == "dossier-digitized":
            row = {"stt": 1, **self._ident(uf.idx, code=True, tree=False)}
            mets = [self._metric(code, m[code]) for code in DIGITIZED]
            total = _sum(x["score"] for x in mets)
            row.update(totalScore=_num(total), totalMaxScore=GROUP_MAX["MDSH"],
                       ratio=_num(round_half_up(Fraction(Decimal(str(total))) * 100 / GROUP_MAX["MDSH"])),
                       metrics=mets, scoreDelta=None)
            return row
        if group == "handling-satisfaction":
            row = {"stt": 1, **self._ident(uf.idx, code=False, tree=False)}
            total_pet = c["petitions_on_time"] + c["petitions_late"] + c["petitions_within"] + c["petitions_overdue"]
            cls = [self._classification(uf.idx, fig.period, total_pet, *spec) for spec in CLASSIFICATION]
            sat = [self._metric(code, m[code], zero_ratio=0) for code in SATISFACTION]
            total = _sum(x["score"] for x in sat)
            row.update(totalScore=_num(total), totalMaxScore=GROUP_MAX["MDHL"],
                       ratio=_num(round_half_up(Fraction(Decimal(str(total))) * 100 / GROUP_MAX["MDHL"])),
                       scoreDelta=None, metrics=[cls[0], *sat, cls[1]], totalPetitions=total_pet,
                       classifiedPetitions=total_pet, totalDossiers=m["QD766.TDGQ.ON_TIME"][1], averageScore=None)
            return row
        if group == "dvc-progress-tree":
            num, den, ratio, pts, _ = m["QD766.TDGQ.ON_TIME"]
            resolved = c["resolved_early"] + c["resolved_on_time"] + c["resolved_late"]
            avg = _num(round_half_up(Fraction(c["processing_days_x10"], 10 * resolved))) if resolved else 0
            row = self._ident(uf.idx, code=True, tree=True)
            if is_root:
                row.update(totalReceived=den, totalOnTime=num, totalCompleted=resolved, avgProcessingDays=avg,
                           ratio=_pct(ratio) or 0, totalScore=_num(pts), totalMaxScore=GROUP_MAX["TDGQ"])
            else:
                row.update(totalReceived=den, totalOnTime=num, totalOverdue=den - num, avgProcessingDays=avg,
                           ratio=_pct(ratio) or 0, score=_num(pts), maxScore=GROUP_MAX["TDGQ"], scoreDelta=None)
            return row
        if group == "provide-online-tree":
            total = m["CLGQ"][3]
            row = self._ident(uf.idx, code=True, tree=True)
            row.update(totalScore=_num(total), totalMaxScore=GROUP_MAX["CLGQ"],
                       ratio=_num(round_half_up(Fraction(Decimal(str(total))) * 100 / GROUP_MAX["CLGQ"])))
            if is_root:
                resolved_in_time = c["resolved_early"] + c["resolved_on_time"]
                row.update(authorityCount=c["procedures"], partialCount=c["procedures_partial"],
                           fullCount=c["procedures_full"], onlineDossierCount=c["full_online_on_full_online_procs"],
                           onlineServiceTotal=c["online_services"], channelOnlineSum=c["received_online"],
                           channelDirectSum=c["received_in_person"], channelPostalSum=c["received_by_post"],
                           channelTotalSum=c["received"], onlineOnTimeSum=resolved_in_time,
                           onlineOverdueSum=c["resolved_late"])
            else:
                row["scoreDelta"] = None
            return row
        # formality-online-payment-tree
        a, b, cc, total = tttt_points(
            c["paid_online"], c["fee_due"], c["fee_procs_paid_online"], c["fee_procs_with_dossier"],
            c["fee_procedures_integrated"], c["fee_procedures"])
        row = self._ident(uf.idx, code=True, tree=True)
        counts = {
            "totalDossierOnlinePaymentSuccess": c["paid_online"],
            "totalDossierFinancialObligation": c["fee_due"],
            "totalDossierOnlineFormalityPaymentSuccess": c["fee_procs_paid_online"],
            "totalFeeDossierFormalityDistinct": c["fee_procs_with_dossier"],
            "totalFeeDossierFormality": c["fee_procedures_integrated"],
            "totalFeeFormality": c["fee_procedures"],
        }
        ratio = _num(round_half_up(Fraction(Decimal(str(total))) * 100 / GROUP_MAX["TTTT"]))
        if is_root:
            row.update(totalMaxScore=GROUP_MAX["TTTT"], totalScore=_num(total), **counts, ratio=ratio)
        else:
            row.update(totalMaxScore=GROUP_MAX["TTTT"], ratio=ratio, totalScore=_num(total), **counts,
                       scoreDelta=None)
        return row

    @staticmethod
    def _metric(code: str, fig: tuple, zero_ratio: int | None = None) -> dict[str, Any]:
        rule = RULES[code]
        num, den, ratio, pts, status = fig
        out: dict[str, Any] = {"code": rule.metric, "name": rule.name}
        if code == "QD766.MDSH.E_CERTIFIED_COPY" and not den:  # not measured: full points, no counts (as the portal)
            out.update(numerator=None, denominator=None, ratio=100, score=rule.max_points, maxScore=rule.max_points)
            return out
        if not den:
            score = rule.max_points if rule.zero == "full" else (0 if zero_ratio is not None else None)
            out.update(numerator=num or 0, denominator=0, ratio=zero_ratio, score=score, maxScore=rule.max_points)
        else:
            out.update(numerator=num, denominator=den, ratio=_pct(ratio), score=_num(pts), maxScore=rule.max_points)
        if code == "QD766.CKMB.DOSSIER_SYNC":
            out["dataQualityStatus"] = status
            out["dataQualityMessage"] = {TEMP_STATUS: TEMP_MESSAGE, NO_DATA_STATUS: NO_DATA_MESSAGE}.get(status)
        return out

    def _classification(self, idx: int, p: Period, total: int, code: str, name: str, lo: float, span: float) -> dict:
        """Petition classifications (shown, worth 0): a seeded share of the unit's petitions."""
        share = lo + span * u01(self.sim.seed, "portal-class", code, self.ents[idx].label, p.type, p.start)
        num = int(total * share)
        ratio = _num(round_half_up(Fraction(100 * num, total))) if total else 0
        return {"code": code, "name": name, "numerator": num, "denominator": total, "ratio": ratio, "score": None,
                "maxScore": 0}

    def _chart(self, group: str, fig: Figures, as_of: datetime) -> list[dict]:
        """The province's figure per month of the period's year (0 outside the period or after yesterday)."""
        out = []
        months = {m.month for m in fig.period.months() if m <= fig.evaluated_to}
        for month in range(1, 13):
            label = f"{month:02d}"
            value: Fraction | None = None
            if month in months:
                mp = fig if fig.period.type == "month" else self.figures(Period.of("month", fig.period.start.year,
                                                                                  month), as_of)
                c = mp.province.counts
                if group == "dvc-progress-tree":
                    num, den = self.metrics(mp, mp.province, as_of, set())["QD766.TDGQ.ON_TIME"][:2]
                    value = Fraction(num, den) if den else None
                else:
                    value = Fraction(c["received_online"], c["received"]) if c["received"] else None
            pct = _pct(value) or 0
            if group == "dvc-progress-tree":
                out.append({"month": label, "onTimePct": pct,
                            "overduePct": _num(round_half_up(100 - Fraction(Decimal(str(pct))))) if value is not None
                            else 0})
            else:
                out.append({"label": label, "onlineDossierPct": pct})
        return out

    # ------------------------------------------------------------------ control
    def status(self, as_of: datetime | None = None, months_back: int = 24) -> dict[str, Any]:
        """Settings and the revision schedule of the recent periods (for tests and demos)."""
        as_of = (as_of or self.sim.now()).astimezone(TZ)
        today = as_of.date()
        periods: list[Period] = []
        m = date(today.year, today.month, 1)
        for _ in range(months_back):
            periods.append(Period.of("month", m.year, m.month))
            if m.month in (1, 4, 7, 10):
                periods.append(Period.of("quarter", m.year, (m.month + 2) // 3))
            if m.month == 1:
                periods.append(Period.of("year", m.year))
            m = date(m.year - (m.month == 1), (m.month - 2) % 12 + 1, 1)
        revisions = []
        for p in periods:
            at = self.revision_at(p)
            if at is not None:
                revisions.append({"timeType": p.type, "periodStart": p.start.isoformat(), "at": at.isoformat(),
                                  "revised": as_of >= at})
        return {
            "rootDepartmentId": self.root_id,
            "provinceCode": self.committee.code,
            "tempRate": self.cfg.temp_rate,
            "revisionRate": self.cfg.revision_rate,
            "revisions": revisions,
        }


__all__ = ["GROUPS", "Period", "Portal", "PortalConfig", "clgq_points", "create_portal_app", "points", "round_half_up",
           "satisfaction_ratio", "tttt_points"]


# ---------------------------------------------------------------------------------------------------- HTTP face
MAX_PAGE = 500
PORTAL_DRIFT = ("departmentId", "departmentID")  # schema drift: the portal's own spelling varies (formalityID)


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"code": "BAD_REQUEST", "message": message, "data": None}, status_code=status)


def _int_field(body: dict, name: str, default: int | None, lo: int, hi: int) -> int:
    value = body.get(name, default)
    if value is None:
        raise ValueError(f"thiếu trường {name}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"trường {name} phải là số nguyên: {value!r}")
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"trường {name} phải là số nguyên: {value!r}") from None
    if not lo <= n <= hi:
        raise ValueError(f"trường {name} phải trong khoảng {lo}..{hi}, nhận {n}")
    return n


def parse_period(group: str, body: dict, today: date) -> Period:
    """The period of a request body: timeType + year + month | quarter, or fromDate / toDate (handling-satisfaction)."""
    if group == "handling-satisfaction":
        try:
            start, end = date.fromisoformat(str(body["fromDate"])), date.fromisoformat(str(body["toDate"]))
        except KeyError as exc:
            raise ValueError(f"thiếu trường {exc.args[0]} (YYYY-MM-DD)") from None
        except ValueError:
            raise ValueError("fromDate/toDate không đúng định dạng YYYY-MM-DD") from None
        p = Period.from_dates(start, end)
    else:
        ptype = body.get("timeType")
        if ptype not in ("month", "quarter", "year"):
            raise ValueError(f"timeType không hợp lệ: {ptype!r} (month | quarter | year)")
        year = _int_field(body, "year", None, 2020, 2100)
        number = None if ptype == "year" else _int_field(body, ptype, None, 1, 12 if ptype == "month" else 4)
        p = Period.of(ptype, year, number)
    if p.start > today:
        raise ValueError(f"kỳ {p.start.isoformat()}…{p.end.isoformat()} chưa bắt đầu")
    if p.start.year < 2020:
        raise ValueError("cổng chỉ công bố từ năm 2020")
    return p


def _portal_row_faults(inj: FaultInjector, key: str, rows: list[dict], province: str) -> list[dict]:
    """Row-level faults on the served unit rows (copies: the published figures are untouched)."""
    if not rows:
        return rows
    rows = [dict(r) for r in rows]
    if inj.roll("negative_counts", key):
        row = rows[inj.pick("negative_counts", key, len(rows))]
        if "metrics" in row and row["metrics"]:
            mets = [dict(m) for m in row["metrics"]]
            m = mets[inj.pick("negative_counts_metric", key, len(mets))]
            m["numerator"] = -(abs(int(m.get("numerator") or 0)) + 1)
            row["metrics"] = mets
        else:
            f = next((k for k in ("totalReceived", "totalDossierFinancialObligation") if k in row), "totalScore")
            row[f] = -(abs(int(row[f] or 0)) + 1)
    if inj.roll("unknown_unit", key):
        row = rows[inj.pick("unknown_unit", key, len(rows))]
        n = inj.pick("unknown_unit_code", key, 90) + 10
        row["departmentId"] = f"00000000-0000-7000-8000-{n:012d}"
        if "departmentCode" in row:
            row["departmentCode"] = f"000.{n:02d}.99.H{province}"
    if inj.roll("duplicate_key", key):
        i = inj.pick("duplicate_key", key, len(rows))
        rows.insert(i + 1, dict(rows[i]))
    if inj.roll("schema_drift", key):
        old, new = PORTAL_DRIFT
        rows = [{(new if k == old else k): v for k, v in r.items()} for r in rows]
    return rows


def create_portal_app(
    sim: Simulator,
    *,
    faults: FaultConfig | None = None,
    state: SimState | None = None,
    config: PortalConfig | None = None,
) -> FastAPI:
    """The national public-service portal's reporting API (sources.md §5): public, no credentials."""
    state = state or SimState.create(sim, {"portal": faults} if faults else None)
    if state.portal is None:
        state.portal = Portal(sim, config)
    portal: Portal = state.portal
    inj = state.faults["portal"]
    app = FastAPI(title="Cổng Dịch vụ công quốc gia — chỉ số 766 (mô phỏng)", docs_url="/docs", redoc_url=None)
    app.state.sim_state = state
    _health(app, state, "national_portal")
    app.include_router(control_router(state, "portal"))

    @app.get("/_sim/portal")
    def portal_status() -> dict:
        return portal.status()

    @app.post("/_sim/portal")
    async def portal_control(request: Request) -> JSONResponse:
        """`{"revise": {"timeType", "periodStart", "at"?}}` recomputes a period from `at` (default now);
        `{"tempRate": x, "revisionRate": y}` changes the settings (`/_sim/reset` restores them)."""
        body = await _json(request)
        try:
            if "tempRate" in body or "revisionRate" in body:
                for key, attr in (("tempRate", "temp_rate"), ("revisionRate", "revision_rate")):
                    if key in body:
                        v = float(body[key])
                        if not 0.0 <= v <= 1.0:
                            raise ValueError(f"{key} phải trong [0, 1]")
                        setattr(portal.cfg, attr, v)
            if body.get("revise"):
                r = body["revise"]
                start = date.fromisoformat(r["periodStart"])
                number = {"month": start.month, "quarter": (start.month + 2) // 3}.get(r["timeType"])
                p = Period.of(r["timeType"], start.year, number)
                if p.start != start:
                    raise ValueError(f"periodStart {start} không phải ngày đầu kỳ")
                portal.revise(p, datetime.fromisoformat(r["at"]) if r.get("at") else None)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        return JSONResponse(portal.status(), status_code=201)

    async def serve(request: Request, group: str) -> Response:
        raw = await request.body()
        key = inj.attempt_key(f"POST {request.url.path} {raw.decode('utf-8', 'replace')}")
        pre = await _pre_faults(inj, key)
        if pre is not None:
            return pre
        body = await _json(request)
        if not body:
            return _bad("thân yêu cầu phải là một đối tượng JSON")
        root = body.get("rootDepartmentId")
        if not root:
            return _bad("thiếu trường rootDepartmentId")
        if not portal.accepts_root(str(root)):
            return _bad(f"rootDepartmentId {root!r} không phải đơn vị gốc của tỉnh", 404)
        if body.get("formalityId") or body.get("formalityID"):
            return _bad("cổng mô phỏng không lọc theo thủ tục (formalityId)")
        as_of = sim.now()
        try:
            p = parse_period(group, body, as_of.date())
            page = _int_field(body, "currentPage", 1, 1, 10**6)
            size = _int_field(body, "pageSize", 20, 1, MAX_PAGE)
        except ValueError as exc:
            return _bad(str(exc))
        # computing a period the first time reads every day of it (a year: a minute); not on the event loop
        data = await asyncio.to_thread(portal.publish, group, p, as_of)
        if group in TREE_GROUPS:  # every unit in one answer, whatever the paging asked for (as the portal does)
            data["children"] = _portal_row_faults(inj, key, data["children"], sim.cfg.province)
        else:
            rows = data.pop("evaluation")
            total = len(rows)
            shown = page - 1 if page > 1 and inj.roll("repeat_page", key) else page
            chunk = _portal_row_faults(inj, key, rows[(shown - 1) * size : shown * size], sim.cfg.province)
            extra = {k: data.pop(k) for k in ("monthlyChart",) if k in data}
            data = {
                "overview": data["overview"],
                **extra,
                "evaluation": chunk,
                "pagination": {"total": total, "currentPage": page, "pageSize": size,
                               "totalPages": math.ceil(total / size) if total else 0},
                "source": SOURCES[group],
            }
        return _body(inj, key, {"code": "OK", "data": data, "message": "OK"}, status=201)

    for g in GROUPS:
        app.add_api_route(f"/api/v1/reporting/evaluation/{g}", _route(serve, g), methods=["POST"], name=g)
    return app


def _route(serve, group: str):
    async def endpoint(request: Request) -> Response:
        return await serve(request, group)

    return endpoint
