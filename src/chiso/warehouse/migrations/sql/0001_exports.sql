-- Submissions to the national reporting system. Run as chiso_loader (owner of schema exports); idempotent.
-- One row per (report, period, reporting unit, revision): the exact document sent under one Idempotency-Key.
-- A revision is created once and its document never changes after it may have reached the receiver.

CREATE TABLE IF NOT EXISTS exports.submissions (
    submission_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_code text NOT NULL,                    -- BIEU_06_TTHC | CHI_SO_CDS
    period_type text NOT NULL,                    -- mart period type (report_month, month, ...)
    period_start date NOT NULL,
    period_end date NOT NULL,
    reporting_unit text NOT NULL,                 -- donViBaoCao.maDinhDanh
    revision integer NOT NULL CHECK (revision >= 1),  -- lanGui
    idempotency_key uuid NOT NULL UNIQUE,         -- uuid5(report, period type, start, unit, revision)
    document jsonb NOT NULL,                      -- as sent (parsed form)
    document_text text NOT NULL,                  -- the exact bytes sent, so retries are byte-identical
    content_hash text NOT NULL,                   -- sha256 of the figures (without lanGui, thoiDiemLap)
    changes jsonb,                                -- figures changed since the previous accepted revision
    status text NOT NULL CHECK (status IN ('pending', 'accepted', 'failed_permanent')),
    receipt text,                                 -- maTiepNhan
    http_status integer,                          -- of the last attempt
    error text,                                   -- Vietnamese, for the operator
    attempts integer NOT NULL DEFAULT 0,
    json_path text,
    xlsx_path text,
    created_run_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    accepted_at timestamptz,
    UNIQUE (report_code, period_type, period_start, reporting_unit, revision)
);

CREATE INDEX IF NOT EXISTS submissions_status_idx ON exports.submissions (status);

CREATE TABLE IF NOT EXISTS exports.submission_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id bigint NOT NULL REFERENCES exports.submissions (submission_id),
    attempt_no integer NOT NULL,
    run_id text,
    idempotency_key uuid NOT NULL,
    content_sha256 text NOT NULL,                 -- of the bytes sent in this attempt
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    http_status integer,                          -- null: no answer (timeout, connection error)
    outcome text NOT NULL CHECK (outcome IN ('accepted', 'already_accepted', 'transient', 'conflict',
                                             'invalid', 'rejected', 'unauthorized', 'not_sent')),
    receipt text,
    retry_after_seconds double precision,
    error text,
    response_body text,
    UNIQUE (submission_id, attempt_no)
);
