-- Every indicator value (fct_indicator_values) as the dashboards show it: names and labels in Vietnamese, the indicator's
-- catalogue row in force at the period's end, its target and whether it is met.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'basis_label']}, {'columns': ['unit_name']}, {'columns': ['indicator_code']}]) }}

select
    f.basis,
    {{ label_case('basis', 'f.basis') }} as basis_label,
    f.indicator_code,
    coalesce(i.name_vi, f.indicator_code) as indicator_name,
    f.framework,
    f.group_code,
    {{ label_case('indicator_group', 'f.group_code') }} as group_label,
    f.unit_code,
    f.unit_valid_from,
    u.unit_name,
    u.unit_type,
    u.unit_group_label,
    coalesce(u.is_province and (u.next_unit_valid_from is null or u.next_unit_valid_from > f.period_end), false) as is_whole_province,
    f.scope,
    {{ label_case('scope', 'f.scope') }} as scope_label,
    f.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    f.period_start,
    f.period_end,
    f.numerator,
    f.denominator,
    f.value,
    f.points,
    f.max_points,
    f.max_points - f.points as points_lost,
    f.is_applicable,
    i.direction,
    case when i.direction = 'lower_is_better' then null
        when i.cap_by_unit_type then t.target else i.cap
    end as target,  -- noqa: RF04
    case when not f.is_applicable or f.value is null then 'Không áp dụng'
        when i.direction = 'lower_is_better' then 'Càng thấp càng tốt'
        when f.value >= coalesce(case when i.cap_by_unit_type then t.target end, i.cap) then 'Đạt'
        else 'Chưa đạt'
    end as target_status
from {{ ref('fct_indicator_values') }} as f
left join {{ ref('dim_unit_labels') }} as u on f.unit_code = u.unit_code and f.unit_valid_from = u.unit_valid_from
left join {{ ref('dim_periods') }} as p on f.period_type = p.period_type and f.period_start = p.period_start
left join lateral (
    select
        c.name_vi,
        c.direction,
        c.cap,
        c.cap_by_unit_type
    from {{ ref('dim_indicators') }} as c
    where c.indicator_code = f.indicator_code and c.valid_from <= f.period_end
    order by c.valid_from desc
    limit 1
) as i on true
left join {{ ref('dim_work_file_targets') }} as t on u.unit_type = t.unit_type
