-- Raw layer: append-only, one row per version received. Run as chiso_loader (owner of schema raw).
-- Every entity table carries:
--   _seq        total order of arrival (bigint identity): later = newer
--   _batch_id   the load (raw.load_audit) that brought this version
--   _loaded_at  when it landed
--   _row_hash   sha256 of the business columns; a version is stored only when it differs from the latest
--   _is_deleted tombstone: the source stopped returning this key on a re-read of its window (counts -> 0)
-- Views raw.<entity>_latest give the newest non-deleted version per business key (SELECT *: a column added
-- below by ALTER TABLE comes last in the table and in its view, the same in a new and an upgraded warehouse).

CREATE TABLE IF NOT EXISTS raw.load_audit (
    batch_id uuid PRIMARY KEY,
    source text NOT NULL,                 -- one_stop_shop | edoc | esign
    entity text NOT NULL,                 -- units | procedures | dossier_daily | petition_daily | documents_daily | signatures_daily
    window_start date,
    window_end date,
    run_id text,                          -- Airflow run id or "cli"
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    rows_received integer,
    rows_new_versions integer,
    rows_unchanged integer,
    rows_deleted integer,
    rows_quarantined integer,
    checksum text,                        -- sha256 over the canonical received rows
    error text
);

CREATE TABLE IF NOT EXISTS raw.quarantine (
    quarantine_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id uuid NOT NULL,
    source text NOT NULL,
    entity text NOT NULL,
    record_ref text NOT NULL,             -- e.g. "GET /api/v1/thong-ke/ho-so trang=3 dòng 17" or "2024/05/chu_ky_so_20240514.csv dòng 12"
    field text,
    reason text NOT NULL,                 -- Vietnamese, for the data engineer
    payload jsonb,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS raw.oss_units (
    ma_don_vi text,
    ma_dinh_danh text NOT NULL,
    ten_don_vi text NOT NULL,
    loai_don_vi text NOT NULL,
    ma_dinh_danh_cha text,
    ma_dvhc text,
    so_can_bo integer,
    co_chung_thuc_dien_tu boolean,
    hieu_luc_tu date NOT NULL,
    hieu_luc_den date,
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS raw.oss_procedures (
    ma_thu_tuc text NOT NULL,
    ten_thu_tuc text NOT NULL,
    linh_vuc text,
    cap_thuc_hien text NOT NULL,
    muc_do_dvc text NOT NULL,
    co_phi_le_phi boolean,
    tich_hop_thanh_toan boolean,
    doi_tuong_cong_dan boolean,
    ket_noi_du_lieu_dan_cu boolean,
    ngay_hieu_luc_van_ban date,
    ngay_quyet_dinh_cong_bo date,
    ngay_cong_khai date,
    noi_dung_day_du boolean,
    don_vi_thuc_hien text[] NOT NULL DEFAULT '{}',
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS raw.oss_dossier_daily (
    ngay date NOT NULL,
    ma_dinh_danh text NOT NULL,
    ma_thu_tuc text NOT NULL,
    tiep_nhan_truc_tuyen integer NOT NULL,
    tiep_nhan_truc_tiep integer NOT NULL,
    tiep_nhan_buu_chinh integer NOT NULL,
    tiep_nhan_toan_trinh integer NOT NULL,
    da_xu_ly_truoc_han integer NOT NULL,
    da_xu_ly_dung_han integer NOT NULL,
    da_xu_ly_qua_han integer NOT NULL,
    dong_bo_dvcqg integer NOT NULL,
    co_ket_qua_dien_tu integer NOT NULL,
    so_hoa integer NOT NULL,
    tai_su_dung_du_lieu integer NOT NULL,
    luu_kho_ca_nhan integer NOT NULL,
    su_dung_du_lieu_dan_cu integer NOT NULL,
    co_nghia_vu_tai_chinh integer NOT NULL,
    thanh_toan_truc_tuyen integer NOT NULL,
    danh_gia_khong_hai_long integer NOT NULL,
    dang_xu_ly_trong_han integer NOT NULL,
    dang_xu_ly_qua_han integer NOT NULL,
    thoi_diem_cap_nhat timestamptz,
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS raw.oss_petition_daily (
    ngay date NOT NULL,
    ma_dinh_danh text NOT NULL,
    tiep_nhan integer NOT NULL,
    da_xu_ly_dung_han integer NOT NULL,
    da_xu_ly_qua_han integer NOT NULL,
    khong_hai_long integer NOT NULL,
    dang_xu_ly_trong_han integer NOT NULL,
    dang_xu_ly_qua_han integer NOT NULL,
    thoi_diem_cap_nhat timestamptz,
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS raw.edoc_documents_daily (
    report_date date NOT NULL,
    org_code text NOT NULL,
    incoming_total integer NOT NULL,
    incoming_electronic integer NOT NULL,
    outgoing_total integer NOT NULL,
    outgoing_electronic integer NOT NULL,
    outgoing_signed integer NOT NULL,
    outgoing_via_axis integer NOT NULL,
    paper_parallel integer NOT NULL,
    work_files_total integer NOT NULL,
    work_files_online integer NOT NULL,
    updated_at timestamptz,
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS raw.esign_signatures_daily (
    report_date date NOT NULL,
    ma_dinh_danh text NOT NULL,
    org_certs_active integer NOT NULL,
    personal_certs_active integer NOT NULL,
    org_certs_issued integer NOT NULL,
    personal_certs_issued integer NOT NULL,
    certs_revoked integer NOT NULL,
    org_signatures integer NOT NULL,
    personal_signatures integer NOT NULL,
    remote_signatures integer NOT NULL,
    source_file text NOT NULL,            -- path relative to the drop folder
    file_version integer NOT NULL,        -- 1 for chu_ky_so_YYYYMMDD.csv, n for _vn
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);

-- Files seen in the e-signature drop folder, so a file is read once per content.
CREATE TABLE IF NOT EXISTS raw.esign_files (
    source_file text NOT NULL,
    report_date date NOT NULL,
    file_version integer NOT NULL,
    sha256 text NOT NULL,
    batch_id uuid NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_file, sha256)
);

CREATE INDEX IF NOT EXISTS oss_dossier_daily_key ON raw.oss_dossier_daily (ngay, ma_dinh_danh, ma_thu_tuc, _seq);
CREATE INDEX IF NOT EXISTS oss_dossier_daily_seq ON raw.oss_dossier_daily (_seq);
CREATE INDEX IF NOT EXISTS oss_petition_daily_key ON raw.oss_petition_daily (ngay, ma_dinh_danh, _seq);
CREATE INDEX IF NOT EXISTS oss_petition_daily_seq ON raw.oss_petition_daily (_seq);
CREATE INDEX IF NOT EXISTS edoc_documents_daily_key ON raw.edoc_documents_daily (report_date, org_code, _seq);
CREATE INDEX IF NOT EXISTS edoc_documents_daily_seq ON raw.edoc_documents_daily (_seq);
CREATE INDEX IF NOT EXISTS esign_signatures_daily_key ON raw.esign_signatures_daily (report_date, ma_dinh_danh, _seq);
CREATE INDEX IF NOT EXISTS esign_signatures_daily_seq ON raw.esign_signatures_daily (_seq);
CREATE INDEX IF NOT EXISTS oss_units_key ON raw.oss_units (ma_dinh_danh, hieu_luc_tu, _seq);
CREATE INDEX IF NOT EXISTS oss_procedures_key ON raw.oss_procedures (ma_thu_tuc, _seq);
CREATE INDEX IF NOT EXISTS oss_units_seq ON raw.oss_units (_seq);
CREATE INDEX IF NOT EXISTS oss_procedures_seq ON raw.oss_procedures (_seq);
CREATE INDEX IF NOT EXISTS quarantine_batch ON raw.quarantine (batch_id);
CREATE INDEX IF NOT EXISTS load_audit_entity ON raw.load_audit (source, entity, started_at);

-- Additive refinements (kept as ALTERs so databases created from the first contract upgrade in place).
-- notes: what the loader chose not to do, e.g. tombstones skipped because a bad row had no usable key.
ALTER TABLE raw.load_audit ADD COLUMN IF NOT EXISTS notes text;
-- status: loaded | empty (no data rows: nothing replaced) | rejected (unreadable: see raw.quarantine).
ALTER TABLE raw.esign_files ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'loaded';
ALTER TABLE raw.esign_files ADD COLUMN IF NOT EXISTS rows_read integer;
ALTER TABLE raw.esign_files ADD COLUMN IF NOT EXISTS error text;
-- donViKeThua (reform.md): successors of a unit that ended, primary first; '{}' when it has none (the loader
-- stores '{}' also when a register server from before the reform does not send the field). Versions stored before
-- the column existed read '{}' (or NULL where the column was first added without a default: same meaning). Part
-- of the row hash only when not empty, so those versions keep their hash.
ALTER TABLE raw.oss_units ADD COLUMN IF NOT EXISTS don_vi_ke_thua text[] DEFAULT '{}';
ALTER TABLE raw.oss_units ALTER COLUMN don_vi_ke_thua SET DEFAULT '{}';

CREATE OR REPLACE VIEW raw.oss_units_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (ma_dinh_danh, hieu_luc_tu) * FROM raw.oss_units
    ORDER BY ma_dinh_danh, hieu_luc_tu, _seq DESC
) v WHERE NOT _is_deleted;

CREATE OR REPLACE VIEW raw.oss_procedures_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (ma_thu_tuc) * FROM raw.oss_procedures ORDER BY ma_thu_tuc, _seq DESC
) v WHERE NOT _is_deleted;

CREATE OR REPLACE VIEW raw.oss_dossier_daily_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (ngay, ma_dinh_danh, ma_thu_tuc) * FROM raw.oss_dossier_daily
    ORDER BY ngay, ma_dinh_danh, ma_thu_tuc, _seq DESC
) v WHERE NOT _is_deleted;

CREATE OR REPLACE VIEW raw.oss_petition_daily_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (ngay, ma_dinh_danh) * FROM raw.oss_petition_daily
    ORDER BY ngay, ma_dinh_danh, _seq DESC
) v WHERE NOT _is_deleted;

CREATE OR REPLACE VIEW raw.edoc_documents_daily_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (report_date, org_code) * FROM raw.edoc_documents_daily
    ORDER BY report_date, org_code, _seq DESC
) v WHERE NOT _is_deleted;

-- The highest file version of a day wins; within a version, the newest arrival.
CREATE OR REPLACE VIEW raw.esign_signatures_daily_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (report_date, ma_dinh_danh) * FROM raw.esign_signatures_daily
    ORDER BY report_date, ma_dinh_danh, file_version DESC, _seq DESC
) v WHERE NOT _is_deleted;

-- The national portal's published 766 index (sources.md §5): one row per (period, group, metric, portal unit) per
-- version, as extract/national_portal.py flattens the six groups. A batch re-reads one published period (its scope,
-- recorded in load_audit.scope): a period recomputed after publication stores new versions, identical figures add
-- nothing, a unit the portal stopped listing for that period gets a tombstone.
CREATE TABLE IF NOT EXISTS raw.portal_indicator_scores (
    period_type text NOT NULL,            -- month | quarter | year (the portal's timeType)
    period_start date NOT NULL,
    period_end date NOT NULL,
    group_code text NOT NULL,             -- the portal's group: transparency, dvc-progress-tree, ...
    metric_code text NOT NULL,            -- the portal's metric code, "<numerator>/<denominator>" field names, or totalScore
    department_id text NOT NULL,          -- the portal's unit id (the same in every group)
    department_code text,                 -- the portal's unit code (not sent by every group)
    department_name text NOT NULL,
    department_level text,                -- PROVINCE | COMMUNE
    department_type text,
    is_root boolean NOT NULL,             -- the province's own row (rootDepartmentId)
    numerator integer,
    denominator integer,
    ratio numeric,                        -- the portal's percentage, as published
    score numeric,                        -- points as published (2 decimals); NULL where the portal shows none
    max_score numeric,
    data_quality_status text,             -- e.g. TEMP_NATIONAL_REPORT_DENOMINATOR: the portal flags its own figure
    data_quality_message text,
    _seq bigint GENERATED ALWAYS AS IDENTITY,
    _batch_id uuid NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    _row_hash text NOT NULL,
    _is_deleted boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS portal_indicator_scores_key
    ON raw.portal_indicator_scores (period_type, period_start, group_code, metric_code, department_id, _seq);
CREATE INDEX IF NOT EXISTS portal_indicator_scores_seq ON raw.portal_indicator_scores (_seq);
-- The values of the entity's scope columns a batch re-read (the portal: {"period_type", "period_start"}).
ALTER TABLE raw.load_audit ADD COLUMN IF NOT EXISTS scope jsonb;

CREATE OR REPLACE VIEW raw.portal_indicator_scores_latest AS
SELECT * FROM (
    SELECT DISTINCT ON (period_type, period_start, group_code, metric_code, department_id) *
    FROM raw.portal_indicator_scores
    ORDER BY period_type, period_start, group_code, metric_code, department_id, _seq DESC
) v WHERE NOT _is_deleted;
