"""A small, internally consistent raw layer for the quality tests (4 units, 3 procedures, 10 days), and
helpers to add versions carrying one kind of bad data each."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import psycopg

START, END = date(2024, 1, 1), date(2024, 1, 10)
WINDOW = (START, date(2024, 1, 31))
PROVINCE = "000.00.00.H26"
UNITS = [
    (PROVINCE, "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None, 40),
    ("000.00.01.H26", "Sở Thông tin và Truyền thông", "SO_NGANH", PROVINCE, 35),
    ("000.00.12.H26", "UBND huyện Vĩnh Tường", "UBND_HUYEN", PROVINCE, 60),
    ("000.12.31.H26", "UBND xã Tân Tiến", "UBND_XA", "000.00.12.H26", 20),
]
CODES = [u[0] for u in UNITS]
PROCEDURES = [("1.001", "TINH"), ("1.002", "HUYEN"), ("1.003", "XA")]
DOSSIER_COLS = (
    "ngay, ma_dinh_danh, ma_thu_tuc, tiep_nhan_truc_tuyen, tiep_nhan_truc_tiep, tiep_nhan_buu_chinh, "
    "tiep_nhan_toan_trinh, da_xu_ly_truoc_han, da_xu_ly_dung_han, da_xu_ly_qua_han, dong_bo_dvcqg, "
    "co_ket_qua_dien_tu, so_hoa, tai_su_dung_du_lieu, luu_kho_ca_nhan, su_dung_du_lieu_dan_cu, "
    "co_nghia_vu_tai_chinh, thanh_toan_truc_tuyen, danh_gia_khong_hai_long, dang_xu_ly_trong_han, "
    "dang_xu_ly_qua_han, _batch_id, _row_hash"
)


def days(start: date = START, end: date = END):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


def audit(conn, source: str, entity: str, start: date | None, end: date | None, status: str = "succeeded") -> uuid.UUID:
    b = uuid.uuid4()
    conn.execute(
        "INSERT INTO raw.load_audit (batch_id, source, entity, window_start, window_end, status, finished_at, "
        "rows_received) VALUES (%s, %s, %s, %s, %s, %s, now(), 0)",
        (b, source, entity, start, end, status),
    )
    return b


def dossier_row(day: date, unit: str, proc: str, batch, i: int, prev_stock: int, **over) -> tuple[dict, int]:
    online, direct, post = 3 + i % 4, 1 + i % 2, i % 2
    received = online + direct + post
    early, on_time, late = 1, min(2, prev_stock + received - 1), 0
    stock = prev_stock + received - early - on_time - late
    row = {
        "ngay": day,
        "ma_dinh_danh": unit,
        "ma_thu_tuc": proc,
        "tiep_nhan_truc_tuyen": online,
        "tiep_nhan_truc_tiep": direct,
        "tiep_nhan_buu_chinh": post,
        "tiep_nhan_toan_trinh": online - 1,
        "da_xu_ly_truoc_han": early,
        "da_xu_ly_dung_han": on_time,
        "da_xu_ly_qua_han": late,
        "dong_bo_dvcqg": received - 1,
        "co_ket_qua_dien_tu": early + on_time,
        "so_hoa": received,
        "tai_su_dung_du_lieu": 1,
        "luu_kho_ca_nhan": 1,
        "su_dung_du_lieu_dan_cu": 2,
        "co_nghia_vu_tai_chinh": 2,
        "thanh_toan_truc_tuyen": 1,
        "danh_gia_khong_hai_long": 0,
        "dang_xu_ly_trong_han": stock,
        "dang_xu_ly_qua_han": 0,
        "_batch_id": batch,
        "_row_hash": f"h{i}",
    }
    row.update(over)
    return row, stock


def insert(conn, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(dict.fromkeys(c for r in rows for c in r))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO raw.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
            [tuple(r.get(c) for c in cols) for r in rows],
        )


def load_clean(conn: psycopg.Connection) -> None:
    """Into a warehouse at the migrations' head (fixture fresh_schema)."""
    b = audit(conn, "one_stop_shop", "units", None, None)
    insert(
        conn,
        "oss_units",
        [
            {
                "ma_don_vi": f"DV{i}",
                "ma_dinh_danh": c,
                "ten_don_vi": n,
                "loai_don_vi": t,
                "ma_dinh_danh_cha": p,
                "ma_dvhc": "26",
                "so_can_bo": s,
                "co_chung_thuc_dien_tu": t == "UBND_XA",
                "hieu_luc_tu": date(2020, 1, 1),
                "hieu_luc_den": None,
                "_batch_id": b,
                "_row_hash": f"u{i}",
            }
            for i, (c, n, t, p, s) in enumerate(UNITS)
        ],
    )
    b = audit(conn, "one_stop_shop", "procedures", None, None)
    insert(
        conn,
        "oss_procedures",
        [
            {
                "ma_thu_tuc": c,
                "ten_thu_tuc": f"Thủ tục {c}",
                "cap_thuc_hien": lvl,
                "muc_do_dvc": "TOAN_TRINH",
                "co_phi_le_phi": True,
                "tich_hop_thanh_toan": True,
                "don_vi_thuc_hien": [],
                "_batch_id": b,
                "_row_hash": f"p{c}",
            }
            for c, lvl in PROCEDURES
        ],
    )
    b = audit(conn, "one_stop_shop", "dossier_daily", START, END)
    rows = []
    for k, unit in enumerate(CODES):
        stock = 0
        for i, d in enumerate(days()):
            row, stock = dossier_row(d, unit, PROCEDURES[k % 3][0], b, i + k, stock)
            rows.append(row)
    insert(conn, "oss_dossier_daily", rows)
    b = audit(conn, "one_stop_shop", "petition_daily", START, END)
    rows = []
    for unit in CODES:
        for stock, d in enumerate(days()):
            rows.append(
                {
                    "ngay": d,
                    "ma_dinh_danh": unit,
                    "tiep_nhan": 2,
                    "da_xu_ly_dung_han": 1,
                    "da_xu_ly_qua_han": 0,
                    "khong_hai_long": 0,
                    "dang_xu_ly_trong_han": stock + 1,
                    "dang_xu_ly_qua_han": 0,
                    "_batch_id": b,
                    "_row_hash": "x",
                }
            )
    insert(conn, "oss_petition_daily", rows)
    b = audit(conn, "edoc", "documents_daily", START, END)
    insert(
        conn,
        "edoc_documents_daily",
        [
            {
                "report_date": d,
                "org_code": u,
                "incoming_total": 10,
                "incoming_electronic": 9,
                "outgoing_total": 8,
                "outgoing_electronic": 8,
                "outgoing_signed": 7,
                "outgoing_via_axis": 6,
                "paper_parallel": 1,
                "work_files_total": 5,
                "work_files_online": 4,
                "_batch_id": b,
                "_row_hash": "e",
            }
            for d in days()
            for u in CODES
        ],
    )
    b = audit(conn, "esign", "signatures_daily", START, END)
    insert(conn, "esign_signatures_daily", [esign_row(d, u, b) for d in days() for u in CODES])


def esign_row(d: date, unit: str, batch, **over) -> dict:
    row = {
        "report_date": d,
        "ma_dinh_danh": unit,
        "org_certs_active": 1,
        "personal_certs_active": 12,
        "org_certs_issued": 0,
        "personal_certs_issued": 1,
        "certs_revoked": 0,
        "org_signatures": 5,
        "personal_signatures": 20,
        "remote_signatures": 6,
        "source_file": f"{d:%Y/%m}/chu_ky_so_{d:%Y%m%d}.csv",
        "file_version": 1,
        "_batch_id": batch,
        "_row_hash": "s",
    }
    row.update(over)
    return row
