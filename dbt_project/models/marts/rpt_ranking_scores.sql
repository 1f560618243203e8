-- Ranking scores per (basis, ranking_code, unit, scope, period): the one home of the ranking formulas, read from
-- the weights seed. score = exact sum over the ranking's components of multiplier × the indicators' published
-- points (each rounded to 2 decimals in fct_indicator_values; no rounding of the sum): QD766 = the 766 total,
-- CDS = 5 × that total + the EDOC and ESIGN points. max_score = the components' max_score summed (QD766 100; CDS
-- 500 + 300 + 200 = 1000). Every unit and scope with indicator rows gets one, ranked or not: rpt_unit_rankings
-- ranks them; the exporter and dashboards read score and max_score here instead of restating the weights.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
    )
}}

{%- set lookups = [ref('ranking_weights')] %}

with

affected as (
    {{ affected_periods([ref('fct_indicator_values')], lookups) }}
),

ranking_max as (
    select
        ranking_code,
        sum(max_score) as max_score
    from {{ ref('ranking_weights') }}
    group by ranking_code
),

scores as (
    select
        w.ranking_code,
        f.basis,
        f.unit_code,
        f.unit_valid_from,
        f.scope,
        f.period_type,
        f.period_start,
        f.period_end,
        f.evaluated_to,
        sum(w.multiplier * f.points) as score
    from {{ ref('fct_indicator_values') }} as f
    inner join affected as a on f.period_type = a.period_type and f.period_start = a.period_start
    inner join {{ ref('ranking_weights') }} as w
        on w.component_kind = 'framework_total' and f.framework = w.component_code
    group by
        w.ranking_code, f.basis, f.unit_code, f.unit_valid_from, f.scope, f.period_type, f.period_start,
        f.period_end, f.evaluated_to
)

select
    s.basis,
    s.ranking_code,
    s.unit_code,
    s.unit_valid_from,
    s.scope,
    s.period_type,
    s.period_start,
    s.period_end,
    s.score,
    m.max_score,
    s.evaluated_to,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from scores as s
inner join ranking_max as m on s.ranking_code = m.ranking_code
