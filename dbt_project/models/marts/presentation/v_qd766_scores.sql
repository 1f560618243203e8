-- The 766 index per unit and period (rpt_qd766_scores) as the dashboards show it, with unit and period labels.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'basis_label']}, {'columns': ['unit_name']}]) }}

select
    s.basis,
    {{ label_case('basis', 's.basis') }} as basis_label,
    s.unit_code,
    s.unit_valid_from,
    u.unit_name,
    u.unit_type,
    u.unit_group_label,
    coalesce(u.is_province and (u.next_unit_valid_from is null or u.next_unit_valid_from > s.period_end), false) as is_whole_province,
    s.scope,
    {{ label_case('scope', 's.scope') }} as scope_label,
    s.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    s.period_start,
    s.period_end,
    s.ckmb,
    s.tdgq,
    s.clgq,
    s.mdsh,
    s.tttt,
    s.mdhl,
    s.total_points,
    s.band
from {{ ref('rpt_qd766_scores') }} as s
left join {{ ref('dim_unit_labels') }} as u on s.unit_code = u.unit_code and s.unit_valid_from = u.unit_valid_from
left join {{ ref('dim_periods') }} as p on s.period_type = p.period_type and s.period_start = p.period_start
