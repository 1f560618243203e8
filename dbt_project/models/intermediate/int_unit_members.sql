-- Whose figures make up a unit's own (`unit` scope) row in each basis (reform.md):
--   historical: the unit itself;
--   current:    a unit valid on the last loaded day, and every unit whose primary successor it is, transitively
--               (old communes -> new commune, absorbed department -> absorber -> merged department, old provincial
--               committees -> the new committee).
-- Units that are nobody's primary predecessor (a district committee) are `orphans`: attached to the current unit
-- their parent chain leads to, they count in that unit's `area` rows only (the province's), never in a `unit` row.
{{ config(indexes=[{'columns': ['basis', 'unit_code', 'unit_valid_from']}]) }}

with recursive

last_day as (
    select max(report_date) as last_day from {{ ref('int_data_days') }}
),

units as (
    select distinct on (unit_code, unit_valid_from)
        unit_code,
        unit_valid_from,
        unit_valid_to,
        parent_unit_code,
        parent_valid_from
    from {{ ref('int_unit_versions') }}
    order by unit_code asc, unit_valid_from asc, valid_from desc
),

current_units as (
    select u.*
    from units as u
    cross join last_day as l
    where u.unit_valid_from <= l.last_day and (u.unit_valid_to is null or u.unit_valid_to >= l.last_day)
),

current_members as (
    select
        c.unit_code,
        c.unit_valid_from,
        c.unit_code as member_unit_code,
        c.unit_valid_from as member_valid_from
    from current_units as c
    union all
    select
        c.unit_code,
        c.unit_valid_from,
        s.unit_code as member_unit_code,
        s.unit_valid_from as member_valid_from
    from current_units as c
    inner join {{ ref('int_unit_succession') }} as s
        on c.unit_code = s.successor_unit_code and c.unit_valid_from = s.successor_valid_from and s.is_primary
),

-- orphans climb their (historical) parent chain to the first unit that has a current home
orphan_walk (member_unit_code, member_valid_from, ancestor_code, ancestor_valid_from, depth) as (
    select
        u.unit_code,
        u.unit_valid_from,
        u.parent_unit_code,
        u.parent_valid_from,
        1
    from units as u
    where not exists (
            select 1 from current_members as m
            where m.member_unit_code = u.unit_code and m.member_valid_from = u.unit_valid_from
        )
    union all
    select
        w.member_unit_code,
        w.member_valid_from,
        p.parent_unit_code,
        p.parent_valid_from,
        w.depth + 1
    from orphan_walk as w
    inner join units as p on w.ancestor_code = p.unit_code and w.ancestor_valid_from = p.unit_valid_from
    where
        w.depth < 10
        and not exists (
            select 1 from current_members as m
            where m.member_unit_code = w.ancestor_code and m.member_valid_from = w.ancestor_valid_from
        )
),

orphans as (
    select distinct on (w.member_unit_code, w.member_valid_from)
        m.unit_code,
        m.unit_valid_from,
        w.member_unit_code,
        w.member_valid_from
    from orphan_walk as w
    inner join current_members as m
        on w.ancestor_code = m.member_unit_code and w.ancestor_valid_from = m.member_valid_from
    order by w.member_unit_code, w.member_valid_from, w.depth
)

select
    'historical'::text as basis,
    unit_code,
    unit_valid_from,
    unit_code as member_unit_code,
    unit_valid_from as member_valid_from,
    false as is_orphan
from units
union all
select
    'current'::text as basis,
    unit_code,
    unit_valid_from,
    member_unit_code,
    member_valid_from,
    false as is_orphan
from current_members
union all
select
    'current'::text as basis,
    unit_code,
    unit_valid_from,
    member_unit_code,
    member_valid_from,
    true as is_orphan
from orphans
