-- rpt_unit_improvement at the unit's ranking scope, with the same indicator of the period before (dashboard
-- "Cần làm gì để tăng điểm").
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- (Its SQL pushed the dashboard's period and unit down as index conditions; on the table they are plain filters.)
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'unit_name']}, {'columns': ['period_label', 'basis_label']}]) }}

select
    i.basis,
    {{ label_case('basis', 'i.basis') }} as basis_label,
    i.unit_code,
    i.unit_valid_from,
    u.unit_name,
    u.unit_group_label,
    i.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    i.period_start,
    i.period_end,
    i.indicator_code,
    coalesce(i.indicator_name_vi, i.indicator_code) as indicator_name,
    i.framework,
    {{ label_case('indicator_group', 'i.group_code') }} as group_label,
    i.numerator,
    i.denominator,
    i.points,
    i.max_points,
    i.points_lost,
    i.count_needed_for_full,
    i.item_action,
    case
        when i.max_points = 0 then 'Không tính điểm'
        when i.count_needed_for_full is null then '—'
        when i.count_needed_for_full = 0 then 'Đã đạt điểm tối đa'
        else case i.item_action when 'remove' then 'Giảm bớt ' else 'Tăng thêm ' end
            || case when i.count_is_minimum then 'ít nhất ' else '' end
            || replace(to_char(i.count_needed_for_full, 'FM999,999,999,990'), ',', '.') || ': ' || coalesce(i.item_vi, '')
    end as todo_vi,
    -- an item that cannot raise the points (not applicable, scored 0 by its rule) is worth 0
    coalesce(i.points_per_item, 0) as points_per_item,
    i.items_per_point,
    coalesce(i.note_vi, '') as note_vi,
    i.total_points,
    i.band,
    case when i.next_band is null then 'Đã ở mức xếp loại cao nhất'
        else i.next_band || ' (từ ' || i.next_band_lower_bound || ' điểm): cần thêm '
            || replace(to_char(i.points_to_next_band, 'FM999990.00'), '.', ',') || ' điểm'
    end as next_band_text,
    i.points_to_next_band,
    case when i.rank is null then 'Không xếp hạng'
        when i.points_to_next_rank is null then i.rank || '/' || i.units_ranked || ': đứng đầu nhóm'
        else i.rank || '/' || i.units_ranked || ': cần thêm '
            || replace(to_char(i.points_to_next_rank, 'FM999990.00'), '.', ',')
            || ' điểm để bằng đơn vị hạng ' || i.rank_above
    end as rank_text,
    i.points_to_next_rank,
    case when i.cds_rank is null then 'Không xếp hạng'
        when i.cds_points_to_next_rank is null then i.cds_rank || '/' || i.cds_units_ranked || ': đứng đầu nhóm'
        else i.cds_rank || '/' || i.cds_units_ranked || ': cần thêm '
            || replace(to_char(i.cds_points_to_next_rank, 'FM999990.00'), '.', ',')
            || ' điểm để bằng đơn vị hạng ' || i.cds_rank_above
    end as cds_rank_text,
    i.cds_points_to_next_rank,
    case when v.total_points is null then 'Không có số liệu kỳ trước'
        else pp.label_vi || ': ' || replace(to_char(v.total_points, 'FM999990.00'), '.', ',') || ' điểm ('
            || replace(to_char(i.total_points - v.total_points, 'FMS999990.00'), '.', ',') || ')'
    end
        as previous_total_text,
    pp.label_vi as previous_period_label,
    v.points as previous_points,
    i.points - v.points as points_change,
    case
        when v.max_points = 0 then 'Không tính điểm'
        when v.count_needed_for_full is null then '—'
        when v.count_needed_for_full = 0 then 'Đã đạt điểm tối đa'
        else case v.item_action when 'remove' then 'Giảm bớt ' else 'Tăng thêm ' end
            || case when v.count_is_minimum then 'ít nhất ' else '' end
            || replace(to_char(v.count_needed_for_full, 'FM999,999,999,990'), ',', '.') || ': ' || coalesce(v.item_vi, '')
    end as previous_todo_vi,
    v.total_points as previous_total_points
from {{ ref('rpt_unit_improvement') }} as i
inner join {{ ref('dim_unit_labels') }} as u on i.unit_code = u.unit_code and i.unit_valid_from = u.unit_valid_from and i.scope = u.ranking_scope
inner join {{ ref('dim_periods') }} as p on i.period_type = p.period_type and i.period_start = p.period_start
left join {{ ref('dim_periods') }} as pp on i.period_type = pp.period_type and pp.period_end = i.period_start - 1
-- the previous period's rows, cut to the same period types first: hashing every row of the mart (all period types)
-- spilled to disk at 4 provinces
left join (
    select * from {{ ref('rpt_unit_improvement') }}
    where period_type in ('month', 'quarter', 'year')
) as v
    on i.basis = v.basis and i.unit_code = v.unit_code
        and i.unit_valid_from = v.unit_valid_from and i.scope = v.scope and i.period_type = v.period_type
        and pp.period_start = v.period_start and i.indicator_code = v.indicator_code
where i.period_type in ('month', 'quarter', 'year')
