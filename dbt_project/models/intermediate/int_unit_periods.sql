-- Units valid in each period (a version overlapping it), with the attributes of the latest such version.
{{ config(indexes=[{'columns': ['period_type', 'period_start', 'unit_code'], 'unique': true}]) }}

select distinct on (p.period_type, p.period_start, u.unit_code)
    p.period_type,
    p.period_start,
    p.period_end,
    u.unit_code,
    u.unit_name,
    u.unit_type,
    t.procedure_level,
    u.parent_unit_code,
    u.staff_count,
    u.offers_e_certified_copy,
    u.valid_from
from {{ ref('int_periods') }} as p
inner join {{ ref('stg_one_stop_shop__units') }} as u
    on p.period_end >= u.valid_from and (u.valid_to is null or p.period_start <= u.valid_to)
left join {{ ref('unit_types') }} as t on u.unit_type = t.unit_type
order by p.period_type asc, p.period_start asc, u.unit_code asc, u.valid_from desc
