-- QD766 points per group and total per (basis, unit, scope, period), with the band (inclusive lower bounds). Group
-- totals and the total are exact sums of the indicators' points as published (each rounded to 2 decimals).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

{%- set lookups = [ref('score_bands')] %}

with

affected as (
    {{ affected_periods([ref('fct_indicator_values')], lookups) }}
),

groups as (
    select
        f.basis,
        f.unit_code,
        f.unit_valid_from,
        f.scope,
        f.period_type,
        f.period_start,
        f.period_end,
        f.evaluated_to,
        coalesce(sum(f.points) filter (where f.group_code = 'CKMB'), 0) as ckmb,
        coalesce(sum(f.points) filter (where f.group_code = 'TDGQ'), 0) as tdgq,
        coalesce(sum(f.points) filter (where f.group_code = 'CLGQ'), 0) as clgq,
        coalesce(sum(f.points) filter (where f.group_code = 'MDSH'), 0) as mdsh,
        coalesce(sum(f.points) filter (where f.group_code = 'TTTT'), 0) as tttt,
        coalesce(sum(f.points) filter (where f.group_code = 'MDHL'), 0) as mdhl,
        sum(f.points) as total_points
    from {{ ref('fct_indicator_values') }} as f
    inner join affected as a on f.period_type = a.period_type and f.period_start = a.period_start
    where f.framework = 'QD766'
    group by f.basis, f.unit_code, f.unit_valid_from, f.scope, f.period_type, f.period_start, f.period_end, f.evaluated_to
)

select
    g.basis,
    g.unit_code,
    g.unit_valid_from,
    g.scope,
    g.period_type,
    g.period_start,
    g.period_end,
    g.ckmb,
    g.tdgq,
    g.clgq,
    g.mdsh,
    g.tttt,
    g.mdhl,
    g.total_points,
    band.name_vi as band,
    band.band_code,
    g.evaluated_to,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from groups as g
left join lateral (
    select
        b.name_vi,
        b.band_code
    from {{ ref('score_bands') }} as b
    where b.framework = 'QD766' and b.lower_bound <= g.total_points
    order by b.lower_bound desc
    limit 1
) as band on true
