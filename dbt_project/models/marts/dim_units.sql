-- One row per unit version (effective-dated): the unit register as the one-stop-shop system publishes it.
select
    u.unit_code,
    u.internal_id,
    u.unit_name,
    u.unit_type,
    u.parent_unit_code,
    u.admin_area_code,
    u.staff_count,
    u.valid_from,
    u.valid_to,
    u.offers_e_certified_copy,
    t.procedure_level
from {{ ref('stg_one_stop_shop__units') }} as u
left join {{ ref('unit_types') }} as t on u.unit_type = t.unit_type
