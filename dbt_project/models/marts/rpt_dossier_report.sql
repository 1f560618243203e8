-- Biểu 06/VPCP/KSTT figures per (basis, unit, scope, period), every period type (report_* = Decree 09 windows).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

with

affected as (
    {{ affected_periods([ref('int_dossier_scope_periods')]) }}
)

select
    d.basis,
    d.unit_code,
    d.unit_valid_from,
    d.scope,
    d.period_type,
    d.period_start,
    d.period_end,
    d.received_total,
    d.received_online,
    d.received_offline,
    d.carried_over,
    d.resolved_total,
    d.resolved_early,
    d.resolved_on_time,
    d.resolved_late,
    d.in_progress_total,
    d.in_progress_within,
    d.in_progress_overdue,
    d.evaluated_to,
    {{ run_stamp() }} as _refreshed_at
from {{ ref('int_dossier_scope_periods') }} as d
inner join affected as a on d.period_type = a.period_type and d.period_start = a.period_start
