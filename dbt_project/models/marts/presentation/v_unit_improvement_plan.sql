-- rpt_unit_improvement_plan at the unit's ranking scope: the steps to the next QD766 band, cheapest first (dashboard
-- "Cần làm gì để tăng điểm").
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
-- (Its SQL pushed the dashboard's period and unit down as index conditions; on the table they are plain filters.)
-- Indexed on what the dashboards filter by: the period (with the basis), the unit.
{{ config(indexes=[{'columns': ['period_label', 'unit_name']}, {'columns': ['period_label', 'basis_label']}]) }}

select
    pl.basis,
    {{ label_case('basis', 'pl.basis') }} as basis_label,
    pl.unit_code,
    pl.unit_valid_from,
    u.unit_name,
    u.unit_group_label,
    pl.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    pl.period_start,
    pl.period_end,
    pl.step,
    pl.step::text as step_label,
    pl.indicator_code,
    coalesce(pl.indicator_name_vi, pl.indicator_code) as indicator_name,
    case pl.item_action when 'remove' then 'Giảm bớt ' else 'Tăng thêm ' end
    || replace(to_char(pl.items, 'FM999,999,999,990'), ',', '.') || ': ' || coalesce(pl.item_vi, '')
        as todo_vi,
    pl.items,
    pl.count_needed_for_full,
    case when pl.is_partial then 'Một phần: vừa đủ lên xếp loại' else 'Đạt điểm tối đa chỉ số' end as step_kind,
    pl.points_gained,
    pl.cumulative_points,
    pl.total_points,
    pl.total_after,
    pl.band,
    pl.next_band,
    pl.next_band_lower_bound,
    pl.points_to_next_band,
    case when pl.reaches_band then 'Đạt ' || pl.next_band else 'Chưa đạt ' || pl.next_band end as reaches_band_label,
    pl.items_per_point
from {{ ref('rpt_unit_improvement_plan') }} as pl
inner join {{ ref('dim_unit_labels') }} as u on pl.unit_code = u.unit_code and pl.unit_valid_from = u.unit_valid_from and pl.scope = u.ranking_scope
inner join {{ ref('dim_periods') }} as p on pl.period_type = p.period_type and pl.period_start = p.period_start
where pl.period_type in ('month', 'quarter', 'year')
union all
-- a unit and period without a plan: one row saying why (the top band, or nothing left to raise by items)
select
    b.basis,
    {{ label_case('basis', 'b.basis') }} as basis_label,
    u.unit_code,
    u.unit_valid_from,
    u.unit_name,
    u.unit_group_label,
    p.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    p.period_start,
    p.period_end,
    null as step,
    '—' as step_label,
    null as indicator_code,
    'Không có bước nào' as indicator_name,
    case when i.next_band is null then 'Đơn vị đã ở mức xếp loại cao nhất'
        else 'Không còn chỉ số nào tăng được điểm bằng cách thêm, bớt hồ sơ, văn bản, lượt ký'
    end as todo_vi,
    0 as items,
    0 as count_needed_for_full,
    '' as step_kind,
    0 as points_gained,
    0 as cumulative_points,
    i.total_points,
    i.total_points as total_after,
    i.band,
    i.next_band,
    null as next_band_lower_bound,
    null as points_to_next_band,
    case when i.next_band is null then 'Giữ mức ' || i.band else 'Chưa đạt ' || i.next_band end as reaches_band_label,
    null as items_per_point
from {{ ref('dim_unit_labels') }} as u
cross join {{ ref('dim_periods') }} as p
cross join (values ('current'), ('historical')) as b (basis)
-- any row of the unit and period: total and band are the same on every indicator's. One per key, hashed: a lookup
-- per (unit, period, basis) probed two indexes and took minutes at 4 provinces.
inner join (
    select distinct on (x.basis, x.unit_code, x.unit_valid_from, x.scope, x.period_type, x.period_start)
        x.basis,
        x.unit_code,
        x.unit_valid_from,
        x.scope,
        x.period_type,
        x.period_start,
        x.total_points,
        x.band,
        x.next_band
    from {{ ref('rpt_unit_improvement') }} as x
    where x.period_type in ('month', 'quarter', 'year')
) as i
    on b.basis = i.basis and u.unit_code = i.unit_code and u.unit_valid_from = i.unit_valid_from
        and u.ranking_scope = i.scope and p.period_type = i.period_type and p.period_start = i.period_start
where p.period_type in ('month', 'quarter', 'year')
    and not exists (
        select 1 from {{ ref('rpt_unit_improvement_plan') }} as x
        where x.basis = b.basis and x.unit_code = u.unit_code and x.unit_valid_from = u.unit_valid_from
            and x.scope = u.ranking_scope and x.period_type = p.period_type and x.period_start = p.period_start
    )
