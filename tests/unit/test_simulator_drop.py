"""The e-signature file drop: byte-level CSV format, markers, and the file faults."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from chiso_simulator import FaultConfig, SimConfig, Simulator, write_esign_drop
from chiso_simulator.engine import ESIGN_COUNTS, TZ
from chiso_simulator.esign_drop import HEADER, encode_cp1258, fmt_int, schedule

NOW = datetime(2024, 6, 20, 9, 0, tzinfo=TZ)
HEADER_LINE = ("Mã định danh;Ngày;Chứng thư tổ chức hiệu lực;Chứng thư cá nhân hiệu lực;Cấp mới tổ chức;"
               "Cấp mới cá nhân;Thu hồi;Lượt ký tổ chức;Lượt ký cá nhân;Lượt ký từ xa")


@pytest.fixture(scope="module")
def sim() -> Simulator:
    s = Simulator(SimConfig(seed=26))
    s.clock.set(NOW)
    return s


def parse_csv(text: str) -> list[dict]:
    lines = text.split("\r\n")
    assert lines[-1] == ""
    out = []
    for line in lines[1:-1]:
        cells = line.split(";")
        d, m, y = cells[1].split("/")
        out.append({"ma_dinh_danh": cells[0], "report_date": f"{y}-{m}-{d}",
                    **{k: int(v.replace(".", "")) for k, v in zip(ESIGN_COUNTS, cells[2:], strict=True)}})
    return out


def test_thousands_separator() -> None:
    assert [fmt_int(x) for x in (0, 999, 1000, 1234567)] == ["0", "999", "1.000", "1.234.567"]


def test_csv_bytes_and_marker(sim: Simulator, tmp_path: Path) -> None:
    written = write_esign_drop(sim, tmp_path, date(2024, 6, 1))
    days = list(range(1, 20))
    for n in days:
        p = tmp_path / f"2024/06/chu_ky_so_202406{n:02d}.csv"
        assert p.exists() and Path(f"{p}.done").exists()
        assert Path(f"{p}.done").stat().st_size == 0
    assert not (tmp_path / "2024/06/chu_ky_so_20240620.csv").exists()  # today is not over
    assert len(written) == 2 * len(days)
    raw = (tmp_path / "2024/06/chu_ky_so_20240614.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8")
    assert text.split("\r\n")[0] == HEADER_LINE == ";".join(HEADER)
    assert "\n" not in text.replace("\r\n", "")
    first = text.split("\r\n")[1].split(";")
    assert first[1] == "14/06/2024" and len(first) == 10
    assert parse_csv(text) == sim.esign_rows(date(2024, 6, 14))
    # idempotent: nothing new to write
    assert write_esign_drop(sim, tmp_path, date(2024, 6, 1)) == []


def test_files_appear_after_the_day_at_night(sim: Simulator, tmp_path: Path) -> None:
    d = date(2024, 6, 10)
    (dl,) = schedule(sim, d)
    assert datetime(2024, 6, 11, 1, tzinfo=TZ) <= dl.at <= datetime(2024, 6, 11, 3, tzinfo=TZ)
    assert write_esign_drop(sim, tmp_path, d, d, now=dl.at - timedelta(seconds=1)) == []
    assert len(write_esign_drop(sim, tmp_path, d, d, now=dl.at)) == 2


def _days_with(sim: Simulator, cfg: FaultConfig, pred, start=date(2024, 1, 1), n=120) -> list[date]:
    return [start + timedelta(days=i) for i in range(n) if pred(schedule(sim, start + timedelta(days=i), cfg))]


@pytest.mark.parametrize("kind", ["late", "partial", "empty", "redelivery", "wrong_encoding", "unknown_unit", "xlsx"])
def test_file_faults_at_their_rate(sim: Simulator, kind: str) -> None:
    cfg = FaultConfig(rates={kind: 0.25}, seed=4)
    hit = _days_with(sim, cfg, lambda s: {
        "late": s[0].at.date() > s[0].day + timedelta(days=1),
        "partial": s[0].done_at > s[0].at,
        "empty": s[0].content == "empty" and len(s) == 2,
        "redelivery": s[0].content == "stale" and len(s) == 2,
        "wrong_encoding": s[0].encoding == "cp1258",
        "unknown_unit": s[0].unknown_units > 0,
        "xlsx": s[0].fmt == "xlsx",
    }[kind], n=200)
    assert 0.15 < len(hit) / 200 < 0.35
    assert _days_with(sim, cfg, lambda s: True, n=5) == _days_with(sim, FaultConfig(rates={kind: 0.25}, seed=4),
                                                                   lambda s: True, n=5)


def test_partial_then_complete(sim: Simulator, tmp_path: Path) -> None:
    cfg = FaultConfig(rates={"partial": 1.0}, seed=1)
    d = date(2024, 6, 3)
    (dl,) = schedule(sim, d, cfg)
    write_esign_drop(sim, tmp_path, d, d, now=dl.at + timedelta(minutes=1), faults=cfg)
    p = tmp_path / dl.relpath
    half = p.read_bytes()
    assert p.exists() and not Path(f"{p}.done").exists()
    write_esign_drop(sim, tmp_path, d, d, now=dl.done_at, faults=cfg)
    full = p.read_bytes()
    assert Path(f"{p}.done").exists() and full.startswith(half) and len(full) > len(half)
    assert parse_csv(full[3:].decode()) == sim.esign_rows(d)


def test_empty_and_stale_are_redelivered_as_v2(sim: Simulator, tmp_path: Path) -> None:
    for kind in ("empty", "redelivery"):
        cfg = FaultConfig(rates={kind: 1.0}, seed=2)
        d = date(2024, 6, 4)
        v1, v2 = schedule(sim, d, cfg)
        folder = tmp_path / kind
        write_esign_drop(sim, folder, d, d, now=v1.at, faults=cfg)
        first = parse_csv((folder / v1.relpath).read_bytes()[3:].decode())
        truth = sim.esign_rows(d)
        if kind == "empty":
            assert first == []
        else:
            assert len(first) == len(truth) and first != truth
            assert all(r["remote_signatures"] <= r["org_signatures"] + r["personal_signatures"] for r in first)
        assert not (folder / v2.relpath).exists()
        write_esign_drop(sim, folder, d, d, now=v2.at, faults=cfg)
        assert v2.name == "chu_ky_so_20240604_v2.csv"
        assert parse_csv((folder / v2.relpath).read_bytes()[3:].decode()) == truth
        assert (folder / v1.relpath).exists()  # earlier versions are kept


def test_wrong_encoding_is_cp1258(sim: Simulator, tmp_path: Path) -> None:
    cfg = FaultConfig(rates={"wrong_encoding": 1.0}, seed=2)
    d = date(2024, 6, 5)
    write_esign_drop(sim, tmp_path, d, d, faults=cfg)
    raw = (tmp_path / "2024/06/chu_ky_so_20240605.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = unicodedata.normalize("NFC", raw.decode("cp1258"))
    assert text.split("\r\n")[0] == HEADER_LINE
    assert parse_csv(text) == sim.esign_rows(d)
    assert unicodedata.normalize("NFC", encode_cp1258("Lượt ký từ xa").decode("cp1258")) == "Lượt ký từ xa"


def test_xlsx_and_unknown_units(sim: Simulator, tmp_path: Path) -> None:
    cfg = FaultConfig(rates={"xlsx": 1.0, "unknown_unit": 1.0}, seed=2)
    d = date(2024, 6, 6)
    write_esign_drop(sim, tmp_path, d, d, faults=cfg)
    p = tmp_path / "2024/06/chu_ky_so_20240606.xlsx"
    assert Path(f"{p}.done").exists()
    ws = load_workbook(p).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    codes = {u["maDinhDanh"] for u in sim.units()}
    known = [r for r in rows[1:] if r[0] in codes]
    assert len(rows) - 1 > len(known)
    assert [{"ma_dinh_danh": r[0], "report_date": r[1].date().isoformat(), **dict(zip(ESIGN_COUNTS, r[2:],
                                                                                       strict=True))}
            for r in known] == sim.esign_rows(d)


def test_explicit_correction_writes_next_version(tmp_path: Path) -> None:
    s = Simulator(SimConfig(seed=26))
    s.clock.set(NOW)
    d = date(2024, 6, 7)
    write_esign_drop(s, tmp_path, d, d)
    s.clock.set(NOW + timedelta(hours=2))
    s.correct("esign", d, "000.00.05.H26", fields={"personal_signatures": 1234})
    write_esign_drop(s, tmp_path, d, d)
    v2 = tmp_path / "2024/06/chu_ky_so_20240607_v2.csv"
    assert Path(f"{v2}.done").exists()
    text = v2.read_bytes()[3:].decode()
    assert ";1.234;" in text
    assert parse_csv(text) == s.esign_rows(d)
