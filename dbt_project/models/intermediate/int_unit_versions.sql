-- One row per unit version, with the unit identity it belongs to. Identifiers are reused across the 2025 reform
-- (the new Phú Thọ committee keeps 000.00.00.H25, a new commune may take its predecessor's code), so a unit is
-- its identifier AND the start of its validity (`unit_valid_from`). A version continues the unit of the previous
-- version of the same identifier when it starts the day after that one ends, has the same type, and that one did
-- not end the unit by naming successors (donViKeThua); otherwise it starts a new unit.
{{ config(indexes=[{'columns': ['unit_code', 'valid_from'], 'unique': true}]) }}

with

versions as (
    select
        u.*,
        t.procedure_level,
        lag(u.valid_to) over by_code as previous_valid_to,
        lag(u.unit_type) over by_code as previous_unit_type,
        lag(cardinality(u.successor_unit_codes)) over by_code as previous_successor_count
    from {{ ref('stg_one_stop_shop__units') }} as u
    left join {{ ref('unit_types') }} as t on u.unit_type = t.unit_type
    window by_code as (partition by u.unit_code order by u.valid_from)
),

numbered as (
    select
        *,
        sum(
            case
                when
                    previous_valid_to + 1 = valid_from
                    and previous_unit_type = unit_type
                    and previous_successor_count = 0
                    then 0
                else 1
            end
        ) over (partition by unit_code order by valid_from) as identity_number
    from versions
),

identities as (
    select
        *,
        min(valid_from) over unit_versions as unit_valid_from,
        -- open-ended while any version is
        case when count(*) over unit_versions = count(valid_to) over unit_versions then max(valid_to) over unit_versions end
            as unit_valid_to,
        last_value(successor_unit_codes) over (
            partition by unit_code, identity_number order by valid_from
            rows between unbounded preceding and unbounded following
        ) as unit_successor_codes
    from numbered
    window unit_versions as (partition by unit_code, identity_number)
)

select
    v.unit_code,
    v.unit_valid_from,
    v.unit_valid_to,
    v.valid_from,
    v.valid_to,
    v.internal_id,
    v.unit_name,
    v.unit_type,
    v.procedure_level,
    v.parent_unit_code,
    parent.unit_valid_from as parent_valid_from,
    v.admin_area_code,
    v.staff_count,
    v.offers_e_certified_copy,
    v.unit_successor_codes as successor_unit_codes
from identities as v
-- the parent unit valid when this version starts (the reused provincial code resolves to the right committee)
left join lateral (
    select p.unit_valid_from
    from identities as p
    where
        p.unit_code = v.parent_unit_code
        and p.valid_from <= v.valid_from
        and (p.valid_to is null or p.valid_to >= v.valid_from)
    order by p.valid_from desc
    limit 1
) as parent on true
