-- One row per unit version (effective-dated), as the one-stop-shop system's register publishes it. A unit is its
-- identifier and the start of its validity (`unit_valid_from`): the same identifier can name another unit later
-- (reform.md). `current_unit_code` is the unit of today (valid on the last loaded day) that this unit's figures go
-- to in the current basis: itself, its primary successor (transitively), or NULL (a district committee).
-- `province_code`: the unit's province as it was (int_unit_provinces); `current_province_code`: the one it became.
with

current_home as (
    select
        member_unit_code,
        member_valid_from,
        unit_code,
        unit_valid_from
    from {{ ref('int_unit_members') }}
    where basis = 'current' and not is_orphan
),

last_day as (
    select max(report_date) as last_day from {{ ref('int_data_days') }}
)

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
    u.unit_valid_from,
    u.unit_valid_to,
    u.successor_unit_codes,
    h.unit_code as current_unit_code,
    h.unit_valid_from as current_unit_valid_from,
    coalesce(u.valid_from <= l.last_day and (u.valid_to is null or u.valid_to >= l.last_day), false) as is_current,
    u.offers_e_certified_copy,
    u.procedure_level,
    u.parent_valid_from,
    pv.province_code,
    pv.current_province_code
from {{ ref('int_unit_versions') }} as u
cross join last_day as l
inner join {{ ref('int_unit_provinces') }} as pv on u.unit_code = pv.unit_code and u.unit_valid_from = pv.unit_valid_from
left join current_home as h on u.unit_code = h.member_unit_code and u.unit_valid_from = h.member_valid_from
