-- Dossier figures per (basis, period, unit, scope): Biểu 06 columns and the counts of the dossier indicators.
-- Counts are summed over the scope's units first; ratios are taken later (never averaged). Stocks at the end count
-- only the members valid on the row's as_of day (a predecessor that ended before it holds none then).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
        pre_hook="set local enable_nestloop = off",
    )
}}

{#- enable_nestloop off: the sums and the fee-procedure counts (two aggregates over the same inputs) are each
    estimated at a few rows, and their join ran as a nested loop for minutes at 4 provinces; every input is cut
    to the affected periods first, so hash joins are right. -#}

{#- int_unit_members: which units make up a current-basis row changes when the last loaded day crosses a reform -#}
{%- set lookups = [ref('stg_one_stop_shop__units'), ref('stg_one_stop_shop__procedures'), ref('int_unit_members')] %}

with

affected as (
    {{ affected_periods([ref('int_dossier_periods')], lookups) }}
),

scopes as (
    select s.*
    from {{ ref('int_scope_members') }} as s
    inner join affected as a on s.period_type = a.period_type and s.period_start = a.period_start
),

dossiers as (
    select
        d.*,
        d.received_online + d.received_in_person + d.received_by_post as received_total,
        d.resolved_early + d.resolved_on_time + d.resolved_late as resolved_total,
        coalesce(pr.online_service_level = 'TOAN_TRINH', false) as is_full_online_procedure,
        coalesce(pr.is_fee_bearing, false) as is_fee_bearing
    from {{ ref('int_dossier_periods') }} as d
    inner join affected as a on d.period_type = a.period_type and d.period_start = a.period_start
    left join {{ ref('stg_one_stop_shop__procedures') }} as pr on d.procedure_code = pr.procedure_code
),

-- each member's counts summed over its procedures first: the scope join then multiplies ~10^4 unit rows, not
-- ~10^5 (unit, procedure) rows (sums are exact in any order; the fee-procedure counts need the procedures, below)
member_sums as (
    select
        period_type,
        period_start,
        unit_code,
        unit_valid_from,
        sum(received_total) as received_total,
        sum(received_online) as received_online,
        sum(received_in_person + received_by_post) as received_offline,
        sum(received_total) filter (where is_full_online_procedure) as received_on_full_online_procedures,
        sum(received_full_online) filter (where is_full_online_procedure)
            as received_full_online_on_full_online_procedures,
        sum(in_progress_within_start + in_progress_overdue_start) as carried_over,
        sum(resolved_total) as resolved_total,
        sum(resolved_early) as resolved_early,
        sum(resolved_on_time) as resolved_on_time,
        sum(resolved_late) as resolved_late,
        sum(in_progress_within + in_progress_overdue) as in_progress_total,
        sum(in_progress_within) as in_progress_within,
        sum(in_progress_overdue) as in_progress_overdue,
        sum(synced) as synced,
        sum(e_result) as e_result,
        sum(digitized) as digitized,
        sum(reused_data) as reused_data,
        sum(personal_storage) as personal_storage,
        sum(population_data) as population_data,
        sum(fee_due) as fee_due,
        sum(paid_online) as paid_online,
        sum(dissatisfied) as dissatisfied
    from dossiers
    group by period_type, period_start, unit_code, unit_valid_from
),

measures as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        coalesce(sum(d.received_total), 0)::integer as received_total,
        coalesce(sum(d.received_online), 0)::integer as received_online,
        coalesce(sum(d.received_offline), 0)::integer as received_offline,
        coalesce(sum(d.received_on_full_online_procedures), 0)::integer as received_on_full_online_procedures,
        coalesce(sum(d.received_full_online_on_full_online_procedures), 0)::integer
            as received_full_online_on_full_online_procedures,
        coalesce(sum(d.carried_over), 0)::integer as carried_over,
        coalesce(sum(d.resolved_total), 0)::integer as resolved_total,
        coalesce(sum(d.resolved_early), 0)::integer as resolved_early,
        coalesce(sum(d.resolved_on_time), 0)::integer as resolved_on_time,
        coalesce(sum(d.resolved_late), 0)::integer as resolved_late,
        coalesce(sum(d.in_progress_total) filter (where s.member_at_end), 0)::integer as in_progress_total,
        coalesce(sum(d.in_progress_within) filter (where s.member_at_end), 0)::integer as in_progress_within,
        coalesce(sum(d.in_progress_overdue) filter (where s.member_at_end), 0)::integer as in_progress_overdue,
        coalesce(sum(d.synced), 0)::integer as synced,
        coalesce(sum(d.e_result), 0)::integer as e_result,
        coalesce(sum(d.digitized), 0)::integer as digitized,
        coalesce(sum(d.reused_data), 0)::integer as reused_data,
        coalesce(sum(d.personal_storage), 0)::integer as personal_storage,
        coalesce(sum(d.population_data), 0)::integer as population_data,
        coalesce(sum(d.fee_due), 0)::integer as fee_due,
        coalesce(sum(d.paid_online), 0)::integer as paid_online,
        coalesce(sum(d.dissatisfied), 0)::integer as dissatisfied
    from scopes as s
    left join member_sums as d
        on
            s.period_type = d.period_type
            and s.period_start = d.period_start
            and s.member_unit_code = d.unit_code
            and s.member_valid_from = d.unit_valid_from
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope
),

-- distinct over the scope: a procedure handled by two communes of a district counts once. Counted from the
-- (row, procedure) pairs of fee-bearing procedures with dossiers, apart from the sums: a count(distinct) in
-- `measures` sorted every (row, member, procedure) triple (~10^6 per month at 4 provinces, spilling to disk)
-- where the sums alone hash.
fee_procedures as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        d.procedure_code,
        bool_or(d.paid_online > 0) as paid_online
    from scopes as s
    inner join dossiers as d
        on
            s.period_type = d.period_type
            and s.period_start = d.period_start
            and s.member_unit_code = d.unit_code
            and s.member_valid_from = d.unit_valid_from
    where d.is_fee_bearing and d.received_total > 0
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope, d.procedure_code
),

fee_counts as (
    select
        basis,
        period_type,
        period_start,
        unit_code,
        unit_valid_from,
        scope,
        count(*)::integer as fee_procedures_with_dossier,
        count(*) filter (where paid_online)::integer as fee_procedures_paid_online
    from fee_procedures
    group by basis, period_type, period_start, unit_code, unit_valid_from, scope
)

select
    m.*,
    coalesce(f.fee_procedures_with_dossier, 0) as fee_procedures_with_dossier,
    coalesce(f.fee_procedures_paid_online, 0) as fee_procedures_paid_online,
    p.period_end,
    p.evaluated_to,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from measures as m
left join fee_counts as f
    on
        m.basis = f.basis
        and m.period_type = f.period_type
        and m.period_start = f.period_start
        and m.unit_code = f.unit_code
        and m.unit_valid_from = f.unit_valid_from
        and m.scope = f.scope
inner join {{ ref('int_periods') }} as p on m.period_type = p.period_type and m.period_start = p.period_start
