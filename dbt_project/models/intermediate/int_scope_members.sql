-- Which units' figures make up each row: scope 'unit' = the unit itself; scope 'area' (only for units that have
-- units below them in the period) = the unit and every unit below it, through the parent links of the period.
{{ config(indexes=[{'columns': ['period_type', 'period_start', 'member_unit_code']}]) }}

with recursive

units as (
    select * from {{ ref('int_unit_periods') }}
),

tree (period_type, period_start, area_unit_code, member_unit_code, depth) as (
    select
        period_type,
        period_start,
        unit_code as area_unit_code,
        unit_code as member_unit_code,
        0 as depth
    from units
    union all
    select
        t.period_type,
        t.period_start,
        t.area_unit_code,
        child.unit_code,
        t.depth + 1
    from tree as t
    inner join units as child
        on
            t.period_type = child.period_type
            and t.period_start = child.period_start
            and t.member_unit_code = child.parent_unit_code
            and t.area_unit_code != child.unit_code
    where t.depth < 10  -- guards against a cycle in the register
),

areas as (
    select distinct
        period_type,
        period_start,
        area_unit_code
    from tree
    where depth > 0
)

select
    period_type,
    period_start,
    unit_code,
    'unit'::text as scope,
    unit_code as member_unit_code
from units
union all
select distinct
    t.period_type,
    t.period_start,
    t.area_unit_code as unit_code,
    'area'::text as scope,
    t.member_unit_code
from tree as t
inner join areas as a
    on
        t.period_type = a.period_type
        and t.period_start = a.period_start
        and t.area_unit_code = a.area_unit_code
