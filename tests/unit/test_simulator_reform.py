"""The simulated province across the 1/7/2025 reform (reform.md, sources.md §1): the merged Phú Thọ (25) built from
Hòa Bình (17), Phú Thọ (25) and Vĩnh Phúc (26) by vietnamadminunits' official conversion, its register with
validity and successors, daily rows only for the units valid that day, new units continuing their predecessors;
and the old path (Vĩnh Phúc 26 alone) unchanged."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from importlib import resources
from zoneinfo import ZoneInfo

import pytest
from vietnamadminunits.database import query

from chiso.raw.register import UnitRegister, UnitVersion, check_snapshot
from chiso_simulator import SimConfig, Simulator
from chiso_simulator.engine import TZ, dates
from chiso_simulator.units import DEPARTMENTS, REORG, SPLIT_PRIMARY_SHARE, province_plan

NOW = datetime(2025, 10, 15, 8, 0, tzinfo=TZ)
END, START = date(2025, 6, 30), date(2025, 7, 1)
OLD_PROVINCES = ("17", "25", "26")
UNIT_FIELD = {"dossier": "maDinhDanh", "petition": "maDinhDanh", "edoc": "org_code", "esign": "ma_dinh_danh"}


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(SimConfig(seed=26, province="25"))
    s.clock.set(NOW)
    return s


@pytest.fixture(scope="module")
def units(sim: Simulator) -> list[dict]:
    return sim.units()


def _d(x: str | None) -> date | None:
    return date.fromisoformat(x) if x else None


def _versions(units: list[dict]) -> list[UnitVersion]:
    return [UnitVersion(u["maDinhDanh"], _d(u["hieuLucTu"]), _d(u["hieuLucDen"]), u["loaiDonVi"],
                        tuple(u["donViKeThua"])) for u in units]  # fmt: skip


def _valid(units: list[dict], d: date) -> list[dict]:
    s = d.isoformat()
    return [u for u in units if u["hieuLucTu"] <= s and (u["hieuLucDen"] is None or s <= u["hieuLucDen"])]


def _resolve(units: list[dict], code: str, d: date) -> dict:
    """The version of `code` valid on d (the successor rule: the unit valid the day after the predecessor ended)."""
    hits = [u for u in _valid(units, d) if u["maDinhDanh"] == code]
    assert len(hits) == 1, (code, d, hits)
    return hits[0]


def _count(sql: str) -> int:
    return query(sql)[0]["n"]


def _in(codes) -> str:
    return ", ".join(f"'{c}'" for c in codes)


def received(r: dict) -> int:
    return r["tiepNhanTrucTuyen"] + r["tiepNhanTrucTiep"] + r["tiepNhanBuuChinh"]


def resolved(r: dict) -> int:
    return r["daXuLyTruocHan"] + r["daXuLyDungHan"] + r["daXuLyQuaHan"]


def stock(r: dict) -> int:
    return r["dangXuLyTrongHan"] + r["dangXuLyQuaHan"]


# ---------------------------------------------------------------------------------------------------- which province


def test_province_setting_new_code_crosses_the_reform_old_code_does_not() -> None:
    merged = province_plan("25")
    assert merged.reform and merged.predecessors == OLD_PROVINCES and merged.name == "Tỉnh Phú Thọ"
    vinh_phuc = province_plan("26")  # not a code of the 34 provinces: the old province alone
    assert not vinh_phuc.reform and vinh_phuc.predecessors == ("26",)
    old_phu_tho = province_plan("25", "legacy")
    assert not old_phu_tho.reform and old_phu_tho.predecessors == ("25",)
    with pytest.raises(ValueError):
        province_plan("99")
    with pytest.raises(ValueError):
        province_plan("25", "future")


def test_legacy_era_is_old_phu_tho_alone() -> None:
    s = Simulator(SimConfig(seed=26, province="25", era="legacy"))
    s.clock.set(NOW)
    units = s.units()
    assert all(u["maDinhDanh"].endswith(".H25") for u in units)
    communes = {u["maDinhDanh"] for u in units if u["loaiDonVi"] == "UBND_XA"}
    assert len(communes) == _count("SELECT COUNT(DISTINCT wardCode) n FROM admin_units_legacy WHERE provinceCode='25'")
    ended = [u for u in units if u["hieuLucDen"]]
    assert {u["hieuLucDen"] for u in ended} == {"2025-02-28"}  # only the 1/3/2025 department reorganisation
    assert all(u["hieuLucTu"] < "2025-07-01" for u in units)


# Taken on the simulator before the reform was added to it (commit 0956506): units (without the new donViKeThua
# field), procedures and the rows of the four daily systems on these days, seed 26, province 26, clock 1/9/2025.
LEGACY_DAYS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 2, 19), date(2024, 6, 3), date(2024, 12, 31),
               date(2025, 3, 4), date(2025, 8, 4)]  # fmt: skip
LEGACY_SHA256 = "6450292d03573964d03db516548c05e7406e8d8801d5b3cb14b40d7c28588dd1"


def test_vinh_phuc_alone_is_unchanged() -> None:
    s = Simulator(SimConfig(seed=26))  # province "26": the library default
    s.clock.set(datetime(2025, 9, 1, 8, 0, tzinfo=TZ))
    h = hashlib.sha256()

    def feed(x) -> None:
        h.update(json.dumps(x, ensure_ascii=False, sort_keys=True).encode())

    units = s.units()
    absorbed = {u["maDinhDanh"]: u.pop("donViKeThua") for u in units}
    feed(units)
    feed(s.procedures())
    for d in LEGACY_DAYS:
        for system in ("dossier", "petition", "edoc", "esign"):
            feed(s.rows_between(system, d, d))
    assert h.hexdigest() == LEGACY_SHA256
    # the only register change: absorbed departments name their absorber
    assert {c: v for c, v in absorbed.items() if v} == {
        "000.00.11.H26": ["000.00.14.H26"], "000.00.04.H26": ["000.00.05.H26"], "000.00.12.H26": ["000.00.02.H26"],
        "000.00.08.H26": ["000.00.09.H26"], "000.00.10.H26": ["000.00.07.H26"]}  # fmt: skip


# ---------------------------------------------------------------------------------------------------- the register


def test_register_counts_by_type_and_validity(units: list[dict]) -> None:
    per = Counter((u["loaiDonVi"], u["hieuLucTu"], u["hieuLucDen"]) for u in units)
    districts = _count(f"SELECT COUNT(DISTINCT districtCode) n FROM admin_units_legacy WHERE provinceCode IN "
                       f"({_in(OLD_PROVINCES)})")  # fmt: skip
    old_communes = _count(f"SELECT COUNT(DISTINCT wardCode) n FROM admin_units_legacy WHERE provinceCode IN "
                          f"({_in(OLD_PROVINCES)})")  # fmt: skip
    new_communes = _count("SELECT COUNT(DISTINCT wardCode) n FROM admin_units WHERE provinceCode = '25'")
    assert (districts, old_communes, new_communes) == (32, 479, 148)
    n_absorbed = len(REORG) * 3
    assert per == {
        ("UBND_TINH", "2020-01-01", "2025-06-30"): 3,
        ("SO_NGANH", "2020-01-01", "2025-02-28"): n_absorbed + len(set(REORG.values())) * 3,  # absorbed + absorbers
        ("SO_NGANH", "2025-03-01", "2025-06-30"): len(set(REORG.values())) * 3,  # absorbers' second version
        ("SO_NGANH", "2020-01-01", "2025-06-30"): (len(DEPARTMENTS) - len(REORG) - len(set(REORG.values()))) * 3,
        ("UBND_HUYEN", "2020-01-01", "2025-06-30"): districts,
        ("UBND_XA", "2020-01-01", "2025-06-30"): old_communes,
        ("UBND_TINH", "2025-07-01", None): 1,
        ("SO_NGANH", "2025-07-01", None): len(DEPARTMENTS) - len(REORG),
        ("UBND_XA", "2025-07-01", None): new_communes,
    }
    for u in units:
        old = u["hieuLucTu"] < "2025-07-01"
        assert u["maDinhDanh"][-3:] in ({"H17", "H25", "H26"} if old else {"H25"})
    by_old_province = Counter(u["maDinhDanh"][-2:] for u in units if u["loaiDonVi"] == "UBND_XA" and
                              u["hieuLucTu"] < "2025-07-01")  # fmt: skip
    for p in OLD_PROVINCES:
        assert by_old_province[p] == _count(
            f"SELECT COUNT(DISTINCT wardCode) n FROM admin_units_legacy WHERE provinceCode = '{p}'")


def test_parents(units: list[dict]) -> None:
    for u in units:
        start = _d(u["hieuLucTu"])
        if u["loaiDonVi"] == "UBND_TINH":
            assert u["maDinhDanhCha"] is None
            continue
        parent = _resolve(units, u["maDinhDanhCha"], start)
        want = {"SO_NGANH": "UBND_TINH", "UBND_HUYEN": "UBND_TINH",
                "UBND_XA": "UBND_HUYEN" if start < START else "UBND_TINH"}[u["loaiDonVi"]]  # fmt: skip
        assert parent["loaiDonVi"] == want, (u, parent)
        assert parent["maDinhDanh"][-3:] == u["maDinhDanh"][-3:]


def test_no_overlapping_versions_no_cycles_and_the_loader_accepts_it(units: list[dict]) -> None:
    by_code = defaultdict(list)
    for u in units:
        by_code[u["maDinhDanh"]].append((u["hieuLucTu"], u["hieuLucDen"] or "9999-12-31"))
    for code, spans in by_code.items():
        spans.sort()
        for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False):
            assert a_end < b_start, (code, spans)
    # every chain of successors ends, within three hops, at a unit still valid
    for u in units:
        seen, cur = set(), u
        while cur["donViKeThua"]:
            key = (cur["maDinhDanh"], cur["hieuLucTu"])
            assert key not in seen, f"cycle through {key}"
            seen.add(key)
            cur = _resolve(units, cur["donViKeThua"][0], _d(cur["hieuLucDen"]) + timedelta(days=1))
        assert len(seen) <= 3
        # the end of a chain: a unit still valid, a district committee, or a version the unit continues after
        if cur["hieuLucDen"] is not None and cur["loaiDonVi"] != "UBND_HUYEN":
            nxt = _resolve(units, cur["maDinhDanh"], _d(cur["hieuLucDen"]) + timedelta(days=1))
            assert nxt["maDonVi"] == cur["maDonVi"] and nxt["loaiDonVi"] == cur["loaiDonVi"], cur
    # the warehouse loader's own snapshot checks (overlaps, successors valid the day after, cycles)
    assert check_snapshot(_versions(units)) == {}


def test_successors_of_committees_departments_districts(units: list[dict]) -> None:
    n_of = {key: n for n, (key, _, _) in enumerate(DEPARTMENTS, start=1)}
    for u in units:
        kind, succ, code = u["loaiDonVi"], u["donViKeThua"], u["maDinhDanh"]
        if u["hieuLucDen"] is None:
            assert succ == []
        elif kind == "UBND_TINH":
            assert succ == ["000.00.00.H25"]
        elif kind == "UBND_HUYEN":
            assert succ == []
        elif kind == "SO_NGANH":
            nn = int(code.split(".")[2])
            key = DEPARTMENTS[nn - 1][0]
            if u["hieuLucDen"] == "2025-02-28" and key in REORG:  # absorbed: the absorber of its own province
                assert succ == [f"000.00.{n_of[REORG[key]]:02d}.{code[-3:]}"]
            elif u["hieuLucDen"] == "2025-02-28":  # an absorber's first version: the unit goes on
                assert succ == []
            else:  # the merged province's department of the same function
                assert succ == [f"000.00.{nn:02d}.H25"]
                assert _resolve(units, succ[0], START)["hieuLucTu"] == "2025-07-01"


def _official_conversion() -> tuple[dict[str, str], dict[str, set[str]]]:
    """From the package's conversion table: old ward code -> (default new ward code, all new ward codes)."""
    data = json.loads((resources.files("vietnamadminunits") / "data" / "converter_2025.json").read_text("utf-8"))
    new = {r["wardKey"]: r["wardCode"] for r in query("SELECT wardKey, wardCode FROM admin_units WHERE "
                                                      "provinceCode = '25'")}  # fmt: skip
    old = {f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey']}": r["wardCode"] for r in query(
        f"SELECT provinceKey, districtKey, wardKey, wardCode FROM admin_units_legacy WHERE provinceCode IN "
        f"({_in(OLD_PROVINCES)})")}  # fmt: skip
    primary, every = {}, defaultdict(set)
    for new_key, olds in data["DICT_PROVINCE_WARD_NO_DIVIDED"]["tinhphutho"].items():
        for k in olds:
            primary[old[k]] = new[new_key]
            every[old[k]].add(new[new_key])
    for k, parts in data["DICT_PROVINCE_WARD_DIVIDED"]["tinhphutho"].items():
        primary[old[k]] = next(new[p["newWardKey"]] for p in parts if p["isDefaultNewWard"])
        every[old[k]] = {new[p["newWardKey"]] for p in parts}
    return primary, every


def test_old_communes_go_to_the_new_communes_of_the_official_conversion(units: list[dict]) -> None:
    primary, every = _official_conversion()
    old = [u for u in units if u["loaiDonVi"] == "UBND_XA" and u["hieuLucDen"] == "2025-06-30"]
    assert len(old) == len(primary) == 479
    split = 0
    for u in old:
        assert u["donViKeThua"], u
        succ = [_resolve(units, c, START) for c in u["donViKeThua"]]
        assert all(s["loaiDonVi"] == "UBND_XA" and s["hieuLucTu"] == "2025-07-01" for s in succ)
        assert succ[0]["maDVHC"] == primary[u["maDVHC"]], u  # the default new commune first
        assert {s["maDVHC"] for s in succ} == every[u["maDVHC"]]
        split += len(succ) > 1
    assert split == 3


def test_identifier_scheme_and_reused_identifiers(units: list[dict]) -> None:
    new_communes = [u for u in units if u["loaiDonVi"] == "UBND_XA" and u["hieuLucTu"] == "2025-07-01"]
    old_by_code = {u["maDinhDanh"]: u for u in units if u["hieuLucTu"] < "2025-07-01"}
    reused = []
    for n in new_communes:
        code = n["maDinhDanh"]
        if code in old_by_code:
            old = old_by_code[code]
            # the new commune took the identifier of its primary predecessor, an old Phú Thọ commune
            assert old["loaiDonVi"] == "UBND_XA" and code.endswith(".H25") and old["donViKeThua"][0] == code
            assert old["maDonVi"] != n["maDonVi"] and old["hieuLucDen"] < n["hieuLucTu"]
            reused.append(code)
        else:
            mm, nn = int(code.split(".")[1]), int(code.split(".")[2])
            assert 1 <= mm <= 99 and 80 <= nn < 99, code
    assert 30 < len(reused) < len(new_communes)
    # the new committee and departments reuse the old Phú Thọ identifiers: different units, same code
    for code in ["000.00.00.H25"] + [f"000.00.{n:02d}.H25" for n, (k, _, _) in enumerate(DEPARTMENTS, 1)
                                     if k not in REORG]:  # fmt: skip
        versions = sorted((u for u in units if u["maDinhDanh"] == code), key=lambda u: u["hieuLucTu"])
        assert versions[-1]["hieuLucTu"] == "2025-07-01" and versions[-2]["hieuLucDen"] == "2025-06-30"
        assert versions[-1]["maDonVi"] != versions[-2]["maDonVi"]
    # on any day, one unit per identifier
    for d in (END, START):
        codes = [u["maDinhDanh"] for u in _valid(units, d)]
        assert len(codes) == len(set(codes))


def test_changes_are_announced_fourteen_days_ahead() -> None:
    s = Simulator(SimConfig(seed=26, province="25"))
    s.clock.set(datetime(2025, 6, 16, 9, tzinfo=TZ))
    early = s.units()
    assert not any(u["hieuLucDen"] == "2025-06-30" or u["hieuLucTu"] == "2025-07-01" for u in early)
    assert all(u["donViKeThua"] == [] for u in early if u["hieuLucDen"] is None)
    s.clock.set(datetime(2025, 6, 17, 9, tzinfo=TZ))
    announced = s.units()
    assert sum(u["hieuLucTu"] == "2025-07-01" for u in announced) == 1 + 15 + 148
    assert sum(u["hieuLucDen"] == "2025-06-30" for u in announced) == len(early) - 30  # absorbed ones ended before


# ---------------------------------------------------------------------------------------------------- daily rows


@pytest.mark.parametrize("d", [date(2025, 2, 28), date(2025, 3, 3), END, START, date(2025, 7, 2), date(2025, 7, 19)])
def test_daily_rows_only_for_units_valid_that_day(sim: Simulator, units: list[dict], d: date) -> None:
    register = UnitRegister(_versions(units))
    valid = {u["maDinhDanh"] for u in _valid(units, d)}
    for system, field in UNIT_FIELD.items():
        rows = sim.rows_between(system, d, d)
        assert rows, system
        seen = {r[field] for r in rows}
        assert seen <= valid, (system, sorted(seen - valid)[:5])
        assert not [r for r in rows if register.problem(r[field], d)]
        if system == "esign":  # each day's file lists every unit
            assert seen == valid
    old_codes = {u["maDinhDanh"] for u in units if u["hieuLucDen"] == "2025-06-30"}
    if d >= START:
        assert not {r["ma_dinh_danh"] for r in sim.esign_rows(d)} & (old_codes - valid)


def test_procedures_after_the_reform_are_province_or_commune_level(sim: Simulator, units: list[dict]) -> None:
    level = {p["maThuTuc"]: p["capThucHien"] for p in sim.procedures()}
    kind = {u["maDinhDanh"]: u["loaiDonVi"] for u in _valid(units, START)}
    seen = Counter()
    for d in (START, date(2025, 7, 2), date(2025, 8, 5)):
        for r in sim.dossier_rows(d):
            seen[(kind[r["maDinhDanh"]], level[r["maThuTuc"]])] += 1
    assert set(seen) == {("UBND_TINH", "TINH"), ("SO_NGANH", "TINH"), ("UBND_XA", "XA")}
    before = Counter(level[r["maThuTuc"]] for r in sim.dossier_rows(date(2025, 6, 27)))
    assert before["HUYEN"] > 0
    codes = {u["maDinhDanh"] for u in units}
    assert all(set(p["donViThucHien"]) <= codes for p in sim.procedures())


def test_stocks_cross_the_reform_under_the_primary_successor(sim: Simulator, units: list[dict]) -> None:
    """An old unit's dossiers still in progress on 30/6 are resolved and counted by its primary successor:
    stock(new, 1/7) = stocks its primary predecessors held on 30/6 + received - resolved on 1/7, per procedure.
    A district committee's (no successor) leave the register with it."""
    primary_of: dict[str, str] = {}
    for u in units:
        if u["hieuLucDen"] == "2025-06-30" and u["donViKeThua"]:
            primary_of[u["maDinhDanh"]] = u["donViKeThua"][0]
    carried = defaultdict(int)
    for r in sim.dossier_rows(END):
        if r["maDinhDanh"] in primary_of:
            carried[(primary_of[r["maDinhDanh"]], r["maThuTuc"])] += stock(r)
    after = {(r["maDinhDanh"], r["maThuTuc"]): r for r in sim.dossier_rows(START)}
    for k in carried.keys() | after.keys():
        r = after.get(k)
        got = stock(r) if r else 0
        assert got == carried[k] + (received(r) - resolved(r) if r else 0), (k, carried[k], r)
    assert sum(carried.values()) > 10_000


# ---------------------------------------------------------------------------------------------------- realism


def _weighted_predecessors(units: list[dict]) -> dict[str, list[tuple[str, float]]]:
    """New commune -> [(old commune, share of it)]: a split commune gives SPLIT_PRIMARY_SHARE to its first."""
    out = defaultdict(list)
    for u in units:
        if u["loaiDonVi"] == "UBND_XA" and u["hieuLucDen"] == "2025-06-30":
            s = u["donViKeThua"]
            shares = [1.0] if len(s) == 1 else [SPLIT_PRIMARY_SHARE] + [(1 - SPLIT_PRIMARY_SHARE) / (len(s) - 1)] * (
                len(s) - 1)  # fmt: skip
            for c, share in zip(s, shares, strict=True):
                out[c].append((u["maDinhDanh"], share))
    return out


def _per_unit(sim: Simulator, days) -> tuple[dict[str, int], dict[str, int]]:
    recv, online = defaultdict(int), defaultdict(int)
    for d in days:
        for r in sim.dossier_rows(d):
            recv[r["maDinhDanh"]] += received(r)
            online[r["maDinhDanh"]] += r["tiepNhanTrucTuyen"]
    return recv, online


def _corr(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def _ranks(xs: list[float]) -> list[int]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0] * len(xs)
    for pos, i in enumerate(order):
        r[i] = pos
    return r


def test_new_units_start_from_their_predecessors(sim: Simulator) -> None:
    """Hidden parameters: a new unit's maturity on its first day is its predecessors' (weighted by the work it
    takes over), its workload their sum, its staff their staff (in their shares)."""
    ents = sim.entities
    first = START.toordinal()
    m = sim.m_trend(first)
    new = [e for e in ents if e.valid_from == START]
    assert len(new) == 1 + 15 + 148
    for e in new:
        assert e.work, e.name
        w = [(ents[i].volume * share, i) for i, share in e.work]
        total = sum(x for x, _ in w)
        assert e.volume == pytest.approx(total)
        assert m[e.idx] == pytest.approx(sum(x * m[i] for x, i in w) / total, abs=1e-9)
        assert m[e.idx] < sim.m_trend(first + 365)[e.idx]  # and keeps improving
    commune = next(e for e in new if e.kind == "UBND_XA" and len(e.work) >= 4)
    assert commune.staff == round(sum(ents[i].staff * share for i, share in commune.work))


def test_new_communes_workload_and_maturity_continue_their_predecessors(sim: Simulator, units: list[dict]) -> None:
    june = [d for d in dates(date(2025, 6, 9), date(2025, 6, 20)) if sim.cal.is_working(d)]
    september = [d for d in dates(date(2025, 9, 8), date(2025, 9, 19)) if sim.cal.is_working(d)]
    before_recv, before_online = _per_unit(sim, june)
    after_recv, after_online = _per_unit(sim, september)
    preds = _weighted_predecessors(units)
    assert len(preds) == 148
    pred_recv, pred_share, new_recv, new_share = [], [], [], []
    for n, olds in sorted(preds.items()):
        r = sum(before_recv[o] * s for o, s in olds)
        on = sum(before_online[o] * s for o, s in olds)
        pred_recv.append(r)
        new_recv.append(after_recv[n])
        if r >= 30 and after_recv[n] >= 30:
            pred_share.append(on / r)
            new_share.append(after_online[n] / after_recv[n])
    # workload: the sum of the predecessors' (split communes share), growing a little
    assert 0.9 < sum(new_recv) / sum(pred_recv) < 1.2
    assert _corr(pred_recv, new_recv) > 0.85
    # maturity: where the predecessors were, not from zero; ranks move (the merger mixes units, some stumble)
    assert len(new_share) > 120
    assert abs(sum(new_share) / len(new_share) - sum(pred_share) / len(pred_share)) < 0.08
    assert min(new_share) > 0.15
    rho = _corr(_ranks(pred_share), _ranks(new_share))
    assert 0.4 < rho < 0.97, rho


def test_tet_dip_and_late_corrections_after_the_reform(sim: Simulator) -> None:
    s = Simulator(SimConfig(seed=26, province="25"))
    s.clock.set(datetime(2026, 4, 1, 8, tzinfo=TZ))
    tet = s.cal.tet(2026)
    holiday = list(dates(tet - timedelta(days=1), tet + timedelta(days=3)))
    normal = [d for d in dates(date(2026, 3, 16), date(2026, 3, 27)) if s.cal.is_working(d)]

    def per_day(ds) -> float:
        return sum(received(r) for d in ds for r in s.dossier_rows(d)) / len(ds)

    assert per_day(holiday) < 0.05 * per_day(normal)
    d = date(2025, 7, 15)
    first = {(r["maDinhDanh"], r["maThuTuc"]): r for r in sim.dossier_rows(d, as_of=datetime(2025, 7, 16, 1,
                                                                                             tzinfo=TZ))}  # fmt: skip
    later = {(r["maDinhDanh"], r["maThuTuc"]): r for r in sim.dossier_rows(d)}
    changed = [k for k in first if k in later and later[k] != first[k]]
    assert len(changed) > 0.03 * len(first) and first.keys() - later.keys()


# ---------------------------------------------------------------------------------------------------- settings


def test_settings_and_simulator_start_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    from chiso.settings import Settings
    from chiso.stack.components import simulator_argv
    from chiso_simulator.server import parser

    for var in ("CHISO_PROVINCE", "CHISO_PROVINCE_ERA", "CHISO_DEMO_START", "CHISO_DEMO_END"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.province == "25" and s.demo_start == date(2025, 1, 1)
    assert s.demo_end == datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date() - timedelta(days=1)
    argv = simulator_argv(s, {})
    assert argv[argv.index("--province") + 1] == "25" and argv[argv.index("--seed") + 1] == str(s.sim_seed)
    args = parser().parse_args(["serve"])
    assert (args.province, args.era) == ("25", "auto")
    monkeypatch.setenv("CHISO_PROVINCE", "26")
    monkeypatch.setenv("CHISO_DEMO_END", "2025-06-30")
    s = Settings()
    assert s.province == "26" and s.demo_end == date(2025, 6, 30)
    assert simulator_argv(s, {})[simulator_argv(s, {}).index("--province") + 1] == "26"
    monkeypatch.setenv("CHISO_PROVINCE", "25")
    monkeypatch.setenv("CHISO_PROVINCE_ERA", "legacy")
    args = parser().parse_args(["serve"])
    assert (args.province, args.era) == ("25", "legacy")
