-- The dossier report (rpt_dossier_report) as the dashboards show it: unit and period labels from dim_unit_labels and
-- dim_periods, basis and scope in words, and whether the row is the whole province's.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'basis_label']}, {'columns': ['unit_name']}]) }}

select
    b.basis,
    {{ label_case('basis', 'b.basis') }} as basis_label,
    b.unit_code,
    b.unit_valid_from,
    u.unit_name,
    u.unit_type,
    u.unit_group_label,
    coalesce(u.is_province and (u.next_unit_valid_from is null or u.next_unit_valid_from > b.period_end), false) as is_whole_province,
    b.scope,
    {{ label_case('scope', 'b.scope') }} as scope_label,
    b.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    b.period_start,
    b.period_end,
    b.received_total,
    b.received_online,
    b.received_offline,
    b.carried_over,
    b.resolved_total,
    b.resolved_early,
    b.resolved_on_time,
    b.resolved_late,
    b.in_progress_total,
    b.in_progress_within,
    b.in_progress_overdue
from {{ ref('rpt_dossier_report') }} as b
left join {{ ref('dim_unit_labels') }} as u on b.unit_code = u.unit_code and b.unit_valid_from = u.unit_valid_from
left join {{ ref('dim_periods') }} as p on b.period_type = p.period_type and b.period_start = p.period_start
