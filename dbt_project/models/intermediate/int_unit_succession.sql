-- Succession between unit identities: the register's donViKeThua (primary successor first), each successor
-- resolved to the unit of that identifier valid the day after the predecessor ended, then closed transitively
-- (an absorbed department -> its absorber -> the merged province's department). `is_primary` holds when every hop
-- is a primary successor: those are the paths along which a unit's figures go in the current basis.

with recursive

units as (
    select distinct
        unit_code,
        unit_valid_from,
        unit_valid_to,
        successor_unit_codes
    from {{ ref('int_unit_versions') }}
),

direct as (
    select
        u.unit_code,
        u.unit_valid_from,
        s.successor_unit_code,
        successor.unit_valid_from as successor_valid_from,
        u.unit_valid_to + 1 as effective_date,
        s.ordinal = 1 as is_primary
    from units as u
    cross join lateral unnest(u.successor_unit_codes) with ordinality as s (successor_unit_code, ordinal)
    inner join units as successor
        on
            s.successor_unit_code = successor.unit_code
            and successor.unit_valid_from <= u.unit_valid_to + 1
            and (successor.unit_valid_to is null or u.unit_valid_to < successor.unit_valid_to)
    where u.unit_valid_to is not null
),

closure (
    unit_code, unit_valid_from, successor_unit_code, successor_valid_from, effective_date, is_primary, hops
) as (
    select
        unit_code,
        unit_valid_from,
        successor_unit_code,
        successor_valid_from,
        effective_date,
        is_primary,
        1
    from direct
    union all
    select
        c.unit_code,
        c.unit_valid_from,
        d.successor_unit_code,
        d.successor_valid_from,
        d.effective_date,
        c.is_primary and d.is_primary,
        c.hops + 1
    from closure as c
    inner join direct as d
        on c.successor_unit_code = d.unit_code and c.successor_valid_from = d.unit_valid_from
    where c.hops < 10  -- the loader quarantines cycles; this only bounds a bad register that got through
)

select distinct on (unit_code, unit_valid_from, successor_unit_code, successor_valid_from)
    unit_code,
    unit_valid_from,
    successor_unit_code,
    successor_valid_from,
    effective_date,
    is_primary,
    hops = 1 as is_direct,
    hops
from closure
order by unit_code asc, unit_valid_from asc, successor_unit_code asc, successor_valid_from asc, is_primary desc, hops asc
