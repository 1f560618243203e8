"""Several provinces of 1/7/2025 served by one set of source systems (scale.md, issue 15): `--province 25,01`
or `all`. A province's rows do not depend on which others are listed; no identifier is shared by two provinces
(reused identifiers and the unknown-unit faults' `000.xx.99.Hpp` included); the register holds every province's
units and the catalogue each procedure's competence over all of them."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime

import pytest
from vietnamadminunits.database import query

from chiso_simulator import SimConfig, Simulator
from chiso_simulator.engine import TZ, NationalSimulator, make_simulator
from chiso_simulator.units import build_entities, province_codes, province_plan

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=TZ)
# across the reform (30/6 -> 1/7/2025) and its late corrections (they land 1-5 days after a day)
WINDOW = (date(2025, 6, 27), date(2025, 7, 3))
SYSTEMS = ("dossier", "petition", "edoc", "esign")
UNIT_FIELD = {"dossier": b'"maDinhDanh":"', "petition": b'"maDinhDanh":"', "edoc": b'"org_code":"',
              "esign": b'"ma_dinh_danh":"'}  # fmt: skip
CODE = re.compile(r"^000\.\d\d\.\d\d\.H(\d\d)$")


def _sim(province: str) -> Simulator:
    s = make_simulator(SimConfig(seed=26, province=province))
    s.clock.set(NOW)
    return s


@pytest.fixture(scope="module")
def pair() -> tuple[Simulator, Simulator, Simulator]:
    """Phú Thọ alone, Hà Nội alone, and the two served together."""
    return _sim("25"), _sim("01"), _sim("25,01")


def _province_of(row: bytes, system: str, olds: dict[str, str]) -> str:
    field = UNIT_FIELD[system]
    i = row.index(field) + len(field)
    return olds[CODE.match(row[i : row.index(b'"', i)].decode()).group(1)]


def test_province_settings() -> None:
    codes = province_codes("all")
    assert len(codes) == 34 and codes == sorted(set(codes))
    assert codes == sorted(r["provinceCode"] for r in query("SELECT DISTINCT provinceCode FROM admin_units"))
    assert province_codes(" 25, 01 ") == ["25", "01"] and province_codes("26") == ["26"]
    for bad in ("25,26", "25,25", "", "25,", "all,25"):  # 26: an old province, inside the new 25
        with pytest.raises(ValueError):
            province_codes(bad)
    assert type(_sim("25")) is Simulator
    assert isinstance(_sim("25,01"), NationalSimulator)


def test_a_province_rows_do_not_depend_on_the_others(pair) -> None:
    """Byte for byte: each province's rows within "25,01" are its rows alone, late corrections included."""
    phu_tho, ha_noi, both = pair
    olds = {o: p.plan.code for p in (phu_tho, ha_noi) for o in p.plan.predecessors}
    for system in SYSTEMS:
        together = both.rows_json(system, *WINDOW)
        split = {"25": [], "01": []}
        for r in together:
            split[_province_of(r, system, olds)].append(r)
        assert split["25"] == phu_tho.rows_json(system, *WINDOW), system
        assert split["01"] == ha_noi.rows_json(system, *WINDOW), system
        assert split["25"] and split["01"]
    assert both.units() == sorted(phu_tho.units() + ha_noi.units(), key=lambda r: (r["maDinhDanh"], r["hieuLucTu"]))


def test_national_catalogue_competence_is_the_union(pair) -> None:
    phu_tho, ha_noi, both = pair
    one = {p["maThuTuc"]: p for p in phu_tho.procedures()}
    other = {p["maThuTuc"]: p for p in ha_noi.procedures()}
    merged = {p["maThuTuc"]: p for p in both.procedures()}
    assert merged.keys() == one.keys() == other.keys()
    named = 0
    for code, p in merged.items():
        assert {k: v for k, v in p.items() if k != "donViThucHien"} == {
            k: v for k, v in one[code].items() if k != "donViThucHien"
        }
        assert set(p["donViThucHien"]) == set(one[code]["donViThucHien"]) | set(other[code]["donViThucHien"])
        named += bool(p["donViThucHien"])
    assert named > 50  # province-level procedures some of whose departments are named


def test_no_identifier_is_shared_by_two_provinces() -> None:
    """All 34: each identifier (old or new, reused or not) belongs to one province; its `.Hpp` is that province's
    code or one of its predecessors'; NN 99 (the unknown-unit faults' `000.xx.99.Hpp`) is nobody's."""
    owner: dict[str, str] = {}
    new_communes = Counter()
    for code in province_codes("all"):
        plan = province_plan(code)
        assert plan.reform and code in plan.predecessors
        for e in build_entities(26, code):
            assert owner.setdefault(e.code, code) == code, (e.code, owner[e.code], code)
            pp = CODE.match(e.code).group(1)
            assert pp in plan.predecessors
            assert e.code.split(".")[2] != "99"
            if e.valid_from == date(2025, 7, 1) and e.kind == "UBND_XA":
                new_communes[code] += 1
    assert sum(new_communes.values()) == query("SELECT count(DISTINCT wardCode) AS n FROM admin_units")[0]["n"]
    assert new_communes["25"] == 148
    olds = [p for c in province_codes("all") for p in province_plan(c).predecessors]
    assert len(olds) == len(set(olds)) == 63


def test_counts_per_province(pair) -> None:
    """The register and a day's rows of "25,01" are the two provinces' own, counted per province."""
    phu_tho, ha_noi, both = pair
    by_prov = Counter(CODE.match(u["maDinhDanh"]).group(1) for u in both.units())
    olds = {o: p.plan.code for p in (phu_tho, ha_noi) for o in p.plan.predecessors}
    per_new = Counter()
    for pp, n in by_prov.items():
        per_new[olds[pp]] += n
    assert per_new == {"25": len(phu_tho.units()), "01": len(ha_noi.units())}
    day = date(2025, 7, 2)
    for system in SYSTEMS:
        assert both.rows_json_page(system, day, day, 0, 0)[0] == (
            len(phu_tho.rows_json(system, day, day)) + len(ha_noi.rows_json(system, day, day))
        )


def test_pages_are_slices_of_the_window(pair) -> None:
    both = pair[2]
    rows = both.rows_json("dossier", *WINDOW)
    for offset, size in ((0, 1000), (len(rows) - 10, 1000), (3333, 777), (len(rows), 1000)):
        total, page = both.rows_json_page("dossier", *WINDOW, offset, size)
        assert total == len(rows) and page == rows[offset : offset + size]


def test_server_serves_a_province_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from chiso_simulator.server import build_state, parser

    args = parser().parse_args(["serve", "--province", "25,01", "--today", "2025-08-01"])
    state = build_state(args)
    assert isinstance(state.sim, NationalSimulator) and state.sim.provinces == ["25", "01"]
    assert state.portal.sim is state.sim.primary  # the 766 index stays the first province's
    assert state.sim.cfg.province == "25"  # names the unknown-unit faults' codes


def test_prefix_hash_is_the_same_draw() -> None:
    """The per-row draws hash their shared prefix once (rng.h64_from): the same numbers as h64 of the whole label."""
    from chiso_simulator.rng import h64, h64_from

    h = h64_from(26, "ts", "dossier", 739000)
    for key in (("000.00.01.H25", "1.000123"), ("000.12.80.H01",)):  # a row key is never empty
        assert h(*key) == h64(26, "ts", "dossier", 739000, *key)
