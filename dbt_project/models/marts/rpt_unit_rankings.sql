-- QD766 and CDS rankings per basis, period, unit group and province (the one the unit's province became): standard competition ranking (1, 2, 2, 4) on score
-- descending. The score is rpt_ranking_scores' (the one home of the weights): the exact sum of the indicators'
-- published points (each rounded to 2 decimals in fct_indicator_values), so two units tie only when their published
-- scores are equal. previous_rank / rank_change against the preceding period of the same type in the same basis.
-- A ranking ranks the units of its group valid on the period's last day (evaluated to date: the last loaded day):
-- historical = the units as they were (so HUYEN exists only for periods ending before 1/7/2025 and a new commune
-- has no rank before it existed); current = today's units, each with its predecessors' figures, so rank changes
-- across the reform are real. A changed period also rewrites the following one, whose rank_change depends on it.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
        pre_hook="set local enable_nestloop = off",
    )
}}

{#- enable_nestloop off: the ranked CTE is estimated at one row (scores x periods x validity filter), and the
    previous-period self-join then ran as a nested loop over ~10^4 x 10^4 rows (7 min on the demo window). -#}
{%- set lookups = [ref('ranking_groups'), ref('stg_one_stop_shop__units'), ref('int_unit_members')] %}

with

affected as (
    {{ affected_periods([ref('rpt_ranking_scores')], lookups) }}
),

targets as (
    select
        p.period_type,
        p.period_start,
        p.period_end,
        p.previous_period_start
    from {{ ref('int_periods') }} as p
    where
        exists (
            select 1 from affected as a
            where
                a.period_type = p.period_type
                and (a.period_start = p.period_start or a.period_start = p.previous_period_start)
        )
),

-- ranks are needed for the targets and for the periods before them
needed as (
    select
        period_type,
        period_start
    from targets
    union
    select
        period_type,
        previous_period_start
    from targets
    where previous_period_start is not null
),

scores as (
    select
        s.ranking_code,
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        s.score
    from {{ ref('rpt_ranking_scores') }} as s
    inner join needed as n on s.period_type = n.period_type and s.period_start = n.period_start
),

ranked as (
    select
        s.ranking_code,
        s.basis,
        s.period_type,
        s.period_start,
        g.unit_group,
        pv.current_province_code as province_code,
        s.unit_code,
        s.unit_valid_from,
        u.unit_name,
        s.score,
        rank() over (
            partition by s.ranking_code, s.basis, s.period_type, s.period_start, g.unit_group, pv.current_province_code
            order by s.score desc
        )::integer as rank,
        count(*) over (
            partition by s.ranking_code, s.basis, s.period_type, s.period_start, g.unit_group, pv.current_province_code
        )::integer as units_ranked
    from scores as s
    inner join {{ ref('int_unit_periods') }} as u
        on
            s.basis = u.basis
            and s.period_type = u.period_type
            and s.period_start = u.period_start
            and s.unit_code = u.unit_code
            and s.unit_valid_from = u.unit_valid_from
    inner join {{ ref('int_periods') }} as p on s.period_type = p.period_type and s.period_start = p.period_start
    inner join {{ ref('ranking_groups') }} as g on u.unit_type = g.unit_type and s.scope = g.scope
    -- within its province (int_unit_provinces.current_province_code): several provinces can share a warehouse
    inner join {{ ref('int_unit_provinces') }} as pv
        on s.unit_code = pv.unit_code and s.unit_valid_from = pv.unit_valid_from
    -- valid on the period's (evaluated) last day
    where u.unit_valid_to is null or u.unit_valid_to >= p.evaluated_to
)

select
    r.basis,
    r.ranking_code,
    r.period_type,
    r.period_start,
    r.unit_group,
    r.province_code,
    r.unit_code,
    r.unit_valid_from,
    t.period_end,
    r.unit_name,
    r.score,
    r.rank,
    r.units_ranked,
    prev.rank as previous_rank,
    prev.rank - r.rank as rank_change,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from ranked as r
inner join targets as t on r.period_type = t.period_type and r.period_start = t.period_start
left join ranked as prev
    on
        r.ranking_code = prev.ranking_code
        and r.basis = prev.basis
        and r.period_type = prev.period_type
        and t.previous_period_start = prev.period_start
        and r.unit_group = prev.unit_group
        and r.unit_code = prev.unit_code
        and r.unit_valid_from = prev.unit_valid_from
