"""A small hand-made dataset (6 units, 4 procedures, 3 days around a month boundary), fed through the source
interfaces: the one-stop-shop and e-document HTTP APIs and the e-signature drop folder serve it (handmade_source.py)
and the real extractors load it into raw as chiso_loader. Also runs dbt against the test warehouse. Expected
mart values in test_dbt_marts.py are worked out by hand from these rows."""

from __future__ import annotations

import os
import subprocess
from datetime import date, datetime
from pathlib import Path

from handmade_source import HandMadeSource, Sources

from chiso_simulator.engine import TZ

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_project"
DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"

FIRST_DAY, LAST_DAY = date(2024, 1, 31), date(2024, 2, 2)
EXTRACTED_AT = datetime(2024, 3, 1, 8, 0, tzinfo=TZ)

P, S1, S2, D1, X1, X2 = (
    "000.00.00.H26",
    "000.00.01.H26",
    "000.00.02.H26",
    "000.00.10.H26",
    "000.10.11.H26",
    "000.10.12.H26",
)

UNITS = [
    # maDinhDanh, tenDonVi, loaiDonVi, maDinhDanhCha, soCanBo, coChungThucDienTu
    (P, "UBND tỉnh Thử Nghiệm", "UBND_TINH", None, 50, False),
    (S1, "Sở Tư pháp", "SO_NGANH", P, 40, False),
    (S2, "Sở Xây dựng", "SO_NGANH", P, 20, False),
    (D1, "UBND huyện Vĩnh Tường", "UBND_HUYEN", P, 30, False),
    (X1, "UBND xã Tân Tiến", "UBND_XA", D1, 10, True),
    (X2, "UBND xã Lũng Hòa", "UBND_XA", D1, 10, False),
]

PROCEDURES = [
    # maThuTuc, cap, mucDo, phi, thanhToan, congDan, danCu, hieuLuc, congBo, congKhai, dayDu, donViThucHien
    ("T1", "TINH", "TOAN_TRINH", True, True, True, True, "2024-01-15", "2024-01-02", "2024-01-05", True, []),
    ("T2", "TINH", "MOT_PHAN", False, False, True, False, "2024-01-05", "2024-01-03", None, False, [S1]),
    ("H1", "HUYEN", "KHONG", True, False, False, False, "2023-06-01", "2023-05-01", "2023-05-02", True, []),
    ("X1P", "XA", "TOAN_TRINH", True, True, True, False, "2024-02-20", "2024-02-01", "2024-02-12", True, []),
]

# Count fields of each feed, named as sources.md names them.
DOSSIER_FIELDS = (
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
    "dangXuLyTrongHan",
    "dangXuLyQuaHan",
)
# (ngay, unit, procedure) -> counts in DOSSIER_FIELDS order
#            onl inp post full early ont late sync eres dig reuse pers pop fee paid diss within overdue
DOSSIERS = {
    ("2024-01-31", S1, "T1"): (4, 1, 0, 3, 1, 2, 1, 5, 3, 4, 2, 1, 2, 4, 2, 1, 3, 1),
    ("2024-02-01", S1, "T1"): (2, 0, 0, 2, 0, 1, 0, 2, 1, 2, 1, 1, 1, 2, 1, 0, 2, 1),
    ("2024-02-02", S1, "T2"): (0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0),
    ("2024-02-01", X1, "X1P"): (3, 0, 0, 3, 2, 0, 0, 3, 2, 3, 3, 3, 0, 3, 3, 0, 1, 0),
    ("2024-02-02", X2, "X1P"): (0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0),
}

PETITION_FIELDS = (
    "tiepNhan",
    "daXuLyDungHan",
    "daXuLyQuaHan",
    "khongHaiLong",
    "dangXuLyTrongHan",
    "dangXuLyQuaHan",
)
PETITIONS = {
    ("2024-02-01", S1): (3, 1, 1, 1, 1, 0),
    ("2024-02-02", S1): (0, 0, 0, 0, 1, 0),
}

DOCUMENT_FIELDS = (
    "incoming_total",
    "incoming_electronic",
    "outgoing_total",
    "outgoing_electronic",
    "outgoing_signed",
    "outgoing_via_axis",
    "paper_parallel",
    "work_files_total",
    "work_files_online",
)
DOCUMENTS = {
    ("2024-02-01", S1): (10, 8, 10, 9, 8, 6, 2, 5, 3),
    ("2024-02-02", S1): (0, 0, 10, 10, 10, 10, 0, 5, 5),
    ("2024-02-01", X1): (4, 2, 4, 2, 1, 1, 1, 10, 2),
}

SIGNATURE_FIELDS = (
    "org_certs_active",
    "personal_certs_active",
    "org_certs_issued",
    "personal_certs_issued",
    "certs_revoked",
    "org_signatures",
    "personal_signatures",
    "remote_signatures",
)
SIGNATURES = {
    ("2024-02-01", S1): (1, 30, 0, 0, 0, 5, 10, 3),
    ("2024-02-02", S1): (1, 30, 0, 0, 0, 5, 10, 3),
    ("2024-02-02", X1): (0, 5, 0, 5, 0, 0, 4, 0),
}


def _stamp(day: str, hhmm: str) -> str:
    return f"{day}T{hhmm}:00+07:00"


def _named(fields: tuple[str, ...], counts: tuple) -> dict[str, int]:
    return dict(zip(fields, counts, strict=True))


def dossier_record(day: str, unit: str, procedure: str, counts: tuple, updated_at: str) -> dict:
    """A `GET /api/v1/thong-ke/ho-so` item."""
    record = {"ngay": day, "maDinhDanh": unit, "maThuTuc": procedure, **_named(DOSSIER_FIELDS, counts)}
    return record | {"thoiDiemCapNhat": updated_at}


def hand_made_source() -> HandMadeSource:
    """The dataset as the source systems hold it after the last day (a backfill run on 1/3/2024, so every
    catalogue date is already known). Daily records last changed at the end of their day."""
    units = [
        {
            "maDonVi": f"dv-{code[-6:]}",
            "maDinhDanh": code,
            "tenDonVi": name,
            "loaiDonVi": kind,
            "maDinhDanhCha": parent,
            "maDVHC": "26",
            "soCanBo": staff,
            "coChungThucDienTu": ecopy,
            "hieuLucTu": "2020-01-01",
            "hieuLucDen": None,
        }
        for code, name, kind, parent, staff, ecopy in UNITS
    ]
    procedures = [
        {
            "maThuTuc": code,
            "tenThuTuc": f"Thủ tục {code}",
            "linhVuc": "Tư pháp",
            "capThucHien": level,
            "mucDoDVC": mode,
            "coPhiLePhi": fee,
            "tichHopThanhToan": pay,
            "doiTuongCongDan": citizen,
            "ketNoiDuLieuDanCu": pop,
            "ngayHieuLucVanBan": eff,
            "ngayQuyetDinhCongBo": ann,
            "ngayCongKhai": pub,
            "noiDungDayDu": full,
            "donViThucHien": competent,
        }
        for code, level, mode, fee, pay, citizen, pop, eff, ann, pub, full, competent in PROCEDURES
    ]
    source = HandMadeSource(EXTRACTED_AT, units, procedures)
    for (day, unit, procedure), counts in DOSSIERS.items():
        source.put("dossier", dossier_record(day, unit, procedure, counts, _stamp(day, "17:30")))
    for (day, unit), counts in PETITIONS.items():
        record = {"ngay": day, "maDinhDanh": unit, **_named(PETITION_FIELDS, counts)}
        source.put("petition", record | {"thoiDiemCapNhat": _stamp(day, "17:40")})
    for (day, unit), counts in DOCUMENTS.items():
        record = {"report_date": day, "org_code": unit, **_named(DOCUMENT_FIELDS, counts)}
        source.put("edoc", record | {"updated_at": _stamp(day, "18:00")})
    for (day, unit), counts in SIGNATURES.items():
        source.put("esign", {"report_date": day, "ma_dinh_danh": unit, **_named(SIGNATURE_FIELDS, counts)})
    return source


def load_all(sources: Sources, warehouse_uri: str) -> None:
    """The first extract run: every source over the dataset's days, loaded as chiso_loader."""
    sources.extract(warehouse_uri, FIRST_DAY, LAST_DAY)


def dbt(args: list[str], *, port: int, password: str, workdir: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run dbt in its venv against the test warehouse; target and logs stay in workdir."""
    env = {
        **os.environ,
        "CHISO_PG_HOST": "127.0.0.1",
        "CHISO_PG_PORT": str(port),
        "CHISO_PG_DB": "chiso",
        "CHISO_DBT_USER": "chiso_transformer",
        "CHISO_DBT_PASSWORD": password,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
    }
    cmd = [str(DBT), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-8000:]}\n{result.stderr[-2000:]}")
    return result


def as_date(s: str) -> date:
    return date.fromisoformat(s)
