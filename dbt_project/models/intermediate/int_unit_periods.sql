-- The rows each basis reports per period (reform.md), with the attributes of the unit's version at `as_of`, the
-- day its register attributes and stocks are read:
--   historical: every unit valid at some time in the period (up to the last loaded day), as of the period's end
--               or its own end if it ended in the period;
--   current:    every unit valid on the last loaded day, in every period, as of the period's end.
-- The parent is the unit its parent identifier names on that day (historical) or on the last loaded day (current):
-- a department that carries on across the reform belongs to the new committee that reuses the old one's code.
{{ config(indexes=[{'columns': ['basis', 'period_type', 'period_start', 'unit_code', 'unit_valid_from'], 'unique': true}]) }}

with

periods as (
    select
        period_type,
        period_start,
        period_end,
        evaluated_to,
        data_last_day
    from {{ ref('int_periods') }}
),

historical as (
    select distinct on (p.period_type, p.period_start, v.unit_code, v.unit_valid_from)
        'historical'::text as basis,
        p.period_type,
        p.period_start,
        p.period_end,
        least(p.evaluated_to, coalesce(v.unit_valid_to, p.evaluated_to)) as as_of,
        v.*
    from periods as p
    inner join {{ ref('int_unit_versions') }} as v
        on p.evaluated_to >= v.valid_from and (v.valid_to is null or p.period_start <= v.valid_to)
    order by p.period_type asc, p.period_start asc, v.unit_code asc, v.unit_valid_from asc, v.valid_from desc
),

current_versions as (
    select v.*
    from {{ ref('int_unit_versions') }} as v
    inner join (select max(data_last_day) as last_day from periods) as l
        on v.valid_from <= l.last_day and (v.valid_to is null or v.valid_to >= l.last_day)
),

current_rows as (
    select
        'current'::text as basis,
        p.period_type,
        p.period_start,
        p.period_end,
        p.evaluated_to as as_of,
        v.*
    from periods as p
    cross join current_versions as v
),

{%- set cols = [
    'basis', 'period_type', 'period_start', 'period_end', 'as_of', 'unit_code', 'unit_valid_from', 'unit_valid_to',
    'unit_name', 'unit_type', 'procedure_level', 'parent_unit_code', 'staff_count', 'offers_e_certified_copy',
] %}

with_parent as (
    select
        {{ cols | join(', ') }},
        as_of as parent_day
    from historical
    union all
    select
        {{ cols | join(', ') }},
        (select max(p.data_last_day) from periods as p) as parent_day
    from current_rows
)

select
    r.{{ cols | join(', r.') }},
    parent.unit_valid_from as parent_valid_from
from with_parent as r
left join lateral (
    select p.unit_valid_from
    from {{ ref('int_unit_versions') }} as p
    where
        p.unit_code = r.parent_unit_code
        and p.valid_from <= r.parent_day
        and (p.valid_to is null or p.valid_to >= r.parent_day)
    order by p.valid_from desc
    limit 1
) as parent on true
