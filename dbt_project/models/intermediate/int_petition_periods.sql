-- Petition counts per unit: every period type, flows summed and stocks at the period's last day (period_rollup macro).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

{{ period_rollup(
    daily=ref('int_petition_daily'),
    keys=['unit_code', 'unit_valid_from', 'unit_valid_to'],
    flows=['received', 'handled_on_time', 'handled_late', 'dissatisfied'],
    valid_to='unit_valid_to',
    stocks=['in_progress_within', 'in_progress_overdue'],
) }}
