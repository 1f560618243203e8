-- rpt_portal_reconciliation as the reconciliation dashboard shows it: unit (the register's name), indicator, period and
-- reason in words, and why a cell is empty.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label']}]) }}

select
    r.indicator_code,
    case when r.row_kind = 'group' then 'Điểm cả nhóm'
        else coalesce(i.name_vi, r.indicator_code)
    end as indicator_name,
    r.row_kind,
    case r.row_kind when 'group' then 'Điểm nhóm' else 'Chỉ tiêu' end as row_kind_label,
    r.group_code,
    {{ label_case('indicator_group', 'r.group_code') }} as group_label,
    r.unit_code,
    coalesce(u.register_name, r.unit_name, r.portal_department_name || ' (trên Cổng, chưa khớp danh mục)') as unit_name,
    {{ label_case('portal_unit_type', 'u.unit_type', "'Chưa khớp danh mục'") }} as unit_group_label,
    r.scope,
    r.portal_department_code,
    r.portal_department_name,
    r.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    r.period_start,
    r.period_end,
    r.numerator,
    r.denominator,
    r.points,
    r.max_points,
    r.portal_numerator,
    r.portal_denominator,
    r.portal_points,
    r.points_diff,
    abs(r.points_diff) as points_gap,
    r.portal_quality_status,
    r.reason,
    case r.reason
        when 'same' then 'Trùng khớp'
        when 'rounding' then 'Lệch do làm tròn'
        when 'counts_differ' then 'Khác tử số hoặc mẫu số'
        when 'rule_differs' then 'Khác cách tính điểm'
        when 'portal_provisional' then 'Cổng dùng số liệu tạm'
        when 'not_published' then 'Cổng không công bố'
        when 'not_computed' then 'Kho chưa tính'
        when 'unit_not_matched' then 'Đơn vị trên Cổng không có trong danh mục'
        else r.reason
    end as reason_label,
    case when r.reason = 'same' then 1 else 0 end as is_same,
    -- why a cell is empty: what the portal does not publish, said in words beside the empty cell
    concat_ws(
        '; ',
        case when r.row_kind = 'group' then 'Điểm cả nhóm: không có tử số, mẫu số' end,
        case when r.row_kind = 'indicator' and r.portal_points is null and r.portal_numerator is not null
                then 'Cổng chỉ công bố điểm cả nhóm: so tử số, mẫu số'
        end,
        case when r.portal_quality_status is not null then 'Cổng đánh dấu số liệu tạm' end,
        case when r.denominator = 0 then 'Mẫu số bằng 0: chỉ số không áp dụng' end
    ) as note_vi
from {{ ref('rpt_portal_reconciliation') }} as r
left join {{ ref('dim_unit_labels') }} as u on r.unit_code = u.unit_code and r.unit_valid_from = u.unit_valid_from
left join {{ ref('dim_periods') }} as p on r.period_type = p.period_type and r.period_start = p.period_start
left join lateral (
    select c.name_vi from {{ ref('dim_indicators') }} as c
    where c.indicator_code = r.indicator_code and c.valid_from <= r.period_end
    order by c.valid_from desc
    limit 1
) as i on true
