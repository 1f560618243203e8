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
    on u.valid_from <= p.period_end and (u.valid_to is null or u.valid_to >= p.period_start)
left join {{ ref('unit_types') }} as t on u.unit_type = t.unit_type
order by p.period_type, p.period_start, u.unit_code, u.valid_from desc
