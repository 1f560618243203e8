"""A small hand-made raw dataset (6 units, 4 procedures, 3 days around a month boundary) and helpers to load
it as chiso_loader and to run dbt against the test warehouse. Expected mart values in test_marts.py are worked
out by hand from these rows."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from datetime import date
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_project"
DBT = REPO / ".venvs" / "dbt" / "bin" / "dbt"
RAW_SCHEMA_SQL = REPO / "src" / "chiso" / "raw" / "schema.sql"

P, S1, S2, D1, X1, X2 = (
    "000.00.00.H26",
    "000.00.01.H26",
    "000.00.02.H26",
    "000.00.10.H26",
    "000.10.11.H26",
    "000.10.12.H26",
)

UNITS = [
    # ma_dinh_danh, ten, loai, cha, so_can_bo, chung_thuc_dien_tu
    (P, "UBND tỉnh Thử Nghiệm", "UBND_TINH", None, 50, False),
    (S1, "Sở Tư pháp", "SO_NGANH", P, 40, False),
    (S2, "Sở Xây dựng", "SO_NGANH", P, 20, False),
    (D1, "UBND huyện Vĩnh Tường", "UBND_HUYEN", P, 30, False),
    (X1, "UBND xã Tân Tiến", "UBND_XA", D1, 10, True),
    (X2, "UBND xã Lũng Hòa", "UBND_XA", D1, 10, False),
]

PROCEDURES = [
    # ma, cap, muc_do, phi, tich_hop_tt, cong_dan, dan_cu, hieu_luc, cong_bo, cong_khai, day_du, don_vi
    ("T1", "TINH", "TOAN_TRINH", True, True, True, True, "2024-01-15", "2024-01-02", "2024-01-05", True, []),
    ("T2", "TINH", "MOT_PHAN", False, False, True, False, "2024-01-05", "2024-01-03", None, False, [S1]),
    ("H1", "HUYEN", "KHONG", True, False, False, False, "2023-06-01", "2023-05-01", "2023-05-02", True, []),
    ("X1P", "XA", "TOAN_TRINH", True, True, True, False, "2024-02-20", "2024-02-01", "2024-02-12", True, []),
]

DOSSIER_COLUMNS = (
    "tiep_nhan_truc_tuyen",
    "tiep_nhan_truc_tiep",
    "tiep_nhan_buu_chinh",
    "tiep_nhan_toan_trinh",
    "da_xu_ly_truoc_han",
    "da_xu_ly_dung_han",
    "da_xu_ly_qua_han",
    "dong_bo_dvcqg",
    "co_ket_qua_dien_tu",
    "so_hoa",
    "tai_su_dung_du_lieu",
    "luu_kho_ca_nhan",
    "su_dung_du_lieu_dan_cu",
    "co_nghia_vu_tai_chinh",
    "thanh_toan_truc_tuyen",
    "danh_gia_khong_hai_long",
    "dang_xu_ly_trong_han",
    "dang_xu_ly_qua_han",
)
# (ngay, unit, procedure) -> counts in DOSSIER_COLUMNS order
#            onl inp post full early ont late sync eres dig reuse pers pop fee paid diss within overdue
DOSSIERS = {
    ("2024-01-31", S1, "T1"): (4, 1, 0, 3, 1, 2, 1, 5, 3, 4, 2, 1, 2, 4, 2, 1, 3, 1),
    ("2024-02-01", S1, "T1"): (2, 0, 0, 2, 0, 1, 0, 2, 1, 2, 1, 1, 1, 2, 1, 0, 2, 1),
    ("2024-02-02", S1, "T2"): (0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0),
    ("2024-02-01", X1, "X1P"): (3, 0, 0, 3, 2, 0, 0, 3, 2, 3, 3, 3, 0, 3, 3, 0, 1, 0),
    ("2024-02-02", X2, "X1P"): (0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0),
}

PETITION_COLUMNS = (
    "tiep_nhan",
    "da_xu_ly_dung_han",
    "da_xu_ly_qua_han",
    "khong_hai_long",
    "dang_xu_ly_trong_han",
    "dang_xu_ly_qua_han",
)
PETITIONS = {
    ("2024-02-01", S1): (3, 1, 1, 1, 1, 0),
    ("2024-02-02", S1): (0, 0, 0, 0, 1, 0),
}

DOCUMENT_COLUMNS = (
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

SIGNATURE_COLUMNS = (
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


def _hash(values: tuple) -> str:
    return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()


def create_raw(conn: psycopg.Connection) -> None:
    conn.execute(RAW_SCHEMA_SQL.read_text())


def new_batch(conn: psycopg.Connection, source: str, entity: str) -> uuid.UUID:
    batch = uuid.uuid4()
    conn.execute(
        "INSERT INTO raw.load_audit (batch_id, source, entity, run_id, status, finished_at)"
        " VALUES (%s, %s, %s, 'test', 'succeeded', now())",
        (batch, source, entity),
    )
    return batch


def insert_dossier(conn, batch, day, unit, procedure, counts, deleted=False) -> None:
    cols = ", ".join(DOSSIER_COLUMNS)
    marks = ", ".join(["%s"] * len(DOSSIER_COLUMNS))
    conn.execute(
        f"INSERT INTO raw.oss_dossier_daily (ngay, ma_dinh_danh, ma_thu_tuc, {cols}, thoi_diem_cap_nhat,"
        f" _batch_id, _row_hash, _is_deleted) VALUES (%s, %s, %s, {marks}, now(), %s, %s, %s)",
        (day, unit, procedure, *counts, batch, _hash((day, unit, procedure, counts, deleted)), deleted),
    )


def _insert_unit_rows(conn, batch, table, date_col, unit_col, columns, rows, extra=None) -> None:
    extra = extra or {}
    cols = ", ".join((date_col, unit_col, *columns, *extra))
    marks = ", ".join(["%s"] * (2 + len(columns) + len(extra)))
    for (day, unit), counts in rows.items():
        conn.execute(
            f"INSERT INTO raw.{table} ({cols}, _batch_id, _row_hash) VALUES ({marks}, %s, %s)",
            (day, unit, *counts, *extra.values(), batch, _hash((day, unit, counts))),
        )


def load_all(conn: psycopg.Connection) -> None:
    batch = new_batch(conn, "one_stop_shop", "units")
    for code, name, kind, parent, staff, ecopy in UNITS:
        conn.execute(
            "INSERT INTO raw.oss_units (ma_don_vi, ma_dinh_danh, ten_don_vi, loai_don_vi, ma_dinh_danh_cha, ma_dvhc,"
            " so_can_bo, co_chung_thuc_dien_tu, hieu_luc_tu, hieu_luc_den, _batch_id, _row_hash)"
            " VALUES (%s, %s, %s, %s, %s, '26', %s, %s, '2020-01-01', NULL, %s, %s)",
            (f"dv-{code[-6:]}", code, name, kind, parent, staff, ecopy, batch, _hash((code, name))),
        )
    batch = new_batch(conn, "one_stop_shop", "procedures")
    for code, level, mode, fee, pay, citizen, pop, eff, ann, pub, full, units in PROCEDURES:
        conn.execute(
            "INSERT INTO raw.oss_procedures (ma_thu_tuc, ten_thu_tuc, linh_vuc, cap_thuc_hien, muc_do_dvc,"
            " co_phi_le_phi, tich_hop_thanh_toan, doi_tuong_cong_dan, ket_noi_du_lieu_dan_cu,"
            " ngay_hieu_luc_van_ban, ngay_quyet_dinh_cong_bo, ngay_cong_khai, noi_dung_day_du, don_vi_thuc_hien,"
            " _batch_id, _row_hash) VALUES (%s, %s, 'Tư pháp', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                code,
                f"Thủ tục {code}",
                level,
                mode,
                fee,
                pay,
                citizen,
                pop,
                eff,
                ann,
                pub,
                full,
                units,
                batch,
                _hash((code, level)),
            ),
        )
    batch = new_batch(conn, "one_stop_shop", "dossier_daily")
    for (day, unit, procedure), counts in DOSSIERS.items():
        insert_dossier(conn, batch, day, unit, procedure, counts)
    batch = new_batch(conn, "one_stop_shop", "petition_daily")
    _insert_unit_rows(conn, batch, "oss_petition_daily", "ngay", "ma_dinh_danh", PETITION_COLUMNS, PETITIONS)
    batch = new_batch(conn, "edoc", "documents_daily")
    _insert_unit_rows(conn, batch, "edoc_documents_daily", "report_date", "org_code", DOCUMENT_COLUMNS, DOCUMENTS)
    batch = new_batch(conn, "esign", "signatures_daily")
    _insert_unit_rows(
        conn,
        batch,
        "esign_signatures_daily",
        "report_date",
        "ma_dinh_danh",
        SIGNATURE_COLUMNS,
        SIGNATURES,
        extra={"source_file": "2024/02/chu_ky_so.csv", "file_version": 1},
    )


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
