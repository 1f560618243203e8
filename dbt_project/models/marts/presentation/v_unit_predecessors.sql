-- Every unit identity with the old units merged into it (whole or in part) and, for a unit that ended, where it went
-- (the unit history dashboard).
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
with composition as (
    select
        b.successor_unit_code as unit_code,
        b.successor_valid_from as unit_valid_from,
        string_agg(o.unit_name, ', ' order by o.unit_name) filter (where b.is_primary) as whole,
        string_agg(o.unit_name, ', ' order by o.unit_name) filter (where not b.is_primary) as part
    from {{ ref('bridge_unit_succession') }} as b
    inner join {{ ref('dim_unit_labels') }} as o on b.unit_code = o.unit_code and b.unit_valid_from = o.unit_valid_from
    group by b.successor_unit_code, b.successor_valid_from
),

successors as (
    -- where a unit that ended went: its direct successors, the primary one first
    select
        b.unit_code,
        b.unit_valid_from,
        string_agg(
            s.unit_name || case when b.is_primary then '' else ' (một phần)' end, ', '
            order by b.is_primary desc, s.unit_name asc
        ) as successor_names
    from {{ ref('bridge_unit_succession') }} as b
    inner join {{ ref('dim_unit_labels') }} as s on b.successor_unit_code = s.unit_code and b.successor_valid_from = s.unit_valid_from
    where b.is_direct
    group by b.unit_code, b.unit_valid_from
)

select
    c.unit_code,
    c.unit_valid_from,
    c.unit_name,
    c.unit_type,
    c.unit_group_label,
    c.is_current,
    coalesce(nullif(concat_ws(
        '; ', 'Gồm các đơn vị cũ: ' || k.whole, 'Nhận một phần của: ' || k.part,
        case when c.unit_valid_to is not null then 'Hoạt động đến ' || to_char(c.unit_valid_to, 'DD/MM/YYYY')
                || coalesce(', sắp xếp vào: ' || s.successor_names, ', không có đơn vị kế thừa')
        end
    ), ''),
    'Không có đơn vị cũ nào được sắp xếp vào đơn vị này') as composition,
    o.unit_code as predecessor_code,
    coalesce(o.unit_name, 'Không có đơn vị cũ') as predecessor_name,
    o.unit_group_label as predecessor_group_label,
    o.unit_valid_to as predecessor_valid_to,
    b.effective_date,
    case when b.is_primary then 'Toàn bộ: số liệu cũ tính cho đơn vị này'
        when b.unit_code is not null then 'Một phần: số liệu cũ tính cho đơn vị kế thừa chính'
    end as succession_label,
    case when b.is_direct then 'Trực tiếp' when b.unit_code is not null then 'Qua đơn vị trung gian' end
        as succession_path
from {{ ref('dim_unit_labels') }} as c
left join {{ ref('bridge_unit_succession') }} as b
    on c.unit_code = b.successor_unit_code and c.unit_valid_from = b.successor_valid_from
left join {{ ref('dim_unit_labels') }} as o on b.unit_code = o.unit_code and b.unit_valid_from = o.unit_valid_from
left join composition as k on c.unit_code = k.unit_code and c.unit_valid_from = k.unit_valid_from
left join successors as s on c.unit_code = s.unit_code and c.unit_valid_from = s.unit_valid_from
