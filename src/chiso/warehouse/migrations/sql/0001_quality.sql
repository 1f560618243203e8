-- Quality layer: results of every validation, one row per expectation per run. Run as chiso_loader
-- (owner of schema quality). Idempotent.

CREATE TABLE IF NOT EXISTS quality.validation_runs (
    run_id text NOT NULL,
    suite text NOT NULL,
    layer text NOT NULL,
    window_start date,
    window_end date,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    expectations integer NOT NULL,
    failed_critical integer NOT NULL,
    failed_warning integer NOT NULL,
    success boolean NOT NULL,             -- no critical expectation failed
    data_docs_path text,
    PRIMARY KEY (run_id, suite)
);

CREATE TABLE IF NOT EXISTS quality.expectation_results (
    run_id text NOT NULL,
    suite text NOT NULL,
    layer text NOT NULL,
    asset text NOT NULL,
    expectation_name text NOT NULL,
    expectation_type text NOT NULL,
    severity text NOT NULL CHECK (severity IN ('critical', 'warning')),
    mostly double precision,
    success boolean NOT NULL,
    observed_value text,
    element_count bigint,
    unexpected_count bigint,
    unexpected_percent double precision,
    unexpected_sample jsonb,
    description_vi text NOT NULL,
    message_vi text NOT NULL,
    error text,                           -- the check itself could not run
    window_start date,
    window_end date,
    validated_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, suite, expectation_name)
);

CREATE INDEX IF NOT EXISTS expectation_results_time ON quality.expectation_results (validated_at);
CREATE INDEX IF NOT EXISTS expectation_results_name ON quality.expectation_results (suite, expectation_name, validated_at);

-- The newest result of every expectation: what the quality dashboard shows first.
CREATE OR REPLACE VIEW quality.latest_expectation_results AS
SELECT DISTINCT ON (suite, expectation_name) *
FROM quality.expectation_results
ORDER BY suite, expectation_name, validated_at DESC;

-- Thresholds of quality.source_freshness, upserted from expectations/freshness.yml.
CREATE TABLE IF NOT EXISTS quality.freshness_thresholds (
    source text NOT NULL,
    entity text NOT NULL,
    raw_table text,
    date_column text,
    max_load_lag_hours double precision NOT NULL,
    max_data_gap_days integer NOT NULL,
    PRIMARY KEY (source, entity)
);
