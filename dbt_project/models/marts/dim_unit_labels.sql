-- One row per unit identity (identifier + start of validity) with what the dashboards show of it, computed once here
-- instead of in every Superset dataset:
-- - register_name: the name of its version valid today, else of its latest, as the register has it;
-- - unit_name: that name told apart from the others': of units sharing a name, the ones that ended say whose unit
--   they were and until when ("… – <parent> (đến dd/mm/yyyy)"); a label still shared gets " [<unit_code>]", so
--   every unit a filter offers is one unit.
-- - unit_group_label, ranking_scope (the row of its own ranking: districts and the province over their area);
-- - is_province: the committee of today's province code (the predecessor provinces' committees are not), and for a
--   province committee next_unit_valid_from, the start of the next committee of its area: a period shows the
--   province's row as "the whole province" when it ended before that (is_whole_province in the presentation marts).
{{ config(indexes=[{'columns': ['unit_code', 'unit_valid_from'], 'unique': true}, {'columns': ['unit_name']}]) }}

with

identities as (
    select distinct on (d.unit_code, d.unit_valid_from)
        d.unit_code,
        d.unit_valid_from,
        d.unit_valid_to,
        d.unit_name,
        d.unit_type,
        d.parent_unit_code,
        d.admin_area_code,
        bool_or(d.is_current) over (partition by d.unit_code, d.unit_valid_from) as is_current
    from {{ ref('dim_units') }} as d
    order by d.unit_code asc, d.unit_valid_from asc, d.is_current desc, d.valid_from desc
),

named as (
    select
        i.*,
        i.unit_name
        || case
            when i.unit_valid_to is not null and count(*) over (partition by i.unit_name) > 1
                then
                    coalesce(' – ' || (
                        select p.unit_name from identities as p
                        where p.unit_code = i.parent_unit_code and p.unit_valid_from <= i.unit_valid_to
                        order by p.unit_valid_from desc
                        limit 1
                    ), '')
                    || ' (đến ' || to_char(i.unit_valid_to, 'DD/MM/YYYY') || ')'
            else ''
        end as told_apart
    from identities as i
),

province as (
    -- today's province: the current committee of the province level, the latest if several
    select c.admin_area_code from identities as c
    where c.unit_type = 'UBND_TINH' and c.is_current
    order by c.unit_valid_from desc
    limit 1
)

select
    n.unit_code,
    n.unit_valid_from,
    n.unit_valid_to,
    n.unit_type,
    n.admin_area_code,
    n.is_current,
    n.unit_name as register_name,
    n.told_apart
    || case when count(*) over (partition by n.told_apart) > 1 then ' [' || n.unit_code || ']' else '' end as unit_name,
    {{ label_case('unit_type', 'n.unit_type') }} as unit_group_label,
    case when n.unit_type in ('UBND_TINH', 'UBND_HUYEN') then 'area' else 'unit' end as ranking_scope,
    coalesce(n.unit_type = 'UBND_TINH' and n.admin_area_code = (select pr.admin_area_code from province as pr), false)
        as is_province,
    case
        when n.unit_type = 'UBND_TINH'
            then lead(n.unit_valid_from) over (partition by n.unit_type, n.admin_area_code order by n.unit_valid_from)
    end as next_unit_valid_from
from named as n
