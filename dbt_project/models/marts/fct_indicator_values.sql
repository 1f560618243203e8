-- One row per (basis, indicator, unit, scope, period); a unit is its identifier and validity start. As the portal
-- publishes: `value` exact (not rounded), each indicator's `points` rounded half-up to 2 decimals (totals add the
-- rounded parts). A ratio above 1 is clamped to 1 before scoring; on a dossier base (catalogue denominator_basis:
-- received dossiers over a handled base) `value` is the clamped ratio too, numerator / denominator keep the counts.
-- Max points, cap, zero-denominator rule and direction come from the catalogue seed; the work-file target from
-- work_file_targets by the unit's type.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[
            {'columns': ['period_type', 'period_start']},
            {'columns': ['unit_code']},
            {'columns': ['_refreshed_at']},
        ],
        pre_hook="set local enable_nestloop = off",
    )
}}

{#- The counts are cut by literal (period_type, period_start) pairs (period_filter), which reach each measure table's
    index through the int_indicator_counts view with row estimates from its statistics; enable_nestloop off: the
    catalogue's validity-range join is still estimated at a few rows, and nested loops over it cost 1.5 s of a
    daily run instead of 0.3 s. -#}
{%- set lookups = [ref('indicator_catalogue'), ref('work_file_targets')] %}
{%- set affected = affected_period_rows([ref('int_indicator_counts')], lookups) %}

with

counts as (
    select
        c.*,
        p.period_end,
        p.evaluated_to
    from {{ ref('int_indicator_counts') }} as c
    inner join {{ ref('int_periods') }} as p on c.period_type = p.period_type and c.period_start = p.period_start
    where {{ period_filter(affected, 'c') }}
),

rated as (
    select
        c.*,
        cat.framework,
        cat.group_code,
        cat.max_points,
        cat.zero_denominator_rule,
        cat.direction,
        cat.is_provisional,
        cat.value_ceiling,
        case when cat.cap_by_unit_type then t.target else cat.cap end as cap,
        coalesce(c.composite_applicable, c.denominator > 0) as is_applicable,
        case
            when c.composite_value is not null then c.composite_value
            when c.denominator > 0
                then
                    case
                        when cat.value_ceiling is not null
                            then least(cat.value_ceiling, c.numerator / c.denominator)
                        when cat.denominator_basis is not null then least(1, c.numerator / c.denominator)
                        else c.numerator / c.denominator
                    end
        end as ratio
    from counts as c
    inner join {{ ref('indicator_catalogue') }} as cat
        on
            c.indicator_code = cat.indicator_code
            and c.period_end >= cat.valid_from
            and (cat.valid_to is null or c.period_end <= cat.valid_to)
    left join {{ ref('work_file_targets') }} as t on c.unit_type = t.unit_type
)

select
    basis,
    indicator_code,
    unit_code,
    unit_valid_from,
    scope,
    period_type,
    period_start,
    framework,
    group_code,
    period_end,
    numerator,
    denominator,
    ratio as value,
    -- max × min(1, min(1, ratio) / cap), or max × (1 − min(1, ratio)), rounded half-up to 2 decimals. Computed from
    -- the counts with one division at the end: dividing first rounds the ratio at 20 decimals, and 6 × 167/240 =
    -- 4.175 came out 4.17499… → 4.17 where the portal publishes 4.18.
    round(
        case
            when not is_applicable
                then case when zero_denominator_rule = 'full' then max_points else 0 end
            when composite_value is not null and direction = 'lower_is_better'
                then max_points * (1 - least(1, greatest(0, composite_value)))
            when composite_value is not null
                then max_points * least(cap, greatest(0, composite_value)) / cap
            when direction = 'lower_is_better'
                then max_points * (denominator - least(greatest(0, numerator), denominator)) / denominator
            -- the ratio clamped to 1 (and to the catalogue's value ceiling) before the cap
            else
                max_points * least(greatest(0, numerator), denominator * least(cap, coalesce(value_ceiling, cap)))
                / (denominator * cap)
        end,
        2
    ) as points,
    max_points,
    is_applicable,
    cap,
    is_provisional,
    evaluated_to,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from rated
