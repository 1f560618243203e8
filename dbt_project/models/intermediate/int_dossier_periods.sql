-- Dossier counts per unit and procedure: every period type, flows summed and stocks at the period's last day (period_rollup macro).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

{{ period_rollup(
    daily=ref('int_dossier_daily'),
    keys=['unit_code', 'unit_valid_from', 'unit_valid_to', 'procedure_code'],
    flows=['received_online', 'received_in_person', 'received_by_post', 'received_full_online', 'resolved_early', 'resolved_on_time', 'resolved_late', 'synced', 'e_result', 'digitized', 'reused_data', 'personal_storage', 'population_data', 'fee_due', 'paid_online', 'dissatisfied'],
    valid_to='unit_valid_to',
    stocks=['in_progress_within', 'in_progress_overdue'],
) }}
