"""The simulated province: units, catalogue, and every day's counts as pure functions of (seed, date).

Dossiers follow a queue per (unit, procedure): the dossiers received on a day (a *cohort*) are split over
resolution lags of 0..K working days (early before the deadline D, on time on day D, late after). A day's
resolutions and end-of-day stocks are read from the cohorts of the last ~K working days, so any date is
computable alone, in bounded time, and `stock(t) = stock(t-1) + received(t) - resolved(t)` holds exactly.
Petitions use the same queue per unit. Certificates in force are cumulative issued minus revoked, where
both cumulative curves are closed-form in the date.

Values of a closed day change later ("late corrections"): each row has a deterministic chance of a
correction appearing 1-5 days after the day (re-sync, digitised afterwards, rated late, a row deleted).
What a server returns for a day is its base values plus the corrections whose time has come on the
simulator's clock, plus corrections injected explicitly through `correct()`.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from operator import itemgetter

import msgspec
import numpy as np

from .calendar import WorkCalendar, work_calendar
from .catalogue import Procedure, build_catalogue
from .rng import gen, h64, h64_from, u01
from .units import (
    DIP_DAYS,
    MATURITY_ORIGIN,
    REGISTER_START,
    Entity,
    build_entities,
    province_codes,
    province_plan,
    register_rows,
)

TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

DOSSIER_FLOWS = [
    "tiepNhanTrucTuyen",
    "tiepNhanTrucTiep",
    "tiepNhanBuuChinh",
    "tiepNhanToanTrinh",
    "daXuLyTruocHan",
    "daXuLyDungHan",
    "daXuLyQuaHan",
    "dongBoDVCQG",
    "coKetQuaDienTu",
    "soHoa",
    "taiSuDungDuLieu",
    "luuKhoCaNhan",
    "suDungDuLieuDanCu",
    "coNghiaVuTaiChinh",
    "thanhToanTrucTuyen",
    "danhGiaKhongHaiLong",
]
DOSSIER_STOCKS = ["dangXuLyTrongHan", "dangXuLyQuaHan"]
DOSSIER_COUNTS = DOSSIER_FLOWS + DOSSIER_STOCKS
PETITION_COUNTS = ["tiepNhan", "daXuLyDungHan", "daXuLyQuaHan", "khongHaiLong", "dangXuLyTrongHan", "dangXuLyQuaHan"]
EDOC_COUNTS = [
    "incoming_total",
    "incoming_electronic",
    "outgoing_total",
    "outgoing_electronic",
    "outgoing_signed",
    "outgoing_via_axis",
    "paper_parallel",
    "work_files_total",
    "work_files_online",
]
ESIGN_COUNTS = [
    "org_certs_active",
    "personal_certs_active",
    "org_certs_issued",
    "personal_certs_issued",
    "certs_revoked",
    "org_signatures",
    "personal_signatures",
    "remote_signatures",
]

K_DOSSIER = 25  # max resolution lag in working days (max deadline 20 + 5 late)
K_PETITION = 15
D_PETITION = 10
GROWTH_PER_YEAR = 0.08


@dataclass
class SimConfig:
    seed: int = 26
    # a province of 1/7/2025 (crosses the reform) or an old one (no reform); see units.province_plan
    province: str = "26"
    era: str = "auto"  # "legacy": the old province of that code alone, even when it is also a new code
    scale: float = 1.0
    n_procedures: int = 1855
    reorg_date: date | None = date(2025, 3, 1)
    # share of rows of a closed day that get a late correction (per system); 0 disables
    correction_rate: dict[str, float] = field(default_factory=lambda: {"dossier": 0.08, "petition": 0.1, "edoc": 0.05})
    vanish_rate: float = 0.05  # share of eligible rows (nothing carried in or out) deleted later
    # Rows kept JSON-encoded for re-reads (one province: a year of every daily system fits). A national simulator
    # serves ~25x a province's rows a day: what it keeps must hold one extraction chunk, not a year.
    json_cache_rows: int = 6_000_000
    lean: bool = False  # keep only what a sequential read needs (a few days of generated rows; the parts' cohorts)


class Clock:
    """The simulated "now": real time plus an offset, or frozen at a set instant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            if self._fixed is not None:
                return self._fixed
            return datetime.now(TZ) + self._offset

    def set(self, now: datetime, running: bool = False) -> None:
        now = now if now.tzinfo else now.replace(tzinfo=TZ)
        with self._lock:
            if running:
                self._fixed = None
                self._offset = now - datetime.now(TZ)
            else:
                self._fixed = now.astimezone(TZ)

    def set_today(self, today: date) -> None:
        """Keep the real time of day, on a simulated date; the clock keeps running."""
        real = datetime.now(TZ)
        self.set(datetime.combine(today, real.timetz()), running=True)

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._fixed is not None:
                self._fixed += timedelta(seconds=seconds)
            else:
                self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._fixed, self._offset = None, timedelta(0)

    def state(self) -> dict:
        return {
            "now": self.now().isoformat(),
            "frozen": self._fixed is not None,
            "offset_seconds": self._offset.total_seconds(),
        }


@dataclass
class Correction:
    """An explicit restatement of one row of a past day (tests use it)."""

    system: str  # dossier | petition | edoc | esign
    day: date
    unit: str
    procedure: str | None
    fields: dict[str, int] | None
    delete: bool
    at: datetime


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value

    def hit(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None


class _RowsLRU(_LRU):
    """An LRU bounded in entries and in rows: entries are (correction times, {version: (rows, keys)})."""

    def __init__(self, size: int, max_rows: int) -> None:
        super().__init__(size)
        self.max_rows = max_rows
        self.weights: dict = {}

    def weigh(self, key, rows: int, keep=()) -> None:
        """Record an entry's rows and evict the least recently used ones (not `keep`, read by the same call)."""
        self.weights[key] = rows
        total = sum(self.weights.values())
        for k in list(self):
            if total <= self.max_rows:
                break
            if k == key or k in keep:
                continue
            total -= self.weights.pop(k, 0)
            del self[k]

    def popitem(self, last: bool = True):
        k, v = super().popitem(last)
        self.weights.pop(k, None)
        return k, v


def _clip(x, lo=0.0, hi=1.0):
    return np.clip(x, lo, hi)


def _ts(d: date, seconds: float) -> datetime:
    return datetime.combine(d, time(0), TZ) + timedelta(seconds=seconds)


def iso(dt: datetime) -> str:
    return dt.astimezone(TZ).isoformat(timespec="seconds")


class Simulator:
    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.cfg = config or SimConfig()
        self.seed = self.cfg.seed
        self.cal: WorkCalendar = work_calendar()
        self.clock = clock or Clock()
        self.plan = province_plan(self.cfg.province, self.cfg.era)
        self.reform = self.plan.reform
        self.entities: list[Entity] = build_entities(self.seed, self.cfg.province, self.cfg.reorg_date, self.cfg.era)
        ref = None
        if self.reform:  # competence lists name the departments of the province whose code the new one keeps
            main = self.plan.code if self.plan.code in self.plan.predecessors else self.plan.predecessors[0]
            ref = {e.key: e for e in self.entities if e.province == main and e.valid_from == REGISTER_START}
        self.catalogue: list[Procedure] = build_catalogue(
            self.seed, self.entities, self.cal, self.cfg.n_procedures, ref
        )
        self.by_code = {e.code: e for e in self.entities}  # a reused identifier: its latest unit
        self.proc_by_code = {p.code: p for p in self.catalogue}
        self._lock = threading.RLock()
        self.manual: list[Correction] = []
        self._entity_arrays()
        self._build_pairs()
        self.clear_caches()

    # ------------------------------------------------------------------ setup
    def clear_caches(self) -> None:
        lean = self.cfg.lean
        with self._lock:
            # a day reads the cohorts of the last K working days: up to ~50 calendar days across Tết (fewer thrash:
            # February 2025 took 5x January's time with 45)
            self._cohorts = {"dossier": _LRU(60 if lean else 90), "petition": _LRU(45 if lean else 60)}
            self._days = {k: _LRU(4 if lean else 120) for k in ("dossier", "petition", "edoc", "esign", "edoc_ent")}
            self._rowcache = _LRU(8 if lean else 400)
            # Rows as served, JSON-encoded one by one (what the HTTP apps page through): a year of every
            # daily system fits, so a re-read costs a join of bytes, not a generation.
            self._jsoncache = _RowsLRU(1200, self.cfg.json_cache_rows)
            self._mcache = _LRU(64)
            self._jit = _LRU(64)

    def _entity_arrays(self) -> None:
        ents = self.entities
        self.e_m0 = np.array([e.m0 for e in ents])
        self.e_mmax = np.array([e.m_max for e in ents])
        self.e_tau = np.array([e.tau for e in ents])
        self.e_vol = np.array([e.volume for e in ents])
        self.e_staff = np.array([e.staff for e in ents], dtype=np.int64)
        self.e_kind = np.array([e.kind for e in ents])
        self.e_codes = [e.code for e in ents]
        labels = [e.label for e in ents]  # = the identifier, except for a unit of the reform reusing one
        self.e_labels = labels
        # cert issuance / revocation days: a fixed weekday every 2 / 4 weeks, per unit
        self.e_wd = np.array([h64(self.seed, "certwd", x) % 5 for x in labels])
        self.e_ph2 = np.array([h64(self.seed, "certph", x) % 2 for x in labels])
        self.e_ph4 = np.array([h64(self.seed, "revph", x) % 4 for x in labels])
        self.e_rwd = np.array([h64(self.seed, "revwd", x) % 5 for x in labels])
        # organisation certificates: most units since before the register; lagging communes get theirs later;
        # units of the reform get theirs around their first day (some a little before, some weeks after)
        self.org_cert_days: list[list[int]] = []
        for e, x in zip(ents, labels, strict=True):
            days = []
            u = u01(self.seed, "orgcert", x)
            if e.valid_from > REGISTER_START:
                days.append(e.valid_from.toordinal() - 15 + int(u * 75))
            elif e.kind == "UBND_XA" and e.m0 < 0.25:
                days.append(date(2024, 1, 15).toordinal() + int(u * 540))
            else:
                days.append(date(2018, 6, 1).toordinal() + int(u * 900))
            if e.kind in ("SO_NGANH", "UBND_TINH", "UBND_HUYEN") and u01(self.seed, "orgcert2", x) < 0.3:
                days.append(date(2024, 3, 1).toordinal() + int(u01(self.seed, "orgcert2d", x) * 420))
            self.org_cert_days.append(days)
        width = max(map(len, self.org_cert_days))
        self.org_cert_arr = np.full((len(ents), width), np.iinfo(np.int64).max, dtype=np.int64)
        for i, days in enumerate(self.org_cert_days):
            self.org_cert_arr[i, : len(days)] = days
        # a unit of the reform stumbles at first (maturity dip recovering over DIP_DAYS)
        self.e_dip = np.array([e.dip for e in ents])
        self.e_from = np.array([e.valid_from.toordinal() for e in ents])
        # owners and activity change only on these days: one computation per stretch between them
        cuts = {e.valid_from.toordinal() for e in ents}
        cuts |= {x.toordinal() + 1 for e in ents for x in (e.valid_to, e.work_to) if x is not None}
        self._epoch_cuts = sorted(cuts)
        self._epochs: dict[int, dict[str, np.ndarray]] = {}
        self.e_petition_lam = np.array(
            [{"UBND_TINH": 1.0, "SO_NGANH": 0.25, "UBND_HUYEN": 0.7, "UBND_XA": 0.07}[e.kind] * e.volume for e in ents]
        )

    def _build_pairs(self) -> None:
        """Which (unit, procedure) pairs see dossiers, and at what rate. A unit of the reform takes over its
        predecessors' pairs (in their shares, summed per procedure) for the procedures it is competent for."""
        s = self.cfg.scale
        by_level: dict[str, list[Procedure]] = {"TINH": [], "HUYEN": [], "XA": []}
        for p in self.catalogue:
            by_level[p.level].append(p)
        rows = []
        own: dict[int, list[tuple[int, float]]] = {}
        for e in self.entities:
            if e.work:
                continue
            if e.kind == "UBND_XA":
                cands = [p for p in by_level["XA"] if not p.competent or e.code in p.competent]
                k, vol = 8, 18.0
            elif e.kind == "UBND_HUYEN":
                cands = [p for p in by_level["HUYEN"] if not p.competent or e.code in p.competent]
                k, vol = 40, 60.0
            elif e.kind == "SO_NGANH":
                cands = [
                    p for p in by_level["TINH"] if p.owner_key == e.key and (not p.competent or e.code in p.competent)
                ]
                k, vol = 30, 35.0
            else:
                cands = [
                    p for p in by_level["TINH"] if p.owner_key == e.key and (not p.competent or e.code in p.competent)
                ]
                k, vol = len(cands), 3.0
            if not cands:
                continue
            k = min(len(cands), max(1, round(k * s)))
            g = gen(self.seed, "pairs", e.label)
            w = np.array([p.popularity for p in cands]) * g.uniform(0.3, 1.7, len(cands))
            chosen = g.choice(len(cands), size=k, replace=False, p=w / w.sum())
            wc = w[chosen]
            lam = vol * s * e.volume * wc / wc.sum()
            for j, ci in enumerate(chosen):
                rows.append((e.idx, cands[ci].idx, max(0.01, lam[j])))
                own.setdefault(e.idx, []).append((cands[ci].idx, max(0.01, lam[j])))
        for e in self.entities:
            if not e.work:
                continue
            acc: dict[int, float] = {}
            for i, share in e.work:
                for pi, lam_i in own.get(i, ()):
                    comp = self.catalogue[pi].competent
                    if not comp or e.code in comp:
                        acc[pi] = acc.get(pi, 0.0) + share * lam_i
            for pi in sorted(acc):
                rows.append((e.idx, pi, max(0.01, acc[pi])))
        self.p_unit = np.array([r[0] for r in rows])
        self.p_proc = np.array([r[1] for r in rows])
        self.p_lam = np.array([r[2] for r in rows])
        pr = [self.catalogue[i] for i in self.p_proc]
        self.p_D = np.array([p.deadline for p in pr])
        self.p_mode = np.array([{"KHONG": 0, "MOT_PHAN": 1, "TOAN_TRINH": 2}[p.mode] for p in pr])
        self.p_fee = np.array([p.fee for p in pr])
        self.p_pay = np.array([p.payment for p in pr])
        self.p_cit = np.array([p.citizen for p in pr])
        self.p_pop = np.array([p.population for p in pr])
        self.p_start = np.array([p.announced.toordinal() for p in pr])
        self.p_pcode = [p.code for p in pr]

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        return self.clock.now().astimezone(TZ)

    def today(self) -> date:
        return self.now().date()

    def is_closed(self, d: date) -> bool:
        """A day is served once it is over."""
        return d < self.today()

    # ------------------------------------------------------------------ maturity
    def m_trend(self, ords) -> np.ndarray:
        y = (np.asarray(ords, dtype=float) - MATURITY_ORIGIN.toordinal()) / 365.25
        m = self.e_mmax - (self.e_mmax - self.e_m0) * np.exp(-y / self.e_tau)
        return _clip(m, 0.02, 0.995)

    def maturity(self, d: date) -> np.ndarray:
        """Per-entity maturity on d: the trend plus a monthly wobble, so ranks move month to month."""
        key = (d.year, d.month, d.day)
        hit = self._mcache.hit(key)
        if hit is not None:
            return hit
        jit = self._jit.hit((d.year, d.month))
        if jit is None:
            jit = self._jit.put(
                (d.year, d.month),
                np.array([u01(self.seed, "jit", x, d.year, d.month) - 0.5 for x in self.e_labels]) * 0.1,
            )
        m = self.m_trend(d.toordinal()) + jit
        if self.reform:
            since = d.toordinal() - self.e_from
            m = m - self.e_dip * np.exp(-np.maximum(since, 0) / DIP_DAYS) * (since >= 0)
        return self._mcache.put(key, _clip(m, 0.02, 0.995))

    def growth(self, d: date) -> float:
        return max(0.5, 1.0 + GROWTH_PER_YEAR * (d - MATURITY_ORIGIN).days / 365.25)

    def _epoch(self, d: date) -> dict[str, np.ndarray]:
        """Owners and activity on d: constant between the days units start or end, so computed once per stretch.

        owner: the entity whose identifier reports an entity's work on d: itself while valid, then its primary
        successor (transitively: absorbed department -> absorber -> the reform's department), -1 when the chain
        ends without one (a district committee after the reform: what it still had in hand is not reported).
        active: the entity generates work on d (from its start to its last working day; an absorbed department
        keeps working under its absorber until the reform)."""
        i = bisect.bisect_right(self._epoch_cuts, d.toordinal())
        hit = self._epochs.get(i)
        if hit is not None:
            return hit
        ents = self.entities
        owner = np.arange(len(ents))
        for e in ents:
            x: Entity | None = e
            while x is not None and x.valid_to is not None and d > x.valid_to:
                x = ents[x.successor] if x.successor is not None else None
            owner[e.idx] = -1 if x is None else x.idx
        active = np.array([e.valid_from <= d and (e.work_to is None or d <= e.work_to) for e in ents])
        ep = {"owner": owner, "active": active, "p_owner": owner[self.p_unit], "p_active": active[self.p_unit]}
        with self._lock:
            self._epochs[i] = ep
        return ep

    def owner_at(self, d: date) -> np.ndarray:
        """Entity index whose identifier reports an entity's work on d (-1: not reported); see _epoch."""
        return self._epoch(d)["owner"]

    def valid_on(self, d: date) -> np.ndarray:
        return np.array([e.valid_from <= d and (e.valid_to is None or d <= e.valid_to) for e in self.entities])

    # ------------------------------------------------------------------ dossiers
    def _p_online(self, m: np.ndarray) -> np.ndarray:
        return np.where(
            self.p_mode == 0,
            0.0,
            np.where(self.p_mode == 2, _clip(0.04 + 1.0 * m**1.2, 0, 0.995), _clip(0.02 + 0.75 * m**1.3, 0, 0.95)),
        )

    def _cohort(self, kind: str, c: date) -> dict:
        """Receipts of day c and how many of them resolve after each lag (working days)."""
        cache = self._cohorts[kind]
        hit = cache.hit(c)
        if hit is not None:
            return hit
        g = gen(self.seed, kind, "cohort", c.toordinal())
        m_e = self.maturity(c)
        act = self.cal.activity(c)
        if kind == "dossier":
            m = m_e[self.p_unit]
            lam = self.p_lam * self.growth(c) * (self.p_start <= c.toordinal())
            if self.reform:  # no receipts before a unit starts or after its last day
                lam = lam * self._epoch(c)["p_active"]
            # offices closed: only online submissions trickle in
            n = g.poisson(lam * act) if act > 0 else g.poisson(lam * 0.04 * self._p_online(m))
            D, K = self.p_D, K_DOSSIER
            p_late = 0.005 + 0.16 * (1 - m) ** 2
            p_on = np.full_like(m, 0.12)
            late_w = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
        else:
            m = m_e
            lam = self.e_petition_lam * self.growth(c)
            if self.reform:
                lam = lam * self._epoch(c)["active"]
            n = g.poisson(lam * (act if act > 0 else 0.05))
            D, K = np.full(len(m), D_PETITION), K_PETITION
            p_late = 0.01 + 0.25 * (1 - m) ** 2
            p_on = np.full_like(m, 0.25)
            late_w = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
        lag = np.arange(K + 1)[None, :]
        Dc = D[:, None]
        early = (lag < Dc) * ((1 - p_late - p_on) / D)[:, None]
        ontime = (lag == Dc) * p_on[:, None]
        li = lag - Dc - 1
        late = ((li >= 0) & (li < 5)) * late_w[np.clip(li, 0, 4)] * p_late[:, None]
        pv = early + ontime + late
        pv = pv / pv.sum(axis=1, keepdims=True)
        lags = np.zeros((len(n), K + 1), dtype=np.int32)
        nz = np.nonzero(n)[0]
        if len(nz):
            lags[nz] = g.multinomial(n[nz], pv[nz])
        # Only the cumulative resolutions are kept (a lag's count is the difference of two), in the narrowest
        # type that holds them: a national simulator keeps ~40 days of cohorts for ~10^5 (unit, procedure) pairs.
        small = n.max(initial=0) < np.iinfo(np.int16).max
        co = {
            "n": n.astype(np.int32),
            "cum": np.cumsum(lags, axis=1, dtype=np.int16 if small else np.int32),
            "base": self.cal.base(c),
            "D": D,
            "K": K,
        }
        return cache.put(c, co)

    def _queue_day(self, kind: str, t: date) -> dict:
        """Received, resolved by class and end-of-day stocks on t, from the cohorts still open."""
        wt = self.cal.wdi(t)
        working = self.cal.is_working(t)
        today = self._cohort(kind, t)
        size = len(today["n"])
        res = {k: np.zeros(size, dtype=np.int64) for k in ("early", "ontime", "late", "within", "over")}
        c = t
        while True:
            co = self._cohort(kind, c)
            e = wt - co["base"]
            if e > co["K"]:
                break
            D = co["D"]
            if e < 0:
                res["within"] += co["n"]
            else:
                if working:
                    r = co["cum"][:, e] - co["cum"][:, e - 1] if e else co["cum"][:, 0]
                    res["early"] += r * (e < D)
                    res["ontime"] += r * (e == D)
                    res["late"] += r * (e > D)
                remaining = co["n"] - co["cum"][:, e]
                res["over"] += remaining * (e >= D)
                res["within"] += remaining * (e < D)
            c -= timedelta(days=1)
        res["n"] = today["n"]
        return res

    def _dossier_day(self, d: date) -> dict:
        hit = self._days["dossier"].hit(d)
        if hit is not None:
            return hit
        q = self._queue_day("dossier", d)
        g = gen(self.seed, "dossier", "attr", d.toordinal())
        m = self.maturity(d)[self.p_unit]
        n = q["n"]
        p_online = self._p_online(m)
        if self.cal.is_working(d):
            on = g.binomial(n, p_online)
            rest = n - on
            post = g.binomial(rest, 0.03)
            inp = rest - post
        else:
            on, post, inp = n, np.zeros_like(n), np.zeros_like(n)
        full = np.where(self.p_mode == 2, g.binomial(on, _clip(0.5 + 0.5 * m, 0, 0.99)), 0)
        sync = g.binomial(n, _clip(0.45 + 0.5 * m, 0, 0.99))
        digit = g.binomial(n, _clip(0.05 + 0.9 * m, 0, 0.99))
        reuse = g.binomial(digit, _clip(0.2 + 0.6 * m, 0, 0.95))
        store = g.binomial(n, np.where(self.p_cit, _clip(0.02 + 0.8 * m, 0, 0.95), 0.0))
        popd = g.binomial(n, np.where(self.p_pop, _clip(0.15 + 0.8 * m, 0, 0.98), 0.0))
        fee = np.where(self.p_fee, g.binomial(n, 0.92), 0)
        paid = np.where(self.p_pay, g.binomial(fee, _clip(0.05 + 0.9 * m * np.maximum(p_online, 0.3), 0, 0.98)), 0)
        resolved = q["early"] + q["ontime"] + q["late"]
        eres = g.binomial(resolved, _clip(0.15 + 0.83 * m, 0, 0.99))
        dis = g.binomial(q["late"], 0.12) + g.binomial(q["early"] + q["ontime"], 0.001 + 0.01 * (1 - m))
        vals = np.stack(
            [
                on,
                inp,
                post,
                full,
                q["early"],
                q["ontime"],
                q["late"],
                sync,
                eres,
                digit,
                reuse,
                store,
                popd,
                fee,
                paid,
                dis,
                q["within"],
                q["over"],
            ],
            axis=1,
        ).astype(np.int64)
        keep = (n > 0) | (resolved > 0) | (q["within"] > 0) | (q["over"] > 0)
        owner = self._epoch(d)["p_owner"]
        if self.reform:
            keep &= owner >= 0
        idx = np.nonzero(keep)[0]
        keys = [(self.e_codes[int(owner[i])], self.p_pcode[int(i)]) for i in idx]
        rows: dict[tuple[str, str], np.ndarray] = {}
        for k, i in zip(keys, idx, strict=True):
            rows[k] = rows[k] + vals[i] if k in rows else vals[i].copy()
        return self._days["dossier"].put(d, rows)

    # ------------------------------------------------------------------ petitions
    def _petition_day(self, d: date) -> dict:
        hit = self._days["petition"].hit(d)
        if hit is not None:
            return hit
        q = self._queue_day("petition", d)
        g = gen(self.seed, "petition", "attr", d.toordinal())
        m = self.maturity(d)
        handled = q["early"] + q["ontime"] + q["late"]
        dis = g.binomial(handled, _clip(0.02 + 0.12 * (1 - m), 0, 1))
        vals = np.stack([q["n"], q["early"] + q["ontime"], q["late"], dis, q["within"], q["over"]], axis=1).astype(
            np.int64
        )
        owner = self.owner_at(d)
        rows: dict[tuple[str], np.ndarray] = {}
        for i in np.nonzero(vals.any(axis=1) & (owner >= 0))[0]:
            k = (self.e_codes[int(owner[i])],)
            rows[k] = rows[k] + vals[i] if k in rows else vals[i].copy()
        return self._days["petition"].put(d, rows)

    # ------------------------------------------------------------------ e-documents
    def _edoc_entities(self, d: date) -> np.ndarray:
        """Per-entity document counts on d (before mapping absorbed units to their successor)."""
        hit = self._days["edoc_ent"].hit(d)
        if hit is not None:
            return hit
        g = gen(self.seed, "edoc", d.toordinal())
        m = self.maturity(d)
        act = self.cal.activity(d) or 0.03
        base = {"UBND_TINH": (25, 4), "SO_NGANH": (18, 5), "UBND_HUYEN": (40, 8), "UBND_XA": (6, 2)}
        lam_in = np.array([base[k][0] for k in self.e_kind]) * self.e_vol * self.growth(d) * act * self.cfg.scale
        lam_wf = np.array([base[k][1] for k in self.e_kind]) * self.e_vol * act * self.cfg.scale
        active = self._epoch(d)["active"]
        inc = g.poisson(lam_in) * active
        inc_e = g.binomial(inc, _clip(0.78 + 0.21 * m))
        out = g.poisson(lam_in * 0.6) * active
        out_e = g.binomial(out, _clip(0.6 + 0.39 * m))
        signed = g.binomial(out_e, _clip(0.15 + 0.84 * m))
        axis = g.binomial(out_e, _clip(0.45 + 0.54 * m))
        paper = g.binomial(out, _clip(0.01 + 0.45 * (1 - m) ** 1.5))
        wf = g.poisson(lam_wf) * active
        p_wf = np.where(
            self.e_kind == "UBND_XA",
            0.03 + 0.55 * m,
            np.where(self.e_kind == "UBND_HUYEN", 0.1 + 0.8 * m, 0.15 + 0.84 * m),
        )
        wf_on = g.binomial(wf, _clip(p_wf))
        vals = np.stack([inc, inc_e, out, out_e, signed, axis, paper, wf, wf_on], axis=1).astype(np.int64)
        return self._days["edoc_ent"].put(d, vals)

    def _edoc_day(self, d: date) -> dict:
        hit = self._days["edoc"].hit(d)
        if hit is not None:
            return hit
        vals = self._edoc_entities(d)
        owner = self.owner_at(d)
        rows: dict[tuple[str], np.ndarray] = {}
        for i in np.nonzero(vals.any(axis=1) & (owner >= 0))[0]:
            k = (self.e_codes[int(owner[i])],)
            rows[k] = rows[k] + vals[i] if k in rows else vals[i].copy()
        return self._days["edoc"].put(d, rows)

    # ------------------------------------------------------------------ e-signatures
    def _last_day(self, t: int, wd: np.ndarray, phase: np.ndarray, weeks: int) -> np.ndarray:
        """Latest ordinal <= t falling on weekday wd in a week whose number is = -phase (mod weeks)."""
        delta = (date.fromordinal(t).weekday() - wd) % 7
        d1 = t - delta
        return d1 - 7 * ((d1 // 7 + phase) % weeks)

    def _personal_cum(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cumulative issued, cumulative revoked, in force) of personal certificates at the end of t."""
        staff = self.e_staff
        b = self._last_day(t, self.e_wd, self.e_ph2, 2)
        r = self._last_day(t, self.e_rwd, self.e_ph4, 4)

        def cov(o):
            return 0.08 + 0.87 * self._m_trend_at(o)

        def rev(o):
            return np.floor(staff * 0.012 * np.maximum(0, (o - date(2019, 1, 1).toordinal()) / 365.25))

        issued = np.floor(staff * cov(b)) + rev(b)
        revoked = rev(r)
        return issued, revoked, issued - revoked

    def _m_trend_at(self, ords: np.ndarray) -> np.ndarray:
        y = (ords.astype(float) - MATURITY_ORIGIN.toordinal()) / 365.25
        m = self.e_mmax - (self.e_mmax - self.e_m0) * np.exp(-y / self.e_tau)
        return _clip(m, 0.02, 0.995)

    def _esign_day(self, d: date) -> dict:
        hit = self._days["esign"].hit(d)
        if hit is not None:
            return hit
        t = d.toordinal()
        iss, rev, pin = self._personal_cum(t)
        iss0, rev0, _ = self._personal_cum(t - 1)
        org_in = (self.org_cert_arr <= t).sum(axis=1)
        org_new = (self.org_cert_arr == t).sum(axis=1)
        g = gen(self.seed, "esign", t)
        m = self.maturity(d)
        act = self.cal.activity(d) or 0.02
        signed = self._edoc_entities(d)[:, 4]
        org_sig = np.where(org_in > 0, signed, 0)
        pers_sig = g.poisson(pin * _clip(0.2 + 1.2 * m, 0, 2) * act)
        remote = g.binomial(org_sig + pers_sig, _clip(0.03 + 0.6 * self.m_trend(t) ** 2, 0, 0.9))
        vals = np.stack([org_in, pin, org_new, iss - iss0, rev - rev0, org_sig, pers_sig, remote], axis=1).astype(
            np.int64
        )
        owner = self.owner_at(d)
        valid = self._epoch(d)["active"] & (owner >= 0)  # every unit at work that day (absorbed: via its absorber)
        rows: dict[tuple[str], np.ndarray] = {}
        for i in np.nonzero(valid)[0]:
            k = (self.e_codes[int(owner[i])],)
            rows[k] = rows[k] + vals[i] if k in rows else vals[i].copy()
        return self._days["esign"].put(d, rows)

    # ------------------------------------------------------------------ corrections
    def _auto_corrections(self, system: str, d: date, rows: dict) -> list[tuple[datetime, tuple, str]]:
        """Deterministic late corrections of day d: (time it appears, row key, what)."""
        rate = self.cfg.correction_rate.get(system, 0.0)
        out = []
        if rate <= 0:
            return out
        o = d.toordinal()
        vanish, corr = h64_from(self.seed, "vanish", system, o), h64_from(self.seed, "corr", system, o)
        for k, arr in rows.items():
            v = arr.tolist()
            if self._can_vanish(system, v) and vanish(*k) / 2.0**64 < self.cfg.vanish_rate:
                what = "delete"
            elif corr(*k) / 2.0**64 < rate:
                what = "update"
            else:
                continue
            delay = 1 + int(u01(self.seed, "corrdelay", system, o, *k) * 5)
            at = _ts(d + timedelta(days=delay), 6 * 3600 + u01(self.seed, "corrts", system, *k, d) * 16 * 3600)
            out.append((at, k, what))
        out.sort(key=lambda x: (x[0], x[1]))
        return out

    @staticmethod
    def _can_vanish(system: str, v: np.ndarray) -> bool:
        """Deleting the row must not break the stock identity: nothing carried in or out."""
        if system == "dossier":
            received, resolved, stock = v[0] + v[1] + v[2], v[4] + v[5] + v[6], v[16] + v[17]
            return received > 0 and received == resolved and stock == 0
        if system == "petition":
            return v[0] > 0 and v[0] == v[1] + v[2] and v[4] + v[5] == 0
        return int(sum(v)) <= 3

    @staticmethod
    def _apply_update(system: str, row: dict, salt: int) -> None:
        """A stock-neutral late change of one row."""
        if system == "dossier":
            received = row["tiepNhanTrucTuyen"] + row["tiepNhanTrucTiep"] + row["tiepNhanBuuChinh"]
            resolved = row["daXuLyTruocHan"] + row["daXuLyDungHan"] + row["daXuLyQuaHan"]
            if received > row["dongBoDVCQG"]:
                row["dongBoDVCQG"] = received  # re-synced to the national portal
            if received > row["soHoa"]:
                row["soHoa"] += 1  # digitised afterwards
            if row["daXuLyDungHan"] > 0 and salt % 3 == 0:  # re-rated late
                row["daXuLyDungHan"] -= 1
                row["daXuLyQuaHan"] += 1
                row["danhGiaKhongHaiLong"] = min(resolved, row["danhGiaKhongHaiLong"] + 1)
            elif resolved > row["coKetQuaDienTu"]:
                row["coKetQuaDienTu"] += 1
            elif received == 0 and resolved == 0 and row["dangXuLyTrongHan"] > 0:
                # deadline recomputed (a holiday miscounted): one dossier in progress is in fact overdue
                row["dangXuLyTrongHan"] -= 1
                row["dangXuLyQuaHan"] += 1
        elif system == "petition":
            handled = row["daXuLyDungHan"] + row["daXuLyQuaHan"]
            if handled > row["khongHaiLong"]:
                row["khongHaiLong"] += 1  # a repeated petition
            elif row["dangXuLyTrongHan"] > 0:
                row["dangXuLyTrongHan"] -= 1
                row["dangXuLyQuaHan"] += 1
            else:
                row["tiepNhan"] += 1
                row["daXuLyDungHan"] += 1
        elif system == "edoc":
            row["incoming_total"] += 1 + salt % 3  # documents registered late
            row["incoming_electronic"] += 1 + salt % 3
            if row["outgoing_via_axis"] < row["outgoing_electronic"]:
                row["outgoing_via_axis"] += 1

    @staticmethod
    def _default_restatement(system: str, row: dict) -> None:
        """What `correct()` does without explicit fields: one more dossier received online and resolved early."""
        if system == "dossier":
            for f in ("tiepNhanTrucTuyen", "daXuLyTruocHan", "dongBoDVCQG", "soHoa"):
                row[f] += 1
        elif system == "petition":
            row["tiepNhan"] += 1
            row["daXuLyDungHan"] += 1
        elif system == "edoc":
            row["incoming_total"] += 1
            row["incoming_electronic"] += 1
        elif system == "esign":
            row["personal_signatures"] += 5

    def correct(
        self,
        system: str,
        day: date,
        unit: str,
        procedure: str | None = None,
        fields: dict[str, int] | None = None,
        delete: bool = False,
        at: datetime | None = None,
    ) -> Correction:
        """Restate one row of a past day from `at` (default: now). Returns the correction."""
        if system not in ("dossier", "petition", "edoc", "esign"):
            raise ValueError(f"unknown system {system!r}")
        if system == "dossier" and not procedure:
            raise ValueError("a dossier correction needs a procedure code")
        if fields:
            allowed = {
                "dossier": DOSSIER_COUNTS,
                "petition": PETITION_COUNTS,
                "edoc": EDOC_COUNTS,
                "esign": ESIGN_COUNTS,
            }[system]
            bad = sorted(set(fields) - set(allowed))
            if bad:
                raise ValueError(f"unknown fields for {system}: {bad}")
        c = Correction(
            system,
            day,
            unit,
            procedure if system == "dossier" else None,
            dict(fields or {}) or None,
            delete,
            (at or self.now()).astimezone(TZ),
        )
        with self._lock:
            self.manual.append(c)
        return c

    def manual_for(self, system: str, d: date, as_of: datetime | None = None) -> list[Correction]:
        as_of = as_of or self.now()
        return [c for c in self.manual if c.system == system and c.day == d and c.at <= as_of]

    # ------------------------------------------------------------------ rows as served
    def _rows(self, system: str, d: date, as_of: datetime | None = None, copy: bool = True) -> list[dict]:
        as_of = (as_of or self.now()).astimezone(TZ)
        if d >= as_of.date():
            return []
        with self._lock:
            hit = self._rows_locked(system, d, as_of)[1]
        return [dict(r) for r in hit] if copy else hit

    def _day(self, system: str, d: date) -> dict:
        return {
            "dossier": self._dossier_day,
            "petition": self._petition_day,
            "edoc": self._edoc_day,
            "esign": self._esign_day,
        }[system](d)

    def _rows_locked(self, system: str, d: date, as_of: datetime) -> tuple[tuple, list[dict]]:
        """(cache key, rows) of day d as served at as_of; the key changes whenever the rows do."""
        day = self._day(system, d)
        auto = self._auto_corrections_cached(system, d, day)
        n_auto = bisect.bisect_right(auto, as_of, key=lambda c: c[0])  # sorted by time
        manual = [i for i, c in enumerate(self.manual) if c.system == system and c.day == d and c.at <= as_of]
        key = (system, d, n_auto, tuple(manual))
        hit = self._rowcache.hit(key)
        if hit is None:
            hit = self._rowcache.put(
                key, self._materialise(system, d, day, auto[:n_auto], [self.manual[i] for i in manual])
            )
        return key, hit

    def rows_json(self, system: str, start: date, end: date, as_of: datetime | None = None) -> list[bytes]:
        """rows_between() with every row JSON-encoded (UTF-8, keys in served order), cached per day: the
        cache entry keeps the day's correction times, so a re-read at a later clock costs a lookup."""
        out: list[bytes] = []
        for enc, _ in self._json_days(system, start, end, as_of, None):
            out.extend(enc)
        return out

    def rows_json_page(
        self, system: str, start: date, end: date, offset: int, size: int, as_of: datetime | None = None
    ) -> tuple[int, list[bytes]]:
        """(rows of [start, end] in all, the encoded rows offset..offset+size): rows_json() without joining the
        whole window for every page (a national day has ~10^5 dossier rows)."""
        total, page = 0, []
        for enc, _ in self._json_days(system, start, end, as_of, None):
            n = len(enc)
            if len(page) < size and offset < total + n:
                lo = max(0, offset - total)
                page.extend(enc[lo : lo + size - len(page)])
            total += n
        return total, page

    def rows_json_keyed(
        self, system: str, start: date, end: date, key_fields: tuple[str, ...], as_of: datetime | None = None
    ) -> tuple[list[bytes], list[tuple]]:
        """rows_json() and, beside each row, the tuple of its `key_fields` values (cached with the day's
        encoding): what a cursor-paginated face bisects without decoding a row."""
        out: list[bytes] = []
        keys: list[tuple] = []
        for enc, k in self._json_days(system, start, end, as_of, key_fields):
            out.extend(enc)
            keys.extend(k)
        return out, keys

    def _json_days(
        self, system: str, start: date, end: date, as_of: datetime | None, key_fields: tuple[str, ...] | None
    ) -> list[tuple[list[bytes], list[tuple]]]:
        """Per day of [start, end] served at as_of: (encoded rows, their key tuples — empty unless asked)."""
        as_of = (as_of or self.now()).astimezone(TZ)
        days: list[tuple[list[bytes], list[tuple]]] = []
        touched: set = set()  # days this call returns: never evicted by its own later days
        d = start
        with self._lock:
            while d <= end and d < as_of.date():
                touched.add((system, d))
                entry = self._jsoncache.hit((system, d))
                if entry is None:
                    day = self._day(system, d)
                    times = [c[0] for c in self._auto_corrections_cached(system, d, day)]
                    entry = self._jsoncache.put((system, d), (times, {}))
                times, versions = entry
                n_auto = bisect.bisect_right(times, as_of)
                manual = tuple(
                    i for i, c in enumerate(self.manual) if c.system == system and c.day == d and c.at <= as_of
                )
                cached = versions.get((n_auto, manual))
                if cached is None or (key_fields is not None and key_fields not in cached[1]):
                    key, rows = self._rows_locked(system, d, as_of)
                    assert key[2:] == (n_auto, manual)
                    if cached is None:
                        encoder = msgspec.json.Encoder()
                        cached = ([encoder.encode(r) for r in rows], {})
                        versions.clear()  # the latest version of a day is the one read again
                        versions[(n_auto, manual)] = cached
                        self._jsoncache.weigh((system, d), len(rows), touched)
                    if key_fields is not None:
                        get = itemgetter(*key_fields)
                        cached[1][key_fields] = [get(r) if len(key_fields) > 1 else (get(r),) for r in rows]
                days.append((cached[0], cached[1][key_fields] if key_fields is not None else []))
                d += timedelta(days=1)
        return days

    def _auto_corrections_cached(self, system: str, d: date, day: dict) -> list:
        if system == "esign":
            return []
        key = ("auto", system, d)
        hit = self._rowcache.hit(key)
        if hit is None:
            hit = self._rowcache.put(key, self._auto_corrections(system, d, day))
        return hit

    def _materialise(self, system: str, d: date, day: dict, auto: list, manual: list[Correction]) -> list[dict]:
        names = {"dossier": DOSSIER_COUNTS, "petition": PETITION_COUNTS, "edoc": EDOC_COUNTS, "esign": ESIGN_COUNTS}[
            system
        ]
        rows: dict[tuple, dict] = {}
        # A row's update time: the day's midnight + a timedelta (same evening) until a correction makes it a later
        # datetime; formatted once per distinct second (a national day has ~10^5 rows).
        stamps: dict[tuple, datetime | timedelta] = {}
        stamped = system != "esign"  # e-signature rows carry no update time
        midnight = datetime.combine(d, time(0), TZ)
        ts = h64_from(self.seed, "ts", system, d.toordinal())
        for k, v in day.items():
            rows[k] = dict(zip(names, v.tolist(), strict=True))
            if stamped:
                stamps[k] = timedelta(seconds=17.5 * 3600 + ts(*k) / 2.0**64 * 6.4 * 3600)

        def stamp_at(k) -> datetime | None:
            s = stamps.get(k)
            return midnight + s if isinstance(s, timedelta) else s

        for at, k, what in auto:
            if k not in rows:
                continue
            if what == "delete":
                del rows[k]
            else:
                self._apply_update(system, rows[k], h64(self.seed, "salt", d.toordinal(), *k))
                stamps[k] = max(stamp_at(k), at)
        for c in manual:
            k = (c.unit, c.procedure) if system == "dossier" else (c.unit,)
            if c.delete:
                rows.pop(k, None)
                continue
            row = rows.setdefault(k, dict.fromkeys(names, 0))
            if c.fields:
                row.update({f: int(v) for f, v in c.fields.items()})
            else:
                self._default_restatement(system, row)
            stamps[k] = max(stamp_at(k) or c.at, c.at)
        day_iso = d.isoformat()
        offset = midnight.isoformat()[-6:]  # +07:00
        texts: dict[int, str] = {}

        def text(k) -> str:
            s = stamps[k]
            if not isinstance(s, timedelta):
                return iso(s)
            t = texts.get(s.seconds)  # isoformat(timespec="seconds") drops the microseconds
            if t is None:
                h, rem = divmod(s.seconds, 3600)
                t = texts[s.seconds] = f"{day_iso}T{h:02d}:{rem // 60:02d}:{rem % 60:02d}{offset}"
            return t

        out = []
        for k in sorted(rows):
            r = rows[k]
            if system == "dossier":
                item = {"ngay": day_iso, "maDinhDanh": k[0], "maThuTuc": k[1], **r, "thoiDiemCapNhat": text(k)}
            elif system == "petition":
                item = {"ngay": day_iso, "maDinhDanh": k[0], **r, "thoiDiemCapNhat": text(k)}
            elif system == "edoc":
                item = {"report_date": day_iso, "org_code": k[0], **r, "updated_at": text(k)}
            else:
                item = {"report_date": day_iso, "ma_dinh_danh": k[0], **r}
            out.append(item)
        return out

    # ------------------------------------------------------------------ truth API: what a fault-free server returns now
    def units(self) -> list[dict]:
        return register_rows(self.entities, self.today())

    def procedures(self) -> list[dict]:
        today = self.today()
        items = [p.item(today) for p in self.catalogue if p.announced <= today]
        items.sort(key=lambda x: x["maThuTuc"])
        return items

    def dossier_rows(self, d: date, as_of: datetime | None = None) -> list[dict]:
        return self._rows("dossier", d, as_of)

    def petition_rows(self, d: date, as_of: datetime | None = None) -> list[dict]:
        return self._rows("petition", d, as_of)

    def edoc_rows(self, d: date, as_of: datetime | None = None) -> list[dict]:
        return self._rows("edoc", d, as_of)

    def esign_rows(self, d: date, as_of: datetime | None = None) -> list[dict]:
        """The rows of the newest e-signature file of day d (every unit valid that day)."""
        return self._rows("esign", d, as_of)

    def rows_between(
        self, system: str, start: date, end: date, as_of: datetime | None = None, copy: bool = True
    ) -> list[dict]:
        """Rows of every day in [start, end], ordered by day then key (stable across pages).
        copy=False returns the cached dicts: the caller must not mutate them."""
        as_of = as_of or self.now()
        out: list[dict] = []
        d = start
        while d <= end:
            out.extend(self._rows(system, d, as_of, copy))
            d += timedelta(days=1)
        return out

    def reset(self) -> None:
        with self._lock:
            self.manual.clear()
            self.clear_caches()


class NationalSimulator(Simulator):
    """Several provinces of 1/7/2025 (or all 34) served by one set of source systems, as a national aggregation
    would: one register of every province's units, the national catalogue (each procedure's competence the union
    of the provinces'), every unit's daily counts.

    Each province is its own `Simulator` (same seed and clock): a province's rows do not depend on which others
    are listed. What a day serves is the union of the provinces' rows (identifiers never collide across
    provinces, see `units.province_codes`); late corrections and update times are per row, so they too are the
    province's own. The national portal's index stays the first province's (`primary`)."""

    def __init__(self, config: SimConfig, clock: Clock | None = None) -> None:
        codes = province_codes(config.province)
        self.provinces = codes
        # cfg.province: the first province (the apps' unknown-unit faults name it; no real unit uses .99.)
        self.cfg = replace(config, province=codes[0])
        self.seed = self.cfg.seed
        self.cal = work_calendar()
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        self.manual: list[Correction] = []
        part_cfg = replace(self.cfg, lean=True, json_cache_rows=0, correction_rate={})
        self.parts = [Simulator(replace(part_cfg, province=c), self.clock) for c in codes]
        self.primary = self.parts[0]
        self.plan, self.reform = self.primary.plan, True
        self.entities = [e for p in self.parts for e in p.entities]  # each keeps its province's own idx
        seen: dict[tuple[str, date], str] = {}
        for p in self.parts:
            for e in p.entities:
                other = seen.setdefault((e.code, e.valid_from), p.plan.code)
                if other != p.plan.code:
                    raise ValueError(f"unit {e.code} from {e.valid_from} is in provinces {other} and {p.plan.code}")
        self.by_code = {code: e for p in self.parts for code, e in p.by_code.items()}
        self.catalogue = self.primary.catalogue  # attributes are national; competence: see procedures()
        self.proc_by_code = {p.code: p for p in self.catalogue}
        self.clear_caches()

    def clear_caches(self) -> None:
        super().clear_caches()
        for p in getattr(self, "parts", ()):
            p.clear_caches()

    def _day(self, system: str, d: date) -> dict:
        hit = self._days[system].hit(d)
        if hit is not None:
            return hit
        rows: dict = {}
        for p in self.parts:
            rows.update(p._day(system, d))
        return self._days[system].put(d, rows)

    def units(self) -> list[dict]:
        out = [r for p in self.parts for r in p.units()]
        out.sort(key=lambda r: (r["maDinhDanh"], r["hieuLucTu"]))
        return out

    def procedures(self) -> list[dict]:
        items: dict[str, dict] = {}
        for p in self.parts:
            for it in p.procedures():
                cur = items.setdefault(it["maThuTuc"], it)
                if cur is not it:
                    cur["donViThucHien"] = sorted(set(cur["donViThucHien"]) | set(it["donViThucHien"]))
        return [items[k] for k in sorted(items)]


def make_simulator(config: SimConfig, clock: Clock | None = None) -> Simulator:
    """A province's simulator, or a national one for a comma list of provinces or `all`."""
    if len(province_codes(config.province)) > 1:
        # a chunk of 7 national days (~8 x 10^5 rows) fits; a year would not (~4 x 10^7 rows, ~20 GB encoded)
        return NationalSimulator(replace(config, lean=True, json_cache_rows=min(config.json_cache_rows, 1_000_000)),
                                 clock)
    return Simulator(config, clock)


def dates(start: date, end: date):
    for i in range((end - start).days + 1):
        yield start + timedelta(days=i)


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b) if b else 0
