-- Daily facts per (unit_code), incremental: only the dates of raw rows newer than what was consumed
-- (new days and restated lookback days) are deleted and reinserted.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['report_date'],
        indexes=[{'columns': ['report_date']}, {'columns': ['_refreshed_at']}, {'columns': ['source_seq']}],
    )
}}

select
    report_date,
    unit_code,
    org_certs_active,
    personal_certs_active,
    org_certs_issued,
    personal_certs_issued,
    certs_revoked,
    org_signatures,
    personal_signatures,
    remote_signatures,
    is_deleted,
    source_seq,
    {{ run_stamp() }} as _refreshed_at
from {{ ref('stg_esign__signature_counts') }}
{%- if is_incremental() %}
    where report_date in ({{ changed_raw_dates(source('esign', 'esign_signatures_daily'), 'report_date') }})
{%- endif %}
