-- The province of every unit identity: the GSO code (`maDVHC`) of the province committee (UBND_TINH) its parent
-- links (`maDinhDanhCha`) lead to: a commune -> its district (before 1/7/2025) -> the committee; a department ->
-- the committee; a committee is its own. Both are fields every register row has; the `.Hpp` tail of QCVN 102
-- identifiers says the same for the simulator's units but is a coding convention, not a field to rely on.
-- `province_code` is the province as it was (a commune of Vĩnh Phúc 26 before 1/7/2025); `current_province_code`
-- the province its committee became (Phú Thọ 25 = Hòa Bình 17 + Phú Thọ 25 + Vĩnh Phúc 26): rankings rank within
-- it, in both bases, as a merged province ranks the migrated history of its predecessors' units (reform.md).
{{ config(indexes=[{'columns': ['unit_code', 'unit_valid_from'], 'unique': true}]) }}

with recursive

-- one row per unit identity: its first version's parent (a unit keeps its province across its versions)
units as (
    select distinct on (unit_code, unit_valid_from)
        unit_code,
        unit_valid_from,
        unit_type,
        admin_area_code,
        parent_unit_code,
        parent_valid_from
    from {{ ref('int_unit_versions') }}
    order by unit_code asc, unit_valid_from asc, valid_from asc
),

-- the province each committee became: the last committee along its primary successors (an old committee ->
-- the merged province's), or itself
became as (
    select distinct on (s.unit_code, s.unit_valid_from)
        s.unit_code,
        s.unit_valid_from,
        p.admin_area_code as province_code
    from {{ ref('int_unit_succession') }} as s
    inner join units as p on s.successor_unit_code = p.unit_code and s.successor_valid_from = p.unit_valid_from
    where s.is_primary and p.unit_type = 'UBND_TINH'
    order by s.unit_code asc, s.unit_valid_from asc, s.hops desc
),

chain (unit_code, unit_valid_from, at_code, at_valid_from, at_type, at_area, up_code, up_valid_from, depth) as (
    select
        unit_code,
        unit_valid_from,
        unit_code as at_code,
        unit_valid_from as at_valid_from,
        unit_type as at_type,
        admin_area_code as at_area,
        parent_unit_code as up_code,
        parent_valid_from as up_valid_from,
        0 as depth
    from units
    union all
    select
        c.unit_code,
        c.unit_valid_from,
        p.unit_code as at_code,
        p.unit_valid_from as at_valid_from,
        p.unit_type as at_type,
        p.admin_area_code as at_area,
        p.parent_unit_code as up_code,
        p.parent_valid_from as up_valid_from,
        c.depth + 1 as depth
    from chain as c
    inner join units as p on c.up_code = p.unit_code and c.up_valid_from = p.unit_valid_from
    where c.at_type <> 'UBND_TINH' and c.depth < 10  -- guards against a cycle in the register
)

select
    u.unit_code,
    u.unit_valid_from,
    c.at_area as province_code,
    coalesce(b.province_code, c.at_area) as current_province_code
from units as u
left join chain as c
    on
        u.unit_code = c.unit_code
        and u.unit_valid_from = c.unit_valid_from
        and c.at_type = 'UBND_TINH'
left join became as b on c.at_code = b.unit_code and c.at_valid_from = b.unit_valid_from
