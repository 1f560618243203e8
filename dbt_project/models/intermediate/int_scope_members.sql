-- Which units' figures make up each (basis, unit, scope) row of a period, and whether the member is valid on the
-- row's `as_of` day (register attributes and stocks: staff, organisation certificates, communes offering
-- electronic copies, competence for ⓟ indicators are read over those members; flows over all of them).
--   scope 'unit': the unit's members in the basis (int_unit_members);
--   scope 'area' (units with units below them): the unit and every unit below it through the parent links valid
--   in the period (historical) or today's (current), each with its members; in the current basis the units that
--   are nobody's primary predecessor (district committees) count in the area of the unit their parents lead to.
{{ config(indexes=[{'columns': ['period_type', 'period_start', 'member_unit_code']}]) }}

with recursive

rows_ as (
    select * from {{ ref('int_unit_periods') }}
),

-- the reporting unit -> units below it (itself included), per basis and period
tree (basis, period_type, period_start, unit_code, unit_valid_from, below_code, below_valid_from, depth) as (
    select
        basis,
        period_type,
        period_start,
        unit_code,
        unit_valid_from,
        unit_code as below_code,
        unit_valid_from as below_valid_from,
        0 as depth
    from rows_
    union all
    select
        t.basis,
        t.period_type,
        t.period_start,
        t.unit_code,
        t.unit_valid_from,
        child.unit_code as below_code,
        child.unit_valid_from as below_valid_from,
        t.depth + 1 as depth
    from tree as t
    inner join rows_ as child
        on
            t.basis = child.basis
            and t.period_type = child.period_type
            and t.period_start = child.period_start
            and t.below_code = child.parent_unit_code
            and t.below_valid_from = child.parent_valid_from
            and not (t.unit_code = child.unit_code and t.unit_valid_from = child.unit_valid_from)
    where t.depth < 10  -- guards against a cycle in the register
),

areas as (
    select distinct
        basis,
        period_type,
        period_start,
        unit_code,
        unit_valid_from
    from tree
    where depth > 0
),

members as (
    select
        r.basis,
        r.period_type,
        r.period_start,
        r.unit_code,
        r.unit_valid_from,
        'unit'::text as scope,
        m.member_unit_code,
        m.member_valid_from
    from rows_ as r
    inner join {{ ref('int_unit_members') }} as m
        on
            r.basis = m.basis
            and r.unit_code = m.unit_code
            and r.unit_valid_from = m.unit_valid_from
            and not m.is_orphan
    union
    select
        t.basis,
        t.period_type,
        t.period_start,
        t.unit_code,
        t.unit_valid_from,
        'area'::text as scope,
        m.member_unit_code,
        m.member_valid_from
    from tree as t
    inner join areas as a
        on
            t.basis = a.basis
            and t.period_type = a.period_type
            and t.period_start = a.period_start
            and t.unit_code = a.unit_code
            and t.unit_valid_from = a.unit_valid_from
    inner join {{ ref('int_unit_members') }} as m
        on t.basis = m.basis and t.below_code = m.unit_code and t.below_valid_from = m.unit_valid_from
)

select
    s.basis,
    s.period_type,
    s.period_start,
    s.unit_code,
    s.unit_valid_from,
    s.scope,
    s.member_unit_code,
    s.member_valid_from,
    r.as_of,
    v.unit_code is not null as member_at_end,
    v.unit_type as member_unit_type,
    v.staff_count as member_staff_count,
    v.offers_e_certified_copy as member_offers_e_certified_copy
from members as s
inner join rows_ as r
    on
        s.basis = r.basis
        and s.period_type = r.period_type
        and s.period_start = r.period_start
        and s.unit_code = r.unit_code
        and s.unit_valid_from = r.unit_valid_from
-- the member's version on the row's as_of day, if it was valid then
left join {{ ref('int_unit_versions') }} as v
    on
        s.member_unit_code = v.unit_code
        and s.member_valid_from = v.unit_valid_from
        and r.as_of >= v.valid_from
        and (v.valid_to is null or r.as_of <= v.valid_to)
