-- One row per (basis, indicator, unit, scope, period); a unit is its identifier and validity start. As the portal
-- publishes: `value` exact, each indicator's `points` rounded half-up to 2 decimals (totals add the rounded parts).
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
    )
}}

{%- set lookups = [ref('indicator_catalogue'), ref('work_file_targets')] %}

with

affected as (
    {{ affected_periods([ref('int_indicator_counts')], lookups) }}
),

counts as (
    select
        c.*,
        p.period_end,
        p.evaluated_to
    from {{ ref('int_indicator_counts') }} as c
    inner join affected as a on c.period_type = a.period_type and c.period_start = a.period_start
    inner join {{ ref('int_periods') }} as p on c.period_type = p.period_type and c.period_start = p.period_start
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
        case when cat.cap_by_unit_type then t.target else cat.cap end as cap,
        coalesce(c.composite_applicable, c.denominator > 0) as is_applicable,
        case
            when c.composite_value is not null then c.composite_value
            when c.denominator > 0
                then
                    case
                        when cat.value_ceiling is not null
                            then least(cat.value_ceiling, c.numerator / c.denominator)
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
    round(
        case
            when not is_applicable
                then case when zero_denominator_rule = 'full' then max_points else 0 end
            when direction = 'lower_is_better'
                then max_points * (1 - least(1, greatest(0, ratio)))
            else max_points * least(1, greatest(0, ratio) / cap)
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
