-- The national portal's 766 ranking beside ours: each unit's QD766 total both ways, ranked among the units of its
-- type, for units whose six group scores both sides publish.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
with
totals as (
    -- the QD766 total of a unit both ways: the sum of its six group scores, ours and the portal's
    select
        r.unit_code,
        r.unit_valid_from,
        r.period_type,
        r.period_start,
        sum(r.points) as own_total,
        sum(r.portal_points) as portal_total,
        count(*) filter (where r.points is not null and r.portal_points is not null) as groups_compared
    from {{ ref('rpt_portal_reconciliation') }} as r
    where r.row_kind = 'group' and r.scope = 'unit' and r.unit_code is not null
    group by r.unit_code, r.unit_valid_from, r.period_type, r.period_start
),

ranked as (
    -- ranked among the units of the same kind (departments, communes), competition ranking as the marts rank
    select
        t.*,
        u.register_name as unit_name,
        u.unit_type,
        rank() over (partition by t.period_type, t.period_start, u.unit_type order by t.own_total desc) as own_rank,
        rank() over (partition by t.period_type, t.period_start, u.unit_type order by t.portal_total desc)
            as portal_rank,
        count(*) over (partition by t.period_type, t.period_start, u.unit_type) as units_ranked
    from totals as t
    inner join {{ ref('dim_unit_labels') }} as u on t.unit_code = u.unit_code and t.unit_valid_from = u.unit_valid_from
    where t.groups_compared = 6
)

select
    k.unit_code,
    k.unit_name,
    {{ label_case('portal_unit_type', 'k.unit_type', "'Chưa khớp danh mục'") }} as unit_group_label,
    k.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    k.period_start,
    k.own_total,
    k.portal_total,
    k.own_total - k.portal_total as total_diff,
    k.own_rank,
    k.portal_rank,
    k.own_rank - k.portal_rank as rank_shift,
    k.own_rank || '/' || k.units_ranked as own_rank_label,
    k.portal_rank || '/' || k.units_ranked as portal_rank_label,
    case when k.portal_rank < k.own_rank then '▲ ' || (k.own_rank - k.portal_rank) || ' bậc theo Cổng'
        when k.portal_rank > k.own_rank then '▼ ' || (k.portal_rank - k.own_rank) || ' bậc theo Cổng'
        else 'Không đổi'
    end as rank_shift_label
from ranked as k
left join {{ ref('dim_periods') }} as p on k.period_type = p.period_type and k.period_start = p.period_start
