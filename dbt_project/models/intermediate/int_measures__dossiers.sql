-- Dossier indicators: numerator and denominator per (basis, period, unit, scope), long form, from the dossier
-- counts summed over the scope (int_dossier_scope_periods). Indicators on a dossier base divide by the catalogue's
-- denominator_basis of the row valid at the period's end (warehouse.md ᵇ: handled = resolved in the period + in
-- progress at its end, received, resolved); a base named in the catalogue wins over an own denominator. A ratio
-- above 1 (received flows over a handled base) stays as counted here; fct_indicator_values clamps it.
{#- enable_nestloop off: the joins to the period-grain inputs are estimated at one row per key and ran as
    nested loops (a full build of the dossier measures: 4.2 s instead of 0.3 s); every input is cut to the
    affected periods first, so hash joins are right. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
        pre_hook="set local enable_nestloop = off",
    )
}}

{%- set lookups = [ref('stg_one_stop_shop__units'), ref('int_unit_members'), ref('indicator_catalogue')] %}
{%- set affected = measure_period_rows(lookups) %}

with

periods as (
    select p.*
    from {{ ref('int_periods') }} as p
    where {{ period_filter(affected, 'p') }}
),

measure_rows as (
    {{ measure_rows(affected) }}
),

dossiers as (
    select
        r.*,
        p.period_end,
        coalesce(d.received_total, 0) as received,
        coalesce(d.resolved_total, 0) as resolved,
        coalesce(d.resolved_total + d.in_progress_total, 0) as handled,
        coalesce(d.resolved_early + d.resolved_on_time, 0) as resolved_in_time,
        coalesce(d.in_progress_within, 0) as in_progress_within,
        coalesce(d.resolved_late + d.in_progress_overdue, 0) as late_or_overdue,
        coalesce(d.received_online, 0) as received_online,
        coalesce(d.received_on_full_online_procedures, 0) as received_on_full_online_procedures,
        coalesce(d.received_full_online_on_full_online_procedures, 0)
            as received_full_online_on_full_online_procedures,
        coalesce(d.synced, 0) as synced,
        coalesce(d.e_result, 0) as e_result,
        coalesce(d.digitized, 0) as digitized,
        coalesce(d.reused_data, 0) as reused_data,
        coalesce(d.personal_storage, 0) as personal_storage,
        coalesce(d.population_data, 0) as population_data,
        coalesce(d.fee_due, 0) as fee_due,
        coalesce(d.paid_online, 0) as paid_online,
        coalesce(d.dissatisfied, 0) as dissatisfied,
        coalesce(d.fee_procedures_with_dossier, 0) as fee_procedures_with_dossier,
        coalesce(d.fee_procedures_paid_online, 0) as fee_procedures_paid_online
    from measure_rows as r
    inner join periods as p on r.period_type = p.period_type and r.period_start = p.period_start
    left join (
        select d.* from {{ ref('int_dossier_scope_periods') }} as d
        where {{ period_filter(affected, 'd') }}
    ) as d
        on
            r.period_type = d.period_type
            and r.period_start = d.period_start
            and r.unit_code = d.unit_code
            and r.basis = d.basis
            and r.unit_valid_from = d.unit_valid_from
            and r.scope = d.scope
),

-- own_denominator: NULL where the indicator divides by a dossier base (from the catalogue, below)
measured as (
    select
        d.*,
        v.indicator_code,
        v.numerator,
        v.own_denominator
    from dossiers as d
    cross join lateral (
        values
        ('QD766.CKMB.DOSSIER_SYNC', d.synced, null::integer),
        ('QD766.TDGQ.ON_TIME', d.resolved_in_time + d.in_progress_within, null),
        (
            'QD766.CLGQ.FULL_ONLINE_DOSSIERS', d.received_full_online_on_full_online_procedures,
            d.received_on_full_online_procedures
        ),
        ('QD766.CLGQ.ONLINE_DOSSIER_SHARE', d.received_online, null),
        ('QD766.MDSH.E_RESULT', d.e_result, null),
        ('QD766.MDSH.DIGITIZED', d.digitized, null),
        ('QD766.MDSH.REUSED_DATA', d.reused_data, null),
        ('QD766.MDSH.PERSONAL_STORAGE', d.personal_storage, null),
        ('QD766.MDSH.POPULATION_DATA_DOSSIER', d.population_data, null),
        ('QD766.TTTT.DOSSIERS_PAID_ONLINE', d.paid_online, d.fee_due),
        ('QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT', d.fee_procedures_paid_online, d.fee_procedures_with_dossier),
        -- composite (below); its base divides the dissatisfied ratings
        ('QD766.MDHL.DOSSIER_SATISFACTION', d.dissatisfied, null)
    ) as v (indicator_code, numerator, own_denominator)
),

based as (
    select
        m.*,
        m.indicator_code = 'QD766.MDHL.DOSSIER_SATISFACTION' as is_composite,
        case cat.denominator_basis
            when 'handled' then m.handled
            when 'received' then m.received
            when 'resolved' then m.resolved
        end as base
    from measured as m
    left join {{ ref('indicator_catalogue') }} as cat
        on
            m.indicator_code = cat.indicator_code
            and m.period_end >= cat.valid_from
            and (cat.valid_to is null or m.period_end <= cat.valid_to)
)

select
    b.basis,
    b.period_type,
    b.period_start,
    b.unit_code,
    b.unit_valid_from,
    b.scope,
    b.unit_type,
    b.indicator_code,
    case when not b.is_composite then b.numerator end::numeric as numerator,
    case when not b.is_composite then coalesce(b.base, b.own_denominator) end::numeric as denominator,
    -- max(0, 1 − (late + overdue at end) / handled − dissatisfied / base), as one exact fraction
    -- (h·b − o·b − s·h) / (h·b); the dissatisfied rate is 0 when the base is
    case
        when b.is_composite and b.handled > 0
            then
                case
                    when b.base > 0
                        then greatest(
                                0,
                                b.handled::numeric * b.base - b.late_or_overdue::numeric * b.base
                                - b.numerator::numeric * b.handled
                            ) / (b.handled::numeric * b.base)
                    else greatest(0, b.handled - b.late_or_overdue)::numeric / b.handled
                end
    end::numeric as composite_value,
    case when b.is_composite then b.handled > 0 end as composite_applicable,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from based as b
