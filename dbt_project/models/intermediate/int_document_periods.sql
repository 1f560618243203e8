-- E-document counts per unit: every period type, flows summed and stocks at the period's last day (period_rollup macro).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

{{ period_rollup(
    daily=ref('int_document_daily'),
    keys=['unit_code', 'unit_valid_from', 'unit_valid_to'],
    flows=['incoming_total', 'incoming_electronic', 'outgoing_total', 'outgoing_electronic', 'outgoing_signed', 'outgoing_via_axis', 'paper_parallel', 'work_files_total', 'work_files_online'],
    valid_to='unit_valid_to',
    stocks=[],
) }}
