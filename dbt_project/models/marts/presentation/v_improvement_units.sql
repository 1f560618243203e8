-- The units with a QD766 score in a period (one row per basis, unit and period: the unit and group filters of the
-- dashboard "Cần làm gì để tăng điểm").
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- (Its SQL pushed the dashboard's period and unit down as index conditions; on the table they are plain filters.)
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'unit_name']}, {'columns': ['period_label', 'basis_label']}]) }}

select
    s.basis,
    {{ label_case('basis', 's.basis') }} as basis_label,
    s.unit_code,
    s.unit_valid_from,
    u.unit_name,
    u.unit_type,
    u.unit_group_label,
    s.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    s.period_start,
    s.period_end,
    s.total_points,
    s.band
from {{ ref('rpt_qd766_scores') }} as s
inner join {{ ref('dim_unit_labels') }} as u on s.unit_code = u.unit_code and s.unit_valid_from = u.unit_valid_from and s.scope = u.ranking_scope
inner join {{ ref('dim_periods') }} as p on s.period_type = p.period_type and s.period_start = p.period_start
where s.period_type in ('month', 'quarter', 'year')
