"""The province's unit register, read from `vietnamadminunits` (GSO codes, pre-2025 units).

Identifier scheme (QCVN 102:2016 style `AAA.BB.CC.Hpp`, pp = province code):
  province People's Committee  000.00.00.H26
  departments (SO_NGANH)        000.00.NN.H26   NN = 01..20, in the order of DEPARTMENTS
  district People's Committees  000.00.NN.H26   NN = 41.., in GSO code order (243 -> 41, 244 -> 42, ...)
  commune People's Committees   000.MM.NN.H26   NN = the district's, MM = 01.. in GSO commune-code order
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

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
# How long ahead the register shows a planned change (a version that starts, or an end date).
ANNOUNCE_AHEAD_DAYS = 14


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
    successor: int | None = None  # entity absorbing this one after valid_to
    m0: float = 0.5  # maturity at MATURITY_ORIGIN (0..1)
    m_max: float = 0.9  # asymptote
    tau: float = 1.5  # years to close ~63% of the gap
    volume: float = 1.0  # workload multiplier
    versions: list[dict] = field(default_factory=list)


def internal_id(code: str) -> str:
    """The one-stop-shop system's own id: a MongoDB-style 24-hex id, stable per unit."""
    return hashlib.blake2b(f"donvi:{code}".encode(), digest_size=12).hexdigest()


def _code(province: str, mm: int, nn: int) -> str:
    return f"000.{mm:02d}.{nn:02d}.H{province}"


def build_entities(seed: int, province: str = "26", reorg_date: date | None = date(2025, 3, 1)) -> list[Entity]:
    rows = query(
        "SELECT DISTINCT province, districtCode, district, wardCode, ward FROM admin_units_legacy "
        f"WHERE provinceCode = '{province}' ORDER BY districtCode, wardCode"
    )
    if not rows:
        raise ValueError(f"no administrative units for province code {province!r}")
    prov_name = rows[0]["province"]
    ents: list[Entity] = []

    def add(**kw) -> Entity:
        e = Entity(idx=len(ents), **kw)
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

    for e in ents:
        _maturity(seed, e)
    _versions(ents, reorg_date)
    return ents


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
        old.versions[-1]["valid_to"] = end
    for new_key in sorted(set(REORG.values())):
        new = by_key[new_key]
        staff = new.staff + sum(by_key[o].staff for o, n in REORG.items() if n == new_key)
        new.versions[-1]["valid_to"] = end
        new.versions.append(
            {"valid_from": reorg_date, "valid_to": None, "name": REORG_RENAMES.get(new_key, new.name), "staff": staff}
        )


def register_rows(ents: list[Entity], today: date) -> list[dict]:
    """`GET /api/v1/don-vi` items as the register shows them on `today` (changes appear 14 days ahead)."""
    out = []
    horizon = today.toordinal() + ANNOUNCE_AHEAD_DAYS
    for e in ents:
        for v in e.versions:
            if v["valid_from"].toordinal() > horizon:
                continue
            vt = v["valid_to"] if v["valid_to"] and v["valid_to"].toordinal() + 1 <= horizon else None
            out.append(
                {
                    "maDonVi": internal_id(e.code),
                    "maDinhDanh": e.code,
                    "tenDonVi": v["name"],
                    "loaiDonVi": e.kind,
                    "maDinhDanhCha": e.parent,
                    "maDVHC": e.area_code,
                    "soCanBo": v["staff"],
                    "coChungThucDienTu": e.e_certified_copy,
                    "hieuLucTu": v["valid_from"].isoformat(),
                    "hieuLucDen": vt.isoformat() if vt else None,
                }
            )
    out.sort(key=lambda r: (r["maDinhDanh"], r["hieuLucTu"]))
    return out
