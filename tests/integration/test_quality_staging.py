"""Staging checks that depend on the unit register across the 2025 reform: identifiers are reused, so a daily row
belongs to a unit only if its identifier has a register version valid on the row's day (staging relations built
here as plain tables in schema staging, as chiso_transformer, the role the staging gate reads with)."""

from __future__ import annotations

import os
from datetime import date

import pytest

from chiso.quality import validate

pytestmark = pytest.mark.postgres
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

PROVINCE, DISTRICT, UNKNOWN = "000.00.00.H25", "000.00.12.H26", "000.99.99.H25"
OLD_END, REFORM = date(2025, 6, 30), date(2025, 7, 1)

STAGING_DDL = """
CREATE SCHEMA staging;
CREATE TABLE staging.stg_one_stop_shop__units (unit_code text, valid_from date, valid_to date, staff_count int);
CREATE TABLE staging.stg_one_stop_shop__procedures (procedure_code text);
CREATE TABLE staging.stg_one_stop_shop__dossier_counts (report_date date, unit_code text, procedure_code text,
    received_online int, received_in_person int, received_by_post int, resolved_early int, resolved_on_time int,
    resolved_late int, in_progress_within int, in_progress_overdue int, is_deleted boolean);
"""


def _dossier(day: date, unit: str, deleted: bool = False) -> tuple:
    return (day, unit, "1.001", 2, 1, 0, 1, 1, 0, 1, 0, deleted)


def _add_dossiers(conn, rows: list[tuple]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO staging.stg_one_stop_shop__dossier_counts VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


def _run(wh, tmp_path, run_id):
    return validate(
        "staging",
        warehouse_uri=wh.uri("chiso_loader"),
        read_uri=wh.uri("chiso_transformer"),
        run_id=run_id,
        home=tmp_path,
        build_docs=False,
    )


def test_dossier_rows_belong_to_a_unit_valid_on_their_day(fresh_schema, tmp_path):
    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        conn.execute(STAGING_DDL)
        conn.execute(
            "INSERT INTO staging.stg_one_stop_shop__units VALUES "
            "(%(p)s, '2020-01-01', %(e)s, 50), (%(p)s, %(r)s, NULL, 80), (%(d)s, '2020-01-01', %(e)s, 30)",
            {"p": PROVINCE, "d": DISTRICT, "e": OLD_END, "r": REFORM},
        )
        conn.execute("INSERT INTO staging.stg_one_stop_shop__procedures VALUES ('1.001')")
        # the province's identifier on both sides of the reform (two units), the district up to its last day, and
        # a deleted row of the district after it (tombstones are no data)
        _add_dossiers(
            conn,
            [
                _dossier(OLD_END, PROVINCE),
                _dossier(REFORM, PROVINCE),
                _dossier(OLD_END, DISTRICT),
                _dossier(REFORM, DISTRICT, deleted=True),
            ],
        )
    clean = _run(fresh_schema, tmp_path, "staging-units-clean").result("dossier_unit_in_register")
    assert clean.success and clean.error is None, clean.message_vi

    with fresh_schema.connect("chiso_transformer", autocommit=True) as conn:
        # the district committee after it ended (its identifier exists in the register), and an unknown unit
        _add_dossiers(
            conn,
            [_dossier(REFORM, DISTRICT), _dossier(date(2025, 7, 2), DISTRICT), _dossier(REFORM, UNKNOWN)],
        )
    broken = _run(fresh_schema, tmp_path, "staging-units-broken").result("dossier_unit_in_register")
    assert not broken.success and broken.error is None and broken.severity == "critical"
    by_unit = {s["unit_code"]: s for s in broken.unexpected_sample}
    assert set(by_unit) == {DISTRICT, UNKNOWN}
    assert (by_unit[DISTRICT]["tu_ngay"], by_unit[DISTRICT]["den_ngay"], by_unit[DISTRICT]["so_dong"]) == (
        "2025-07-01",
        "2025-07-02",
        2,
    )
