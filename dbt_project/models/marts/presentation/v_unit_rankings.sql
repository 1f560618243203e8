-- The rankings (rpt_unit_rankings) as the dashboards show them: labels, rank of total and its change in words.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'basis_label']}, {'columns': ['unit_name']}]) }}

select
    r.basis,
    {{ label_case('basis', 'r.basis') }} as basis_label,
    r.ranking_code,
    {{ label_case('ranking', 'r.ranking_code') }} as ranking_label,
    r.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    r.period_start,
    r.period_end,
    r.unit_group,
    {{ label_case('ranking_group', 'r.unit_group') }} as unit_group_label,
    r.unit_code,
    r.unit_valid_from,
    coalesce(u.unit_name, r.unit_name) as unit_name,
    r.score,
    r.rank,
    r.units_ranked,
    r.rank || '/' || r.units_ranked as rank_of_total,
    r.previous_rank,
    r.rank_change,
    case when r.rank_change > 0 then '▲ ' || r.rank_change
        when r.rank_change < 0 then '▼ ' || abs(r.rank_change)
        when r.rank_change = 0 then '= giữ hạng'
        else 'mới xếp hạng'
    end as rank_change_label
from {{ ref('rpt_unit_rankings') }} as r
left join {{ ref('dim_unit_labels') }} as u on r.unit_code = u.unit_code and r.unit_valid_from = u.unit_valid_from
left join {{ ref('dim_periods') }} as p on r.period_type = p.period_type and r.period_start = p.period_start
