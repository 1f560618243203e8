-- The national portal's published 766 index beside the warehouse's own figures (warehouse.md, Marts): one row per
-- (indicator, unit, period) the portal publishes, plus our rows it does not publish. Our side is the `current`
-- basis (the portal publishes today's units, each with its predecessors' figures): the province row (the portal's
-- root department) is the province committee at scope `area`, every other unit is at scope `unit`. Group rows
-- (row_kind 'group', indicator_code QD766.<group>) compare a unit's group score: the portal publishes CLGQ only so,
-- and TTTT's points only so.
-- reason, in this order: unit_not_matched (a portal unit no register unit answers to), not_published / not_computed
-- (one side has no row), portal_provisional (the portal flags its figure: a temporary denominator), counts_differ
-- (numerator or denominator differ where both sides have them), same (|diff| <= 0.005), rounding (<= 0.015),
-- rule_differs (same counts, different points). A group score is compared by its points: when they differ, a
-- flagged metric of the group makes it portal_provisional, an indicator of the group whose counts differ
-- counts_differ.
with

portal as (
    select * from {{ ref('stg_national_portal__scores') }}
),

portal_periods as (
    select distinct
        period_type,
        period_start,
        period_end
    from portal
),

portal_codes as (
    select distinct
        indicator_code,
        row_kind,
        group_code
    from portal
),

-- today's units (valid on the last loaded day): one version each
units as (
    select
        unit_code,
        unit_valid_from,
        unit_name,
        unit_type,
        case when unit_type = 'UBND_TINH' then 'area' else 'unit' end as scope,
        {{ portal_unit_name('unit_name') }} as name_key
    from {{ ref('dim_units') }}
    where is_current
),

name_counts as (
    select
        name_key,
        count(*) as units_named
    from units
    where unit_type <> 'UBND_TINH'
    group by name_key
),

departments as (
    select distinct
        department_id,
        department_code,
        department_name,
        is_root,
        {{ portal_unit_name('department_name') }} as name_key
    from portal
),

-- a portal unit is the register unit of its code (the electronic identifier), else of its name when exactly one
-- unit bears it; the root department is the province committee
candidates as (
    select
        d.department_id,
        d.department_code,
        d.department_name,
        u.unit_code,
        u.unit_valid_from,
        u.scope,
        case when d.is_root then 'root' when u.unit_code = d.department_code then 'code' else 'name' end as unit_match,
        case when d.is_root then 1 when u.unit_code = d.department_code then 2 else 3 end as match_rank
    from departments as d
    left join name_counts as n on d.name_key = n.name_key
    inner join units as u
        on
            (d.is_root and u.unit_type = 'UBND_TINH')
            or (not d.is_root and u.unit_type <> 'UBND_TINH' and d.department_code = u.unit_code)
            or (not d.is_root and u.unit_type <> 'UBND_TINH' and d.name_key = u.name_key and n.units_named = 1)
),

-- the best match of each way the portal writes a unit (its code and name may vary between periods)
best_per_variant as (
    select distinct on (department_id, department_code, department_name) *
    from candidates
    order by department_id, department_code, department_name, match_rank, unit_code
),

-- a register unit answers to one portal unit (departmentId) at most: the best match wins, others stay unmatched
winners as (
    select distinct on (unit_code, unit_valid_from)
        unit_code,
        unit_valid_from,
        department_id
    from best_per_variant
    order by unit_code, unit_valid_from, match_rank, department_id
),

matches as (
    select b.*
    from best_per_variant as b
    inner join winners as w
        on b.unit_code = w.unit_code and b.unit_valid_from = w.unit_valid_from and b.department_id = w.department_id
),

portal_rows as (
    select
        p.*,
        m.unit_code,
        m.unit_valid_from,
        m.scope,
        m.unit_match
    from portal as p
    left join matches as m
        on
            p.department_id = m.department_id
            and p.department_code is not distinct from m.department_code
            and p.department_name = m.department_name
),

own_indicators as (
    select
        f.indicator_code,
        'indicator' as row_kind,
        f.group_code,
        f.unit_code,
        f.unit_valid_from,
        f.scope,
        f.period_type,
        f.period_start,
        f.numerator,
        f.denominator,
        f.points,
        f.max_points
    from {{ ref('fct_indicator_values') }} as f
    inner join portal_periods as pp on f.period_type = pp.period_type and f.period_start = pp.period_start
    where f.basis = 'current' and f.framework = 'QD766'
),

-- a group's maximum: its indicators' in the catalogue rows in force at the period's end
group_max as (
    select
        pp.period_type,
        pp.period_start,
        c.group_code,
        sum(c.max_points) as max_points
    from portal_periods as pp
    inner join {{ ref('indicator_catalogue') }} as c
        on
            c.framework = 'QD766'
            and pp.period_end >= c.valid_from
            and (c.valid_to is null or pp.period_end <= c.valid_to)
    group by pp.period_type, pp.period_start, c.group_code
),

own_groups as (
    select
        'QD766.' || g.group_code as indicator_code,
        'group' as row_kind,
        g.group_code,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        s.period_type,
        s.period_start,
        null::numeric as numerator,
        null::numeric as denominator,
        g.points,
        m.max_points
    from {{ ref('rpt_qd766_scores') }} as s
    inner join portal_periods as pp on s.period_type = pp.period_type and s.period_start = pp.period_start
    cross join
        lateral (
            values
            ('CKMB', s.ckmb),
            ('TDGQ', s.tdgq),
            ('CLGQ', s.clgq),
            ('MDSH', s.mdsh),
            ('TTTT', s.tttt),
            ('MDHL', s.mdhl)
        ) as g (group_code, points)
    left join group_max as m
        on s.period_type = m.period_type and s.period_start = m.period_start and g.group_code = m.group_code
    where s.basis = 'current'
),

-- our rows of today's units for the indicators and groups the portal publishes
own as (
    select o.*
    from (
        select * from own_indicators
        union all
        select * from own_groups
    ) as o
    inner join units as u on o.unit_code = u.unit_code and o.unit_valid_from = u.unit_valid_from and o.scope = u.scope
    inner join portal_codes as c on o.indicator_code = c.indicator_code
),

joined as (
    select
        coalesce(p.indicator_code, o.indicator_code) as indicator_code,
        coalesce(p.row_kind, o.row_kind) as row_kind,
        coalesce(p.group_code, o.group_code) as group_code,
        coalesce(p.unit_code, o.unit_code) as unit_code,
        coalesce(p.unit_valid_from, o.unit_valid_from) as unit_valid_from,
        coalesce(p.scope, o.scope) as scope,
        coalesce(p.period_type, o.period_type) as period_type,
        coalesce(p.period_start, o.period_start) as period_start,
        p.department_id as portal_department_id,
        p.department_code as portal_department_code,
        p.department_name as portal_department_name,
        p.unit_match,
        o.numerator,
        o.denominator,
        o.points,
        o.max_points,
        p.numerator as portal_numerator,
        p.denominator as portal_denominator,
        p.points as portal_points,
        p.max_points as portal_max_points,
        p.data_quality_status as portal_quality_status,
        coalesce(p.is_provisional, false) as portal_provisional,
        p.department_id is not null as on_portal,
        o.indicator_code is not null as computed,
        coalesce(
            (o.numerator is null or p.numerator is null or o.numerator = p.numerator)
            and (o.denominator is null or p.denominator is null or o.denominator = p.denominator),
            true
        ) as counts_agree
    from portal_rows as p
    full outer join own as o
        on
            p.unit_code = o.unit_code
            and p.unit_valid_from = o.unit_valid_from
            and p.scope = o.scope
            and p.indicator_code = o.indicator_code
            and p.period_type = o.period_type
            and p.period_start = o.period_start
),

compared as (
    select
        *,
        round(points - portal_points, 4) as points_diff,
        -- a group whose indicators' counts differ somewhere differs by its counts too
        bool_or(row_kind = 'indicator' and on_portal and computed and not counts_agree) over (
            partition by coalesce(unit_code, portal_department_id), period_type, period_start, group_code
        ) as group_counts_differ
    from joined
)

select
    c.indicator_code,
    c.row_kind,
    c.group_code,
    c.unit_code,
    c.unit_valid_from,
    u.unit_name,
    c.scope,
    c.period_type,
    c.period_start,
    pp.period_end,
    c.portal_department_id,
    c.portal_department_code,
    c.portal_department_name,
    c.unit_match,
    c.numerator,
    c.denominator,
    c.points,
    c.max_points,
    c.portal_numerator,
    c.portal_denominator,
    c.portal_points,
    c.portal_max_points,
    c.points_diff,
    c.portal_quality_status,
    case
        when c.on_portal and c.unit_code is null then 'unit_not_matched'
        when not c.on_portal then 'not_published'
        when not c.computed then 'not_computed'
        -- an indicator: its own flag and counts
        when c.row_kind = 'indicator' and c.portal_provisional then 'portal_provisional'
        when c.row_kind = 'indicator' and not c.counts_agree then 'counts_differ'
        when c.points_diff is null or abs(c.points_diff) <= 0.005 then 'same'
        -- a group score that differs: explained by a flagged metric, else by its indicators' counts
        when c.portal_provisional then 'portal_provisional'
        when c.row_kind = 'group' and c.group_counts_differ then 'counts_differ'
        when abs(c.points_diff) <= 0.015 then 'rounding'
        else 'rule_differs'
    end as reason
from compared as c
inner join portal_periods as pp on c.period_type = pp.period_type and c.period_start = pp.period_start
left join units as u on c.unit_code = u.unit_code and c.unit_valid_from = u.unit_valid_from
