"""The province's unit register, read from `vietnamadminunits` (GSO codes; the pre-2025 table `admin_units_legacy`,
the 34-province table `admin_units` and the official old -> new commune conversion `data/converter_2025.json`).

Which province (`province_plan`): a code of the 34 provinces of 1/7/2025 (e.g. 25, the default) simulates that
province across the reform: before 1/7/2025 its predecessor provinces (those whose old communes convert into
it: Phú Thọ 25 <- Hòa Bình 17 + Phú Thọ 25 + Vĩnh Phúc 26), from 1/7/2025 the merged province. A code of the 63
that is not one of the 34 (e.g. 26) simulates that old province alone, with no reform (as before the reform
existed); era "legacy" asks for the old province alone when its code is also a new one (25 + legacy = old Phú Thọ).

Identifier scheme (QCVN 102:2016 style `AAA.BB.CC.Hpp`, pp = the province code of the unit's own era):
  province People's Committee  000.00.00.Hpp
  departments (SO_NGANH)        000.00.NN.Hpp   NN = 01..20, in the order of DEPARTMENTS
  district People's Committees  000.00.NN.Hpp   NN = 41.., in GSO code order (243 -> 41, 244 -> 42, ...)
  commune People's Committees   000.MM.NN.Hpp   NN = the district's, MM = 01.. in GSO commune-code order
Units of the reform (from 1/7/2025), pp = the new province code:
  province People's Committee  000.00.00.Hpp   reuses the old committee's identifier when pp was its code
  departments                   000.00.NN.Hpp   NN of the same function (key) in DEPARTMENTS: reused likewise
  communes                      000.MM.NN.Hpp   the identifier of the primary predecessor when that one is an
                                                old commune of province pp (`.Hpp`), else MM = 01..99, NN =
                                                80, 81, .. in new GSO commune-code order (no old unit uses
                                                NN >= 71; unknown-unit faults use NN = 99)
A reused identifier names a different unit: the register keys units by identifier AND validity.

Successors (`donViKeThua`, primary first): an absorbed department (1/3/2025) -> its absorbing department; at the
reform each old committee -> the new committee; each old department -> the new department of the same key;
district committees -> none; an old commune -> the new communes the official conversion sends it to. A commune
split between several new ones (`DICT_PROVINCE_WARD_DIVIDED`) lists its default new commune (`isDefaultNewWard`,
where its committee's seat went) first, then the others in new GSO code order; the primary takes
SPLIT_PRIMARY_SHARE of its work and staff, the others share the rest equally. A new commune's primary
predecessor is, among the old communes whose primary successor it is, the one whose GSO code it took (QĐ 19/2025
kept a predecessor's code; true for all 148 of Phú Thọ), else the first of them in old GSO code order.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

from vietnamadminunits.database import query

from .rng import u01

# (short key, name, staff range). Pre-2025 departments of a northern province.
DEPARTMENTS: list[tuple[str, str, tuple[int, int]]] = [
    ("VP", "Văn phòng UBND tỉnh", (60, 90)),
    ("SNV", "Sở Nội vụ", (40, 70)),
    ("STP", "Sở Tư pháp", (35, 55)),
    ("SKHDT", "Sở Kế hoạch và Đầu tư", (45, 70)),
    ("STC", "Sở Tài chính", (50, 80)),
    ("SCT", "Sở Công Thương", (45, 75)),
    ("SNNPTNT", "Sở Nông nghiệp và Phát triển nông thôn", (120, 200)),
    ("SGTVT", "Sở Giao thông vận tải", (60, 110)),
    ("SXD", "Sở Xây dựng", (45, 75)),
    ("STNMT", "Sở Tài nguyên và Môi trường", (70, 130)),
    ("STTTT", "Sở Thông tin và Truyền thông", (30, 50)),
    ("SLDTBXH", "Sở Lao động - Thương binh và Xã hội", (50, 90)),
    ("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch", (60, 110)),
    ("SKHCN", "Sở Khoa học và Công nghệ", (35, 55)),
    ("SGDDT", "Sở Giáo dục và Đào tạo", (60, 100)),
    ("SYT", "Sở Y tế", (60, 110)),
    ("TTT", "Thanh tra tỉnh", (30, 45)),
    ("BDT", "Ban Dân tộc", (15, 25)),
    ("BQLKCN", "Ban Quản lý các khu công nghiệp", (40, 60)),
    ("SNGV", "Sở Ngoại vụ", (20, 30)),
]

# 1/3/2025 reorganisation (Resolution 18-NQ/TW): absorbed -> absorbing department, and renames.
REORG: dict[str, str] = {"STTTT": "SKHCN", "SKHDT": "STC", "SLDTBXH": "SNV", "SGTVT": "SXD", "STNMT": "SNNPTNT"}
REORG_RENAMES: dict[str, str] = {"SNNPTNT": "Sở Nông nghiệp và Môi trường"}

REGISTER_START = date(2020, 1, 1)
MATURITY_ORIGIN = date(2023, 1, 1)
# 1/7/2025: two-level local government (Resolution 202/2025/QH15); the old units' last day is the day before.
REFORM_DATE = date(2025, 7, 1)
# How long ahead the register shows a planned change (a version that starts, or an end date).
ANNOUNCE_AHEAD_DAYS = 14
# A split commune: share of its work and staff going to its primary (default) new commune; the rest is shared.
SPLIT_PRIMARY_SHARE = 0.6
NEW_COMMUNE_NN = 80  # first NN of new communes' own identifiers 000.MM.NN.Hpp
# After the reform, units stumble for a while (new systems, merged staff): maturity dips by up to this much,
# recovering with a time constant of DIP_DAYS.
DIP_MAX = {"UBND_TINH": 0.03, "SO_NGANH": 0.06, "UBND_XA": 0.12}
DIP_DAYS = 75.0


@dataclass
class Entity:
    """One agency across its versions. Hidden simulation parameters live here, not in the register."""

    idx: int
    code: str
    key: str
    name: str
    kind: str
    parent: str | None
    area_code: str
    staff: int
    e_certified_copy: bool
    valid_from: date
    valid_to: date | None = None
    successor: int | None = None  # primary successor: its identifier reports this one's work after valid_to
    m0: float = 0.5  # maturity at MATURITY_ORIGIN (0..1)
    m_max: float = 0.9  # asymptote
    tau: float = 1.5  # years to close ~63% of the gap
    volume: float = 1.0  # workload multiplier
    versions: list[dict] = field(default_factory=list)
    province: str = ""  # the code of the province this unit belongs to (old code before the reform)
    successors: list[int] = field(default_factory=list)  # donViKeThua, primary first
    shares: list[float] = field(default_factory=list)  # share of this unit's work each successor takes
    work: list[tuple[int, float]] = field(default_factory=list)  # units of the reform: (old entity, share) inherited
    dip: float = 0.0  # maturity dip at the start of a unit of the reform
    work_to: date | None = None  # last day this entity generates work (None: open)

    @property
    def label(self) -> str:
        """What per-unit randomness is keyed by: the identifier, plus the start for a unit that reuses one."""
        return self.code if self.valid_from == REGISTER_START else f"{self.code}@{self.valid_from.isoformat()}"


@dataclass(frozen=True)
class ProvincePlan:
    code: str  # identifiers' Hpp of the simulated province (the new code when it crosses the reform)
    name: str
    reform: bool  # True: predecessors until REFORM_DATE, the merged province from then on
    predecessors: tuple[str, ...]  # old province codes simulated before the reform (just `code` when no reform)


def internal_id(code: str) -> str:
    """The one-stop-shop system's own id: a MongoDB-style 24-hex id, stable per unit (label)."""
    return hashlib.blake2b(f"donvi:{code}".encode(), digest_size=12).hexdigest()


def _code(province: str, mm: int, nn: int) -> str:
    return f"000.{mm:02d}.{nn:02d}.H{province}"


@lru_cache(maxsize=1)
def _conversion_data() -> dict:
    """The package's official old -> new conversion tables (what `converter_2025.convert_address_2025` reads)."""
    text = (resources.files("vietnamadminunits") / "data" / "converter_2025.json").read_text(encoding="utf-8")
    return json.loads(text)


def province_plan(province: str, era: str = "auto") -> ProvincePlan:
    """Which units to simulate for a province setting: a new code crosses the reform unless era is 'legacy'."""
    province = str(province).strip()
    era = (era or "auto").strip().lower()
    if era not in ("auto", "legacy"):
        raise ValueError(f"province era must be 'auto' or 'legacy', not {era!r}")
    new = query(f"SELECT DISTINCT provinceKey, province FROM admin_units WHERE provinceCode = '{province}'")
    if era == "auto" and new:
        old_keys = _conversion_data()["DICT_PROVINCE"].get(new[0]["provinceKey"], [])
        olds = (
            query(
                "SELECT DISTINCT provinceCode FROM admin_units_legacy WHERE provinceKey IN "
                f"({', '.join(repr(k) for k in old_keys)}) ORDER BY provinceCode"
            )
            if old_keys
            else []
        )
        if not olds:
            raise ValueError(f"no predecessor provinces for new province code {province!r}")
        return ProvincePlan(province, new[0]["province"], True, tuple(r["provinceCode"] for r in olds))
    old = query(f"SELECT DISTINCT province FROM admin_units_legacy WHERE provinceCode = '{province}'")
    if not old:
        raise ValueError(f"no administrative units for province code {province!r}")
    return ProvincePlan(province, old[0]["province"], False, (province,))


def province_codes(spec: str) -> list[str]:
    """A province setting: one code (`province_plan`), a comma list of provinces of 1/7/2025, or `all` (the 34).

    A list is served by one set of source systems, as a national aggregation would; its provinces' units never
    share an identifier, since each old province converts into exactly one new one and a new province's code is
    one of its predecessors' (so `.Hpp` names one province across the reform)."""
    s = str(spec).strip()
    if s.lower() == "all":
        return [r["provinceCode"] for r in query("SELECT DISTINCT provinceCode FROM admin_units ORDER BY provinceCode")]
    codes = [c.strip() for c in s.split(",")]
    if not s or any(not c for c in codes):
        raise ValueError(f"province must be a code, a comma list of codes or 'all', not {spec!r}")
    if len(codes) == 1:
        return codes
    if len(set(codes)) != len(codes):
        raise ValueError(f"province list {spec!r} names a province twice")
    new = {r["provinceCode"] for r in query("SELECT DISTINCT provinceCode FROM admin_units")}
    bad = [c for c in codes if c not in new]
    if bad:
        raise ValueError(f"a province list holds provinces of 1/7/2025 only (34 codes); not: {', '.join(bad)}")
    return codes


@lru_cache(maxsize=8)
def commune_conversion(province: str) -> tuple[dict[str, tuple[str, ...]], list[dict]]:
    """The official conversion into new province `province`: ({old ward code: new ward codes, default first},
    new wards [{wardCode, ward}] in code order). Every old ward of the predecessor provinces is in the map."""
    data = _conversion_data()
    new = query(
        f"SELECT wardCode, ward, wardKey, provinceKey FROM admin_units WHERE provinceCode = '{province}' "
        "ORDER BY wardCode"
    )
    if not new:
        raise ValueError(f"no new communes for province code {province!r}")
    pkey = new[0]["provinceKey"]
    by_key = {r["wardKey"]: r["wardCode"] for r in new}
    if len(by_key) != len(new):
        raise ValueError(f"new commune keys of province {province!r} are not unique")
    old_keys = data["DICT_PROVINCE"][pkey]
    old_rows = query(
        "SELECT DISTINCT provinceKey, districtKey, wardKey, wardCode FROM admin_units_legacy WHERE provinceKey IN "
        f"({', '.join(repr(k) for k in old_keys)}) AND wardCode IS NOT NULL"
    )
    old_code = {f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey']}": r["wardCode"] for r in old_rows}
    out: dict[str, tuple[str, ...]] = {}
    for new_key, olds in data["DICT_PROVINCE_WARD_NO_DIVIDED"][pkey].items():
        for ok in olds:
            if ok in old_code:  # a ward-less island district has no old commune
                out[old_code[ok]] = (by_key[new_key],)
    for ok, parts in data["DICT_PROVINCE_WARD_DIVIDED"].get(pkey, {}).items():
        default = [by_key[p["newWardKey"]] for p in parts if p["isDefaultNewWard"]]
        others = sorted(by_key[p["newWardKey"]] for p in parts if not p["isDefaultNewWard"])
        out[old_code[ok]] = tuple(default[:1] + [c for c in default[1:] + others if c not in default[:1]])
    missing = sorted(set(old_code.values()) - set(out))
    if missing:
        raise ValueError(f"old communes with no conversion into province {province!r}: {missing[:5]}")
    return out, [{"wardCode": r["wardCode"], "ward": r["ward"]} for r in new]


def build_entities(
    seed: int, province: str = "26", reorg_date: date | None = date(2025, 3, 1), era: str = "auto"
) -> list[Entity]:
    plan = province_plan(province, era)
    ents: list[Entity] = []
    for old in plan.predecessors:
        _old_province(seed, old, reorg_date, ents)
    if plan.reform:
        _reform(seed, plan, reorg_date, ents)
    return ents


def _old_province(seed: int, province: str, reorg_date: date | None, ents: list[Entity]) -> None:
    """Append one pre-2025 province's units (committee, departments, districts, communes) with their versions."""
    rows = query(
        "SELECT DISTINCT province, districtCode, district, wardCode, ward FROM admin_units_legacy "
        f"WHERE provinceCode = '{province}' ORDER BY districtCode, wardCode"
    )
    if not rows:
        raise ValueError(f"no administrative units for province code {province!r}")
    prov_name = rows[0]["province"]
    first = len(ents)

    def add(**kw) -> Entity:
        e = Entity(idx=len(ents), province=province, **kw)
        ents.append(e)
        return e

    def staff(key: str, lo: int, hi: int) -> int:
        return lo + int(u01(seed, "staff", key) * (hi - lo + 1))

    top = add(
        code=_code(province, 0, 0),
        key="UBND",
        name=f"UBND {prov_name}",
        kind="UBND_TINH",
        parent=None,
        area_code=province,
        staff=staff("UBND", 25, 35),
        e_certified_copy=False,
        valid_from=REGISTER_START,
    )
    for n, (key, name, (lo, hi)) in enumerate(DEPARTMENTS, start=1):
        add(
            code=_code(province, 0, n),
            key=key,
            name=name,
            kind="SO_NGANH",
            parent=top.code,
            area_code=province,
            staff=staff(key, lo, hi),
            e_certified_copy=False,
            valid_from=REGISTER_START,
        )
    districts: dict[str, Entity] = {}
    communes_in: dict[str, int] = {}
    for r in rows:
        dc = r["districtCode"]
        if dc not in districts:
            nn = 41 + len(districts)
            districts[dc] = add(
                code=_code(province, 0, nn),
                key=f"H{dc}",
                name=f"UBND {r['district']}",
                kind="UBND_HUYEN",
                parent=top.code,
                area_code=dc,
                staff=staff(dc, 110, 220),
                e_certified_copy=False,
                valid_from=REGISTER_START,
            )
            communes_in[dc] = 0
        if r["wardCode"] is None:  # an island district without communes
            continue
        d = districts[dc]
        communes_in[dc] += 1
        nn = int(d.code.split(".")[2])
        wc = r["wardCode"]
        add(
            code=_code(province, communes_in[dc], nn),
            key=f"X{wc}",
            name=f"UBND {r['ward']}",
            kind="UBND_XA",
            parent=d.code,
            area_code=wc,
            staff=staff(wc, 18, 32),
            e_certified_copy=u01(seed, "ecopy", wc) < 0.7,
            valid_from=REGISTER_START,
        )

    for e in ents[first:]:
        _maturity(seed, e)
    _versions(ents[first:], reorg_date)


def _maturity(seed: int, e: Entity) -> None:
    """Units differ widely and improve at different speeds, so rankings move over time."""
    u = [u01(seed, "maturity", e.code, i) for i in range(4)]
    lo, hi, vol = {
        "UBND_TINH": (0.65, 0.85, 1.0),
        "SO_NGANH": (0.45, 0.9, 1.0),
        "UBND_HUYEN": (0.3, 0.8, 1.0),
        "UBND_XA": (0.08, 0.7, 1.0),
    }[e.kind]
    e.m0 = lo + (hi - lo) * u[0]
    e.m_max = min(0.995, max(e.m0 + 0.05, 0.8 + 0.19 * u[1]))
    e.tau = 0.4 + 2.6 * u[2]
    e.volume = vol * (0.5 + 1.2 * u[3])


def _versions(ents: list[Entity], reorg_date: date | None) -> None:
    by_key = {e.key: e for e in ents}
    for e in ents:
        e.versions = [{"valid_from": e.valid_from, "valid_to": None, "name": e.name, "staff": e.staff}]
    if reorg_date is None:
        return
    end = date.fromordinal(reorg_date.toordinal() - 1)
    for old_key, new_key in REORG.items():
        old, new = by_key[old_key], by_key[new_key]
        old.valid_to = end
        old.successor = new.idx
        old.successors, old.shares = [new.idx], [1.0]
        old.versions[-1]["valid_to"] = end
    for new_key in sorted(set(REORG.values())):
        new = by_key[new_key]
        staff = new.staff + sum(by_key[o].staff for o, n in REORG.items() if n == new_key)
        new.versions[-1]["valid_to"] = end
        new.versions.append(
            {"valid_from": reorg_date, "valid_to": None, "name": REORG_RENAMES.get(new_key, new.name), "staff": staff}
        )


def _m_at(e: Entity, d: date) -> float:
    """An entity's maturity trend on d (the engine's m_trend for one entity)."""
    y = (d - MATURITY_ORIGIN).days / 365.25
    return min(0.995, max(0.02, e.m_max - (e.m_max - e.m0) * math.exp(-y / e.tau)))


def _reform(seed: int, plan: ProvincePlan, reorg_date: date | None, ents: list[Entity]) -> None:
    """End every old unit on the day before REFORM_DATE and add the merged province's units from it."""
    start, end = REFORM_DATE, REFORM_DATE - timedelta(days=1)
    if reorg_date is not None and reorg_date >= start:
        raise ValueError("the department reorganisation must come before the reform")
    old = list(ents)
    pp = plan.code

    def add(**kw) -> Entity:
        e = Entity(idx=len(ents), province=pp, valid_from=start, e_certified_copy=False, staff=0, **kw)
        ents.append(e)
        return e

    top = add(code=_code(pp, 0, 0), key="UBND", name=f"UBND {plan.name}", kind="UBND_TINH", parent=None, area_code=pp)
    absorbed = set(REORG) if reorg_date is not None else set()
    depts: dict[str, Entity] = {}
    for n, (key, name, _) in enumerate(DEPARTMENTS, start=1):
        if key in absorbed:
            continue
        renamed = REORG_RENAMES.get(key, name) if reorg_date is not None else name
        depts[key] = add(code=_code(pp, 0, n), key=key, name=renamed, kind="SO_NGANH", parent=top.code, area_code=pp)

    conversion, new_wards = commune_conversion(pp)
    communes: dict[str, Entity] = {}
    for w in new_wards:
        communes[w["wardCode"]] = add(
            code="",
            key=f"XN{w['wardCode']}",
            name=f"UBND {w['ward']}",
            kind="UBND_XA",
            parent=top.code,
            area_code=w["wardCode"],
        )

    # Old units end; their successors.
    for e in old:
        e.work_to = end
        if e.valid_to is None or e.valid_to > end:
            e.valid_to = end
            e.versions[-1]["valid_to"] = end
            if e.kind == "UBND_TINH":
                e.successors, e.shares = [top.idx], [1.0]
            elif e.kind == "SO_NGANH":
                e.successors, e.shares = [depts[e.key].idx], [1.0]
            elif e.kind == "UBND_XA":
                targets = conversion[e.area_code]
                e.successors = [communes[c].idx for c in targets]
                rest = (1 - SPLIT_PRIMARY_SHARE) / (len(targets) - 1) if len(targets) > 1 else 0.0
                e.shares = [1.0] if len(targets) == 1 else [SPLIT_PRIMARY_SHARE] + [rest] * (len(targets) - 1)
            e.successor = e.successors[0] if e.successors else None

    # New communes' identifiers: the primary predecessor's when it is an old commune of province pp.
    preds: dict[int, list[Entity]] = {c.idx: [] for c in communes.values()}
    for e in old:
        if e.kind == "UBND_XA" and e.successors:
            preds[e.successors[0]].append(e)
    taken = {e.code for e in old}
    reused: set[str] = set()
    own = 0
    for wc, c in communes.items():
        ps = preds[c.idx]
        primary = next((p for p in ps if p.area_code == wc), ps[0] if ps else None)
        if primary is not None and primary.province == pp and primary.code not in reused:
            c.code = primary.code
            reused.add(primary.code)
            continue
        while True:
            code = _code(pp, own % 99 + 1, NEW_COMMUNE_NN + own // 99)
            own += 1
            if code not in taken:
                break
        c.code = code
    new = ents[len(old) :]
    for n in new:
        n.versions = [{"valid_from": start, "valid_to": None, "name": n.name, "staff": 0}]

    # What each new unit inherits: every old entity's work goes, on the reform's eve, to the successors of the
    # entity reporting it then (an absorbed department through its absorber), in their shares.
    def reporting(e: Entity) -> Entity:
        while e.valid_to is not None and e.valid_to < end and e.successor is not None:
            e = ents[e.successor]
        return e

    for e in old:
        w = reporting(e)
        if w.valid_to != end:
            continue
        for s, share in zip(w.successors, w.shares, strict=True):
            ents[s].work.append((e.idx, share))
    direct_of: dict[int, list[tuple[Entity, float]]] = {n.idx: [] for n in new}
    for e in old:
        if e.valid_to == end:
            for s, share in zip(e.successors, e.shares, strict=True):
                direct_of[s].append((e, share))
    for n in new:
        direct = direct_of[n.idx]
        staff = sum(share * e.versions[-1]["staff"] for e, share in direct)
        n.staff = max(1, round(staff)) if direct else _fresh_staff(seed, n)
        n.versions[0]["staff"] = n.staff
        if n.kind == "UBND_XA":
            weight = sum(share for _, share in direct)
            offers = sum(share for e, share in direct if e.e_certified_copy)
            n.e_certified_copy = offers >= 0.5 * weight if direct else u01(seed, "ecopy", n.label) < 0.7
        _inherit_maturity(seed, n, [(ents[i], share) for i, share in n.work], start)


def _fresh_staff(seed: int, e: Entity) -> int:
    lo, hi = {"UBND_TINH": (25, 35), "SO_NGANH": (40, 80), "UBND_XA": (25, 45)}[e.kind]
    return lo + int(u01(seed, "staff", e.label) * (hi - lo + 1))


def _inherit_maturity(seed: int, n: Entity, work: list[tuple[Entity, float]], start: date) -> None:
    """A unit of the reform starts where its predecessors were (volume-weighted), then follows its own trend."""
    u = [u01(seed, "maturity", n.label, i) for i in range(4)]
    n.dip = DIP_MAX[n.kind] * u[3]
    if not work:  # e.g. a special zone made of a ward-less island district: a unit of its own
        n.m0, n.m_max, n.tau, n.volume = 0.3 + 0.3 * u[0], 0.8 + 0.15 * u[1], 0.8 + 1.5 * u[2], 0.5 + 0.5 * u[3]
        return
    w = [e.volume * share for e, share in work]
    total = sum(w)
    n.volume = total
    m_start = sum(wi * _m_at(e, start) for (e, _), wi in zip(work, w, strict=True)) / total
    m_max = sum(wi * e.m_max for (e, _), wi in zip(work, w, strict=True)) / total
    n.tau = sum(wi * e.tau for (e, _), wi in zip(work, w, strict=True)) / total * (0.8 + 0.4 * u[2])
    n.m_max = min(0.995, max(m_start + 0.03, m_max + 0.08 * (u[1] - 0.5)))
    # m0 such that the trend passes through m_start on the first day
    y = (start - MATURITY_ORIGIN).days / 365.25
    n.m0 = n.m_max - (n.m_max - m_start) * math.exp(y / n.tau)


def register_rows(ents: list[Entity], today: date) -> list[dict]:
    """`GET /api/v1/don-vi` items as the register shows them on `today` (changes appear 14 days ahead)."""
    out = []
    horizon = today.toordinal() + ANNOUNCE_AHEAD_DAYS
    for e in ents:
        mid = internal_id(e.label)
        for v in e.versions:
            if v["valid_from"].toordinal() > horizon:
                continue
            vt = v["valid_to"] if v["valid_to"] and v["valid_to"].toordinal() + 1 <= horizon else None
            ended = vt is not None and vt == e.valid_to
            out.append(
                {
                    "maDonVi": mid,
                    "maDinhDanh": e.code,
                    "tenDonVi": v["name"],
                    "loaiDonVi": e.kind,
                    "maDinhDanhCha": e.parent,
                    "maDVHC": e.area_code,
                    "soCanBo": v["staff"],
                    "coChungThucDienTu": e.e_certified_copy,
                    "hieuLucTu": v["valid_from"].isoformat(),
                    "hieuLucDen": vt.isoformat() if vt else None,
                    "donViKeThua": [ents[s].code for s in e.successors] if ended else [],
                }
            )
    out.sort(key=lambda r: (r["maDinhDanh"], r["hieuLucTu"]))
    return out
