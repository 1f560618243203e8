-- A unit's procedures (by identifier and type: a reused identifier of another type has other procedures): those whose donViThucHien lists it, plus those with an empty list at its level.
{{ config(indexes=[{'columns': ['unit_code']}]) }}

with

units as (
    select distinct
        u.unit_code,
        u.unit_type,
        t.procedure_level
    from {{ ref('stg_one_stop_shop__units') }} as u
    inner join {{ ref('unit_types') }} as t on u.unit_type = t.unit_type
)

select distinct
    u.unit_code,
    u.unit_type,
    p.procedure_code
from units as u
inner join {{ ref('stg_one_stop_shop__procedures') }} as p
    on
        u.unit_code = any(p.competent_unit_codes)
        or (cardinality(p.competent_unit_codes) = 0 and u.procedure_level = p.procedure_level)
