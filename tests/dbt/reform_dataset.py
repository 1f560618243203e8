"""A small register across the 2025 reform (reform.md), fed through the source interfaces like dbt_dataset.py:
the one-stop-shop and e-document HTTP apps and the e-signature drop folder serve it (handmade_source.py), the real
extractors load it into raw. Expected mart values in test_dbt_reform.py are worked out by hand from these rows.

The register (province 99, a made-up one):

- the province committee PROV: the old one 2020-01-01..2025-06-30 (donViKeThua [PROV]), the new one from
  2025-07-01 under the same identifier;
- departments: S2 absorbed into S1 on 1/3/2025 (S2 ends 2025-02-28, donViKeThua [S1]; S1 gets a new version the
  same day, staff summed, same unit); S1 ends 2025-06-30 -> S1N, the merged province's department (so S2 -> S1 ->
  S1N, transitively); S3 carries on across the reform unchanged (one version, no end);
- district committee D with its own dossiers, ends 2025-06-30 with donViKeThua [] (no successor);
- old communes under D, ending 2025-06-30: A, B -> X (merged); C -> [C, Z] (split, the primary successor Y takes
  C's identifier); E -> Z;
- new communes X, Y (= C's identifier, from 2025-07-01), Z under the new committee.

Days with data: a few in June and December 2024 (the pre-reform comparison), then 2025-01..2025-09 (last day
2025-09-30, so Q3/2025 is complete). Every commune dossier is on procedure XP (full-online, no fee, citizen,
population data connected) and received online, full-online; the MDSH flows (e-result, digitised, ...) are zero,
so a commune's QD766 total is 28 + DOSSIER_SYNC + TDGQ + E_CERTIFIED_COPY + DOSSIER_SATISFACTION points (see the
test module)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dbt_dataset import DOCUMENT_FIELDS, PETITION_FIELDS, SIGNATURE_FIELDS, dbt  # noqa: F401 - dbt re-exported
from handmade_source import HandMadeSource, Sources

from chiso_simulator.engine import TZ

PORTS = range(5651, 5660)  # loopback ports for this module's source apps (test_dbt_marts uses 5641-5649)

OLD = date(2020, 1, 1)  # start of every pre-reform unit
ABSORBED = date(2025, 3, 1)  # departments reorganised
REFORM = date(2025, 7, 1)  # two-level local government

PROV = "000.00.00.H99"
S1, S2, S3, S1N = "000.00.01.H99", "000.00.02.H99", "000.00.03.H99", "000.00.11.H99"
D = "000.00.41.H99"
A, B, C, E = "000.01.41.H99", "000.02.41.H99", "000.03.41.H99", "000.04.41.H99"
X, Z = "000.01.61.H99", "000.02.61.H99"
Y = C  # the new commune Y reuses its primary predecessor's identifier

END = "2025-06-30"
# One row per register version: identifier, name, type, parent identifier, staff, offers e-certified copies,
# hieuLucTu, hieuLucDen, donViKeThua (primary successor first).
REGISTER = [
    (PROV, "UBND tỉnh Thử Nghiệm", "UBND_TINH", None, 50, False, "2020-01-01", END, [PROV]),
    (PROV, "UBND tỉnh Thử Nghiệm", "UBND_TINH", None, 80, False, "2025-07-01", None, []),
    (S1, "Sở Khoa học và Công nghệ", "SO_NGANH", PROV, 40, False, "2020-01-01", "2025-02-28", []),
    (S1, "Sở Khoa học và Công nghệ", "SO_NGANH", PROV, 60, False, "2025-03-01", END, [S1N]),
    (S2, "Sở Thông tin và Truyền thông", "SO_NGANH", PROV, 20, False, "2020-01-01", "2025-02-28", [S1]),
    (S3, "Thanh tra tỉnh", "SO_NGANH", PROV, 15, False, "2020-01-01", None, []),
    (S1N, "Sở Khoa học và Công nghệ", "SO_NGANH", PROV, 70, False, "2025-07-01", None, []),
    (D, "UBND huyện Vĩnh Tường", "UBND_HUYEN", PROV, 30, False, "2020-01-01", END, []),
    (A, "UBND xã An Tường", "UBND_XA", D, 10, True, "2020-01-01", END, [X]),
    (B, "UBND xã Bình Dương", "UBND_XA", D, 8, False, "2020-01-01", END, [X]),
    (C, "UBND xã Cao Đại", "UBND_XA", D, 12, True, "2020-01-01", END, [Y, Z]),
    (E, "UBND xã Đại Đồng", "UBND_XA", D, 6, False, "2020-01-01", END, [Z]),
    (X, "UBND xã Vĩnh Tường", "UBND_XA", PROV, 18, True, "2025-07-01", None, []),
    (Y, "UBND xã Tân Tiến", "UBND_XA", PROV, 9, True, "2025-07-01", None, []),
    (Z, "UBND xã Lũng Hòa", "UBND_XA", PROV, 9, False, "2025-07-01", None, []),
]


def pre_reform_register() -> list[tuple]:
    """The same province as if no reform had happened: the versions valid at the end of 2024, never ending."""
    return [v[:7] + (None, []) for v in REGISTER if v[6] <= "2024-12-31" and (v[7] is None or v[7] >= "2024-12-31")]


PROCEDURES = [
    # maThuTuc, capThucHien: full-online, no fee, for citizens, connected to population data, announced 2023
    ("TP", "TINH"),
    ("HP", "HUYEN"),
    ("XP", "XA"),
]

# Dossier counts, all received online and full-online; the other flows (e-result, digitised, fees, ...) are 0.
DOSSIER_COUNTS = ("received", "synced", "early", "on_time", "late", "within", "overdue")
DOSSIER_SOURCE_FIELDS = {
    "synced": "dongBoDVCQG",
    "early": "daXuLyTruocHan",
    "on_time": "daXuLyDungHan",
    "late": "daXuLyQuaHan",
    "within": "dangXuLyTrongHan",
    "overdue": "dangXuLyQuaHan",
}


def _held(unit: str, procedure: str, first: str, last: str, within: int = 0, overdue: int = 0) -> dict:
    """Days first..last on which dossiers are only in progress (no flow): the source's row of each day."""
    d, out = date.fromisoformat(first), {}
    while d <= date.fromisoformat(last):
        out[(d.isoformat(), unit, procedure)] = (0, 0, 0, 0, 0, within, overdue)
        d += timedelta(days=1)
    return out


# (ngay, unit, procedure) -> DOSSIER_COUNTS
#                                    recv sync early ontime late within overdue
DOSSIERS_2024 = {
    ("2024-06-10", A, "XP"): (3, 3, 3, 0, 0, 0, 0),
    ("2024-06-10", B, "XP"): (2, 1, 0, 1, 0, 1, 0),
    ("2024-06-11", B, "XP"): (0, 0, 0, 0, 1, 0, 0),
    ("2024-06-11", C, "XP"): (4, 4, 2, 2, 0, 0, 0),
    ("2024-06-11", E, "XP"): (1, 0, 0, 1, 0, 0, 0),
    ("2024-06-10", D, "HP"): (2, 2, 0, 2, 0, 0, 0),
    ("2024-06-10", S1, "TP"): (5, 5, 4, 0, 1, 0, 0),
    ("2024-06-11", S2, "TP"): (3, 2, 0, 3, 0, 0, 0),
    ("2024-06-10", S3, "TP"): (2, 2, 2, 0, 0, 0, 0),
    ("2024-06-11", PROV, "TP"): (1, 1, 1, 0, 0, 0, 0),
    ("2024-12-02", A, "XP"): (2, 2, 2, 0, 0, 0, 0),
    ("2024-12-02", C, "XP"): (3, 1, 0, 2, 1, 0, 0),
    ("2024-12-02", S2, "TP"): (2, 2, 0, 2, 0, 0, 0),
    ("2024-12-31", S1, "TP"): (1, 1, 1, 0, 0, 0, 0),
}

DOSSIERS_2025 = {
    # Q1: the departments around the 1/3 absorption (S2's last day is 28/2)
    ("2025-01-15", S1, "TP"): (3, 3, 3, 0, 0, 0, 0),
    ("2025-03-10", S1, "TP"): (2, 2, 2, 0, 0, 0, 0),
    ("2025-01-16", S2, "TP"): (4, 2, 4, 0, 0, 0, 0),
    ("2025-02-14", S2, "TP"): (2, 1, 0, 2, 0, 0, 0),
    ("2025-01-20", S3, "TP"): (1, 1, 1, 0, 0, 0, 0),
    # Q2: the province committee, departments and the district committee's own dossiers
    ("2025-04-10", PROV, "TP"): (2, 2, 2, 0, 0, 0, 0),
    ("2025-04-10", S1, "TP"): (3, 3, 3, 0, 0, 0, 0),
    ("2025-04-11", S3, "TP"): (2, 1, 2, 0, 0, 0, 0),
    ("2025-05-06", D, "HP"): (3, 0, 0, 3, 0, 0, 0),
    # Q2, commune A: received 4, synced 4, resolved 3 early + 1 on time; 1 within at the end of 31/5
    ("2025-04-14", A, "XP"): (3, 3, 0, 0, 0, 3, 0),
    ("2025-04-15", A, "XP"): (0, 0, 0, 0, 0, 3, 0),
    ("2025-04-16", A, "XP"): (0, 0, 3, 0, 0, 0, 0),
    ("2025-05-29", A, "XP"): (1, 1, 0, 0, 0, 1, 0),
    **_held(A, "XP", "2025-05-30", "2025-06-02", within=1),
    ("2025-06-03", A, "XP"): (0, 0, 0, 1, 0, 0, 0),
    # Q2, commune B: received 6, synced 3, resolved 3 on time + 3 late; 1 within + 1 overdue at the end of 31/5
    ("2025-04-14", B, "XP"): (4, 2, 0, 0, 0, 4, 0),
    ("2025-04-15", B, "XP"): (0, 0, 0, 0, 0, 4, 0),
    ("2025-04-16", B, "XP"): (0, 0, 0, 0, 0, 2, 2),
    ("2025-04-17", B, "XP"): (0, 0, 0, 2, 2, 0, 0),
    ("2025-05-26", B, "XP"): (2, 1, 0, 0, 0, 2, 0),
    **_held(B, "XP", "2025-05-27", "2025-05-28", within=2),
    **_held(B, "XP", "2025-05-29", "2025-06-03", within=1, overdue=1),
    ("2025-06-04", B, "XP"): (0, 0, 0, 1, 1, 0, 0),
    # Q2, commune C: received 5, synced 5, resolved 4 early; 1 overdue at the end of 30/6 (its last day)
    ("2025-04-21", C, "XP"): (4, 4, 0, 0, 0, 4, 0),
    ("2025-04-22", C, "XP"): (0, 0, 4, 0, 0, 0, 0),
    ("2025-06-25", C, "XP"): (1, 1, 0, 0, 0, 1, 0),
    **_held(C, "XP", "2025-06-26", "2025-06-27", within=1),
    **_held(C, "XP", "2025-06-28", "2025-06-30", overdue=1),
    # Q2, commune E: received 2, synced 1, resolved 2 on time
    ("2025-05-12", E, "XP"): (2, 1, 0, 0, 0, 2, 0),
    ("2025-05-13", E, "XP"): (0, 0, 0, 2, 0, 0, 0),
    # Q3: the new province committee and departments
    ("2025-07-10", PROV, "TP"): (1, 1, 1, 0, 0, 0, 0),
    ("2025-07-10", S1N, "TP"): (4, 2, 4, 0, 0, 0, 0),
    ("2025-08-05", S3, "TP"): (1, 1, 1, 0, 0, 0, 0),
    # Q3, commune X: received 5, synced 5, resolved 5 early
    ("2025-07-14", X, "XP"): (5, 5, 0, 0, 0, 5, 0),
    ("2025-07-15", X, "XP"): (0, 0, 0, 0, 0, 5, 0),
    ("2025-07-16", X, "XP"): (0, 0, 5, 0, 0, 0, 0),
    # Q3, commune Y: C's overdue dossier carried on and resolved late; received 4, synced 2, 3 early + 1 late
    ("2025-07-01", Y, "XP"): (0, 0, 0, 0, 0, 0, 1),
    ("2025-07-02", Y, "XP"): (0, 0, 0, 0, 1, 0, 0),
    ("2025-08-11", Y, "XP"): (4, 2, 0, 0, 0, 4, 0),
    ("2025-08-12", Y, "XP"): (0, 0, 0, 0, 0, 3, 1),
    ("2025-08-13", Y, "XP"): (0, 0, 3, 0, 1, 0, 0),
    # Q3, commune Z: received 5, synced 4, resolved 4 early + 1 late
    ("2025-09-15", Z, "XP"): (5, 4, 0, 0, 0, 5, 0),
    ("2025-09-16", Z, "XP"): (0, 0, 0, 0, 0, 4, 1),
    ("2025-09-17", Z, "XP"): (0, 0, 4, 0, 1, 0, 0),
}

PETITIONS_2024 = {
    # tiepNhan, daXuLyDungHan, daXuLyQuaHan, khongHaiLong, dangXuLyTrongHan, dangXuLyQuaHan
    ("2024-06-10", S1): (2, 1, 0, 0, 1, 0),
    ("2024-06-11", S1): (0, 1, 0, 0, 0, 0),
    ("2024-12-02", A): (1, 0, 1, 1, 0, 0),
}

DOCUMENTS_2024 = {
    # incoming total / electronic, outgoing total / electronic / signed / via axis, paper, work files total / online
    ("2024-06-10", S1): (10, 8, 10, 9, 8, 6, 2, 5, 3),
    ("2024-06-10", A): (4, 2, 4, 2, 1, 1, 1, 10, 2),
    ("2024-12-02", C): (3, 3, 5, 5, 4, 4, 0, 4, 1),
}

DOCUMENTS_2025 = {
    ("2025-04-14", A): (0, 0, 4, 4, 4, 4, 0, 2, 1),
    ("2025-04-15", B): (0, 0, 6, 5, 3, 3, 1, 2, 0),
}

SIGNATURES_2024 = {
    # certificates in force: organisation, personal; issued: org, personal; revoked; signatures: org, personal,
    # remote
    ("2024-06-11", S1): (1, 30, 0, 0, 0, 5, 10, 3),
    ("2024-06-11", A): (0, 5, 0, 5, 0, 0, 4, 0),
    ("2024-12-31", S1): (1, 31, 0, 1, 0, 2, 6, 1),
    ("2024-12-31", D): (1, 20, 0, 0, 0, 1, 8, 0),
}

SIGNATURES_2025 = {
    ("2025-06-30", A): (1, 4, 0, 0, 0, 2, 3, 0),
    ("2025-06-30", B): (0, 2, 0, 0, 0, 0, 1, 0),
    ("2025-06-30", S1): (1, 35, 0, 0, 0, 3, 5, 1),
    ("2025-09-30", X): (1, 9, 0, 9, 0, 1, 2, 0),
    ("2025-09-30", Y): (0, 3, 0, 3, 0, 0, 1, 0),
    ("2025-09-30", S1N): (1, 50, 0, 0, 0, 4, 9, 2),
}

FIRST_DAY = date(2024, 6, 1)
LAST_2024, LAST_DAY = date(2024, 12, 31), date(2025, 9, 30)


def _stamp(day: str, hhmm: str) -> str:
    return f"{day}T{hhmm}:00+07:00"


def dossier_record(day: str, unit: str, procedure: str, counts: tuple) -> dict:
    """A `GET /api/v1/thong-ke/ho-so` item: received online and full-online, the given resolutions and stocks."""
    n = dict(zip(DOSSIER_COUNTS, counts, strict=True))
    record = {
        "ngay": day,
        "maDinhDanh": unit,
        "maThuTuc": procedure,
        "tiepNhanTrucTuyen": n["received"],
        "tiepNhanTrucTiep": 0,
        "tiepNhanBuuChinh": 0,
        "tiepNhanToanTrinh": n["received"],
        **{field: n[count] for count, field in DOSSIER_SOURCE_FIELDS.items()},
        "coKetQuaDienTu": 0,
        "soHoa": 0,
        "taiSuDungDuLieu": 0,
        "luuKhoCaNhan": 0,
        "suDungDuLieuDanCu": 0,
        "coNghiaVuTaiChinh": 0,
        "thanhToanTrucTuyen": 0,
        "danhGiaKhongHaiLong": 0,
    }
    return record | {"thoiDiemCapNhat": _stamp(day, "17:30")}


def hand_made_source(reform: bool = True) -> HandMadeSource:
    """The source systems after the last day: with `reform`, the register across the reform and every record;
    without, the register as if nothing had changed and only the 2024 records (a backfill run on 2/1/2025)."""
    register = REGISTER if reform else pre_reform_register()
    units = [
        {
            "maDonVi": f"dv-{code[-9:]}" + ("-moi" if since == REFORM.isoformat() else ""),  # one per unit
            "maDinhDanh": code,
            "tenDonVi": name,
            "loaiDonVi": kind,
            "maDinhDanhCha": parent,
            "maDVHC": "99",
            "soCanBo": staff,
            "coChungThucDienTu": ecopy,
            "hieuLucTu": since,
            "hieuLucDen": until,
            "donViKeThua": successors,
        }
        for code, name, kind, parent, staff, ecopy, since, until, successors in register
    ]
    procedures = [
        {
            "maThuTuc": code,
            "tenThuTuc": f"Thủ tục {code}",
            "linhVuc": "Hộ tịch",
            "capThucHien": level,
            "mucDoDVC": "TOAN_TRINH",
            "coPhiLePhi": False,
            "tichHopThanhToan": False,
            "doiTuongCongDan": True,
            "ketNoiDuLieuDanCu": True,
            "ngayHieuLucVanBan": "2023-03-01",
            "ngayQuyetDinhCongBo": "2023-02-01",
            "ngayCongKhai": "2023-02-03",
            "noiDungDayDu": True,
            "donViThucHien": [],
        }
        for code, level in PROCEDURES
    ]
    now = datetime(2025, 10, 1, 8, 0, tzinfo=TZ) if reform else datetime(2025, 1, 2, 8, 0, tzinfo=TZ)
    source = HandMadeSource(now, units, procedures)
    dossiers = DOSSIERS_2024 | (DOSSIERS_2025 if reform else {})
    documents = DOCUMENTS_2024 | (DOCUMENTS_2025 if reform else {})
    signatures = SIGNATURES_2024 | (SIGNATURES_2025 if reform else {})
    for (day, unit, procedure), counts in dossiers.items():
        source.put("dossier", dossier_record(day, unit, procedure, counts))
    for (day, unit), counts in PETITIONS_2024.items():
        record = {"ngay": day, "maDinhDanh": unit, **dict(zip(PETITION_FIELDS, counts, strict=True))}
        source.put("petition", record | {"thoiDiemCapNhat": _stamp(day, "17:40")})
    for (day, unit), counts in documents.items():
        record = {"report_date": day, "org_code": unit, **dict(zip(DOCUMENT_FIELDS, counts, strict=True))}
        source.put("edoc", record | {"updated_at": _stamp(day, "18:00")})
    for (day, unit), counts in signatures.items():
        source.put(
            "esign", {"report_date": day, "ma_dinh_danh": unit, **dict(zip(SIGNATURE_FIELDS, counts, strict=True))}
        )
    return source


def load_all(sources: Sources, warehouse_uri: str, reform: bool = True) -> None:
    """One extract run over the dataset's days (up to 2024-12-31 without the reform), loaded as chiso_loader."""
    sources.extract(warehouse_uri, FIRST_DAY, LAST_DAY if reform else LAST_2024, run_id="dbt-reform")
