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
    incoming_total,
    incoming_electronic,
    outgoing_total,
    outgoing_electronic,
    outgoing_signed,
    outgoing_via_axis,
    paper_parallel,
    work_files_total,
    work_files_online,
    is_deleted,
    source_seq,
    {{ run_stamp() }} as _refreshed_at
from {{ ref('stg_edoc__document_counts') }}
{%- if is_incremental() %}
    where report_date in ({{ changed_raw_dates(source('edoc', 'edoc_documents_daily'), 'report_date') }})
{%- endif %}
