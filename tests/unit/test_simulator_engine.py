"""The simulated world itself: determinism, register, catalogue, internal consistency, realism."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from vietnamadminunits.database import query

from chiso_simulator import SimConfig, Simulator
from chiso_simulator.engine import TZ, dates

NOW = datetime(2025, 7, 1, 8, 0, tzinfo=TZ)


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(SimConfig(seed=26))
    s.clock.set(NOW)
    return s


def received(r: dict) -> int:
    return r["tiepNhanTrucTuyen"] + r["tiepNhanTrucTiep"] + r["tiepNhanBuuChinh"]


def resolved(r: dict) -> int:
    return r["daXuLyTruocHan"] + r["daXuLyDungHan"] + r["daXuLyQuaHan"]


def stock(r: dict) -> int:
    return r["dangXuLyTrongHan"] + r["dangXuLyQuaHan"]


def test_same_seed_same_data_other_seed_other_data(sim: Simulator) -> None:
    other = Simulator(SimConfig(seed=26))
    other.clock.set(NOW)
    d = date(2024, 5, 14)
    assert other.dossier_rows(d) == sim.dossier_rows(d)
    assert other.edoc_rows(d) == sim.edoc_rows(d)
    assert other.esign_rows(d) == sim.esign_rows(d)
    assert other.procedures() == sim.procedures()
    third = Simulator(SimConfig(seed=27))
    third.clock.set(NOW)
    assert third.dossier_rows(d) != sim.dossier_rows(d)


def test_any_day_alone_equals_day_after_history(sim: Simulator) -> None:
    """Pure functions of the date: computing a day cold gives what computing it after its neighbours gives."""
    cold = Simulator(SimConfig(seed=26))
    cold.clock.set(NOW)
    d = date(2024, 9, 10)
    for x in dates(d - timedelta(days=40), d):
        sim.dossier_rows(x)
    assert cold.dossier_rows(d) == sim.dossier_rows(d)


def test_unit_register_from_the_package(sim: Simulator) -> None:
    units = sim.units()
    first = {}
    for u in units:
        first.setdefault(u["maDinhDanh"], u)
    kinds = defaultdict(list)
    for u in first.values():
        kinds[u["loaiDonVi"]].append(u)
    communes = query("SELECT COUNT(DISTINCT wardCode) n FROM admin_units_legacy WHERE provinceCode = '26'")[0]["n"]
    assert len(kinds["UBND_TINH"]) == 1
    assert len(kinds["SO_NGANH"]) == 20
    assert sorted(u["maDVHC"] for u in kinds["UBND_HUYEN"]) == ["243", "244", "246", "247", "248", "249", "251",
                                                                 "252", "253"]
    assert len(kinds["UBND_XA"]) == communes
    codes = set(first)
    for u in units:
        assert u["maDinhDanh"].endswith(".H26")
        assert u["maDinhDanhCha"] is None or u["maDinhDanhCha"] in codes
        assert u["soCanBo"] > 0
    assert {u["maDinhDanh"] for u in kinds["SO_NGANH"]} >= {"000.00.11.H26", "000.00.03.H26"}
    tttt = [u for u in units if u["maDinhDanh"] == "000.00.11.H26"]
    assert tttt[0]["tenDonVi"] == "Sở Thông tin và Truyền thông" and tttt[0]["hieuLucDen"] == "2025-02-28"
    # versions are keyed (maDinhDanh, hieuLucTu)
    assert len({(u["maDinhDanh"], u["hieuLucTu"]) for u in units}) == len(units)


def test_register_shows_changes_only_when_announced() -> None:
    s = Simulator(SimConfig(seed=26))
    s.clock.set(datetime(2024, 6, 1, tzinfo=TZ))
    assert all(u["hieuLucDen"] is None for u in s.units())
    assert all(u["hieuLucTu"] < "2025-01-01" for u in s.units())


def test_absorbed_units_report_through_their_successor(sim: Simulator) -> None:
    units = sim.units()
    ended = {u["maDinhDanh"] for u in units if u["hieuLucDen"]} - {
        u["maDinhDanh"] for u in units if u["hieuLucDen"] is None}
    assert len(ended) == 5
    after = date(2025, 4, 8)
    for rows, key in ((sim.dossier_rows(after), "maDinhDanh"), (sim.edoc_rows(after), "org_code"),
                      (sim.esign_rows(after), "ma_dinh_danh")):
        assert not ended & {r[key] for r in rows}
    before = date(2025, 2, 11)
    assert ended <= {r["ma_dinh_danh"] for r in sim.esign_rows(before)}


def test_catalogue_levels_modes_and_dates(sim: Simulator) -> None:
    everything = sim.catalogue
    assert len(everything) == 1855
    levels = defaultdict(int)
    for p in everything:
        levels[p.level] += 1
    assert dict(levels) == {"TINH": 1489, "HUYEN": 261, "XA": 105}
    items = sim.procedures()
    assert 1200 < len(items) <= 1855  # announced by now
    assert len({i["maThuTuc"] for i in items}) == len(items)
    share = {m: sum(i["mucDoDVC"] == m for i in items) / len(items) for m in ("TOAN_TRINH", "MOT_PHAN", "KHONG")}
    assert 0.55 < share["TOAN_TRINH"] < 0.75 and 0.05 < share["KHONG"] < 0.2
    cal = sim.cal
    late = sum(cal.wdi(date.fromisoformat(i["ngayHieuLucVanBan"])) - cal.wdi(date.fromisoformat(
        i["ngayQuyetDinhCongBo"])) < 5 for i in items)
    assert 0.1 < late / len(items) < 0.35
    assert all(not i["tichHopThanhToan"] or i["coPhiLePhi"] for i in items)
    assert all(not i["ketNoiDuLieuDanCu"] or i["doiTuongCongDan"] for i in items)
    listed = [i for i in items if i["donViThucHien"]]
    assert 0.05 < len(listed) / len(items) < 0.4
    assert any(i["tenThuTuc"] == "Đăng ký khai sinh" for i in items)


SAMPLE_DAYS = [date(2024, 1, 15), date(2024, 2, 16), date(2024, 5, 4), date(2024, 9, 3), date(2024, 11, 30),
               date(2025, 3, 3), date(2025, 6, 20)]


@pytest.mark.parametrize("d", SAMPLE_DAYS)
def test_dossier_rows_internally_consistent(sim: Simulator, d: date) -> None:
    prev = {(r["maDinhDanh"], r["maThuTuc"]): r for r in sim.dossier_rows(d - timedelta(days=1))}
    rows = sim.dossier_rows(d)
    assert rows == sorted(rows, key=lambda r: (r["maDinhDanh"], r["maThuTuc"]))
    keys = set()
    for r in rows:
        k = (r["maDinhDanh"], r["maThuTuc"])
        assert k not in keys
        keys.add(k)
        assert all(v >= 0 for v in r.values() if isinstance(v, int))
        n, res = received(r), resolved(r)
        assert n + res + stock(r) > 0
        assert r["tiepNhanToanTrinh"] <= r["tiepNhanTrucTuyen"]
        for f in ("dongBoDVCQG", "soHoa", "taiSuDungDuLieu", "luuKhoCaNhan", "suDungDuLieuDanCu",
                  "coNghiaVuTaiChinh"):
            assert r[f] <= n, (f, r)
        assert r["taiSuDungDuLieu"] <= r["soHoa"] or r["soHoa"] < n
        assert r["thanhToanTrucTuyen"] <= r["coNghiaVuTaiChinh"]
        assert r["coKetQuaDienTu"] <= res and r["danhGiaKhongHaiLong"] <= res
        p = prev.get(k)
        # stocks follow flows
        assert stock(r) == (stock(p) if p else 0) + n - res, (k, p, r)
        assert r["thoiDiemCapNhat"] > d.isoformat()
    # keys that vanished from one day to the next had nothing in progress
    for k, p in prev.items():
        if k not in keys:
            assert stock(p) == 0


@pytest.mark.parametrize("d", SAMPLE_DAYS[:4])
def test_petitions_edocs_esign_consistent(sim: Simulator, d: date) -> None:
    prev = {r["maDinhDanh"]: r for r in sim.petition_rows(d - timedelta(days=1))}
    for r in sim.petition_rows(d):
        p = prev.get(r["maDinhDanh"])
        s0 = p["dangXuLyTrongHan"] + p["dangXuLyQuaHan"] if p else 0
        handled = r["daXuLyDungHan"] + r["daXuLyQuaHan"]
        assert r["dangXuLyTrongHan"] + r["dangXuLyQuaHan"] == s0 + r["tiepNhan"] - handled
        assert r["khongHaiLong"] <= handled
    for r in sim.edoc_rows(d):
        assert r["incoming_electronic"] <= r["incoming_total"]
        assert r["outgoing_electronic"] <= r["outgoing_total"]
        assert r["outgoing_signed"] <= r["outgoing_electronic"]
        assert r["outgoing_via_axis"] <= r["outgoing_electronic"]
        assert r["paper_parallel"] <= r["outgoing_total"]
        assert r["work_files_online"] <= r["work_files_total"]
    prev_e = {r["ma_dinh_danh"]: r for r in sim.esign_rows(d - timedelta(days=1))}
    rows = sim.esign_rows(d)
    assert len(rows) == len({u["maDinhDanh"] for u in sim.units() if u["hieuLucTu"] <= d.isoformat()
                             and (u["hieuLucDen"] is None or u["hieuLucDen"] >= d.isoformat())})
    for r in rows:
        p = prev_e[r["ma_dinh_danh"]]
        assert r["personal_certs_active"] == p["personal_certs_active"] + r["personal_certs_issued"] - (
            r["certs_revoked"])
        assert r["org_certs_active"] == p["org_certs_active"] + r["org_certs_issued"]
        assert r["remote_signatures"] <= r["org_signatures"] + r["personal_signatures"]
        assert min(r.values(), key=lambda v: v if isinstance(v, int) else 0) != -1


def _province(sim: Simulator, days) -> dict:
    tot = defaultdict(int)
    for d in days:
        for r in sim.dossier_rows(d):
            tot["received"] += received(r)
            tot["online"] += r["tiepNhanTrucTuyen"]
            tot["resolved"] += resolved(r)
            tot["late"] += r["daXuLyQuaHan"]
            tot["digitised"] += r["soHoa"]
    return tot


def test_volume_moderate_and_weekends_quiet(sim: Simulator) -> None:
    weekdays = [d for d in dates(date(2024, 3, 4), date(2024, 3, 29)) if sim.cal.is_working(d)]
    weekends = [d for d in dates(date(2024, 3, 2), date(2024, 3, 31)) if d.weekday() >= 5]
    rows = [len(sim.dossier_rows(d)) for d in weekdays]
    assert min(rows) >= 1000 and max(rows) <= 3000
    wd = _province(sim, weekdays)["received"] / len(weekdays)
    we = _province(sim, weekends)["received"] / len(weekends)
    assert 2000 < wd < 6000
    assert we < 0.1 * wd
    edoc_wd = sum(r["incoming_total"] for d in weekdays for r in sim.edoc_rows(d)) / len(weekdays)
    edoc_we = sum(r["incoming_total"] for d in weekends for r in sim.edoc_rows(d)) / len(weekends)
    assert edoc_we < 0.1 * edoc_wd


def test_tet_dip(sim: Simulator) -> None:
    tet = sim.cal.tet(2024)  # 10/02/2024; holiday 08..14/02
    holiday = list(dates(tet - timedelta(days=2), tet + timedelta(days=4)))
    after = [d for d in dates(tet + timedelta(days=5), tet + timedelta(days=18)) if sim.cal.is_working(d)]
    normal = [d for d in dates(date(2024, 3, 18), date(2024, 4, 12)) if sim.cal.is_working(d)]
    per_day = lambda ds: _province(sim, ds)["received"] / len(ds)  # noqa: E731
    assert per_day(holiday) < 0.05 * per_day(normal)
    assert per_day(after) < 0.85 * per_day(normal)


def test_improves_over_time(sim: Simulator) -> None:
    early = _province(sim, [d for d in dates(date(2024, 1, 8), date(2024, 1, 26)) if sim.cal.is_working(d)])
    late = _province(sim, [d for d in dates(date(2025, 6, 2), date(2025, 6, 20)) if sim.cal.is_working(d)])
    assert late["online"] / late["received"] > early["online"] / early["received"] + 0.03
    assert late["digitised"] / late["received"] > early["digitised"] / early["received"] + 0.03
    assert late["late"] / late["resolved"] < early["late"] / early["resolved"]


def test_units_differ_widely(sim: Simulator) -> None:
    days = [d for d in dates(date(2024, 4, 1), date(2024, 4, 30)) if sim.cal.is_working(d)]
    signed, out = defaultdict(int), defaultdict(int)
    for d in days:
        for r in sim.edoc_rows(d):
            signed[r["org_code"]] += r["outgoing_signed"]
            out[r["org_code"]] += r["outgoing_total"]
    shares = sorted(signed[k] / out[k] for k in out if out[k] >= 20)
    assert shares[0] < 0.5 and shares[-1] > 0.9


def test_scale_multiplies_volume() -> None:
    big = Simulator(SimConfig(seed=26, scale=10))
    big.clock.set(NOW)
    small = Simulator(SimConfig(seed=26))
    small.clock.set(NOW)
    d = date(2024, 3, 12)
    assert len(big.dossier_rows(d)) > 5 * len(small.dossier_rows(d))
    assert sum(map(received, big.dossier_rows(d))) > 7 * sum(map(received, small.dossier_rows(d)))


def test_late_corrections_change_past_days_with_newer_timestamps(sim: Simulator) -> None:
    d = date(2024, 5, 14)
    t1, t2 = datetime(2024, 5, 15, 2, tzinfo=TZ), datetime(2024, 5, 25, tzinfo=TZ)
    first = {(r["maDinhDanh"], r["maThuTuc"]): r for r in sim.dossier_rows(d, as_of=t1)}
    later = {(r["maDinhDanh"], r["maThuTuc"]): r for r in sim.dossier_rows(d, as_of=t2)}
    changed = [k for k in first if k in later and later[k] != first[k]]
    gone = [k for k in first if k not in later]
    assert len(changed) > 0.03 * len(first)
    assert gone, "some rows disappear (counts became zero)"
    for k in changed:
        assert later[k]["thoiDiemCapNhat"] > first[k]["thoiDiemCapNhat"]
        assert later[k]["thoiDiemCapNhat"] > "2024-05-15"
        # corrections never break the stock identity
        assert stock(later[k]) == stock(first[k]) and resolved(later[k]) == resolved(first[k])
    for k in first.keys() - set(changed) - set(gone):
        assert later[k] == first[k]
    # nothing of a day is served before it is over
    assert sim.dossier_rows(d, as_of=datetime(2024, 5, 14, 23, 59, tzinfo=TZ)) == []


def test_explicit_correction() -> None:
    s = Simulator(SimConfig(seed=26))
    s.clock.set(NOW)
    d = date(2024, 5, 14)
    row = s.dossier_rows(d)[10]
    s.clock.set(NOW + timedelta(hours=1))
    s.correct("dossier", d, row["maDinhDanh"], row["maThuTuc"], {"tiepNhanTrucTuyen": row["tiepNhanTrucTuyen"] + 7})
    new = next(r for r in s.dossier_rows(d) if (r["maDinhDanh"], r["maThuTuc"]) == (row["maDinhDanh"],
                                                                                      row["maThuTuc"]))
    assert new["tiepNhanTrucTuyen"] == row["tiepNhanTrucTuyen"] + 7
    assert new["thoiDiemCapNhat"] > row["thoiDiemCapNhat"]
    s.correct("edoc", d, "000.00.03.H26", delete=True)
    assert "000.00.03.H26" not in {r["org_code"] for r in s.edoc_rows(d)}
    with pytest.raises(ValueError):
        s.correct("dossier", d, row["maDinhDanh"], row["maThuTuc"], {"noSuchField": 1})
    s.reset()
    assert s.dossier_rows(d)[10] == row
