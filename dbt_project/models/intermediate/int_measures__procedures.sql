-- Procedure indicators (warehouse.md ⓟ / ⓟ*): numerator and denominator per (basis, period, unit, scope), long
-- form, from the procedure catalogue. ⓟ*: the province's publication duty, over the whole catalogue, the same for
-- every unit and scope. ⓟ: the procedures under the competence of the scope's units (union), in the catalogue at
-- the period's end.
{#- enable_nestloop off: row estimates through the staging view (latest-version window: 8 of 1,855 procedures)
    are off by orders of magnitude and nested loops over them took minutes. Inputs are cut to the affected
    periods first, so hash joins are always right. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[{'columns': ['period_type', 'period_start']}, {'columns': ['_refreshed_at']}],
        pre_hook="set local enable_nestloop = off",
    )
}}

{%- set lookups = [
    ref('stg_one_stop_shop__units'),
    ref('int_unit_members'),
    ref('stg_one_stop_shop__procedures'),
    ref('int_calendar_days'),
    ref('unit_types'),
] %}
{%- set affected = measure_period_rows(lookups) %}

with

periods as (
    select p.*
    from {{ ref('int_periods') }} as p
    where {{ period_filter(affected, 'p') }}
),

measure_rows as (
    {{ measure_rows(affected) }}
),

procedures as (
    select
        pr.*,
        announced.working_day_number as announced_wdn,
        effective.working_day_number as effective_wdn,
        published.working_day_number as published_wdn
    from {{ ref('stg_one_stop_shop__procedures') }} as pr
    left join {{ ref('int_calendar_days') }} as announced on pr.announced_on = announced.date_day
    left join {{ ref('int_calendar_days') }} as effective on pr.legal_basis_effective_on = effective.date_day
    left join {{ ref('int_calendar_days') }} as published on pr.published_on = published.date_day
),

-- ⓟ*: working days between a < b = working days in (a, b]
publication as (
    select
        p.period_type,
        p.period_start,
        count(*) filter (where pr.announced_on between p.period_start and p.period_end) as announced,
        count(*) filter (
            where
            pr.announced_on between p.period_start and p.period_end
            and pr.effective_wdn - pr.announced_wdn >= 5
        ) as announced_on_time,
        count(*) filter (
            where
            pr.announced_on between p.period_start and p.period_end
            and pr.published_wdn - pr.announced_wdn <= 5
        ) as published_on_time,
        count(*) filter (where pr.announced_on <= p.period_end) as procedures_at_end,
        count(*) filter (where pr.announced_on <= p.period_end and pr.is_content_full) as content_full_at_end
    from periods as p
    cross join procedures as pr
    group by p.period_type, p.period_start
),

-- ⓟ: the union of the procedures of the scope's members valid on the row's as_of day (member_unit_type is NULL
-- otherwise); a procedure with no announcement date counts as in the catalogue. A procedure is either listed
-- (its donViThucHien names units) or level-wide (empty list: every unit of its level), never both, and has one
-- level; so the union's size is the distinct listed procedures of the members plus, for each distinct level of
-- the members' types, that level's procedures. Counting pairs of (row, procedure) instead meant ~10^7 rows
-- (every commune has every commune-level procedure) and a sort that took most of a full build.
level_counts as (
    select
        p.period_type,
        p.period_start,
        pr.procedure_level,
        count(*) as procedures,
        count(*) filter (where pr.online_service_level in ('TOAN_TRINH', 'MOT_PHAN')) as procedures_online,
        count(*) filter (where pr.is_for_citizens) as citizen_procedures,
        count(*) filter (where pr.is_for_citizens and pr.uses_population_data) as citizen_procedures_connected,
        count(*) filter (where pr.is_fee_bearing) as fee_procedures,
        count(*) filter (where pr.is_fee_bearing and pr.has_online_payment) as fee_procedures_integrated
    from periods as p
    inner join procedures as pr
        on coalesce(pr.announced_on, p.period_end) <= p.period_end and cardinality(pr.competent_unit_codes) = 0
    group by p.period_type, p.period_start, pr.procedure_level
),

scope_levels as (
    select distinct
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        t.procedure_level
    from {{ ref('int_scope_members') }} as s
    inner join {{ ref('unit_types') }} as t on s.member_unit_type = t.unit_type
    where {{ period_filter(affected, 's') }}
),

level_competence as (
    select
        sl.basis,
        sl.period_type,
        sl.period_start,
        sl.unit_code,
        sl.unit_valid_from,
        sl.scope,
        sum(lc.procedures) as procedures,
        sum(lc.procedures_online) as procedures_online,
        sum(lc.citizen_procedures) as citizen_procedures,
        sum(lc.citizen_procedures_connected) as citizen_procedures_connected,
        sum(lc.fee_procedures) as fee_procedures,
        sum(lc.fee_procedures_integrated) as fee_procedures_integrated
    from scope_levels as sl
    inner join level_counts as lc
        on
            sl.period_type = lc.period_type
            and sl.period_start = lc.period_start
            and sl.procedure_level = lc.procedure_level
    group by sl.basis, sl.period_type, sl.period_start, sl.unit_code, sl.unit_valid_from, sl.scope
),

-- listed procedures: a procedure listing two members of the scope counts once
listed_competence as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        count(distinct pr.procedure_code) as procedures,
        count(distinct pr.procedure_code) filter (
            where pr.online_service_level in ('TOAN_TRINH', 'MOT_PHAN')
        ) as procedures_online,
        count(distinct pr.procedure_code) filter (where pr.is_for_citizens) as citizen_procedures,
        count(distinct pr.procedure_code) filter (
            where pr.is_for_citizens and pr.uses_population_data
        ) as citizen_procedures_connected,
        count(distinct pr.procedure_code) filter (where pr.is_fee_bearing) as fee_procedures,
        count(distinct pr.procedure_code) filter (
            where pr.is_fee_bearing and pr.has_online_payment
        ) as fee_procedures_integrated
    from {{ ref('int_scope_members') }} as s
    inner join periods as p on s.period_type = p.period_type and s.period_start = p.period_start
    inner join {{ ref('int_procedure_competence') }} as c
        on s.member_unit_code = c.unit_code and s.member_unit_type = c.unit_type
    inner join procedures as pr
        on
            c.procedure_code = pr.procedure_code
            and cardinality(pr.competent_unit_codes) > 0
            and coalesce(pr.announced_on, p.period_end) <= p.period_end
    where {{ period_filter(affected, 's') }}
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope
),

measured as (
    select
        r.*,
        pub.announced,
        pub.announced_on_time,
        pub.published_on_time,
        pub.procedures_at_end,
        pub.content_full_at_end,
        coalesce(lv.procedures, 0) + coalesce(li.procedures, 0) as procedures,
        coalesce(lv.procedures_online, 0) + coalesce(li.procedures_online, 0) as procedures_online,
        coalesce(lv.citizen_procedures, 0) + coalesce(li.citizen_procedures, 0) as citizen_procedures,
        coalesce(lv.citizen_procedures_connected, 0) + coalesce(li.citizen_procedures_connected, 0) as citizen_procedures_connected,
        coalesce(lv.fee_procedures, 0) + coalesce(li.fee_procedures, 0) as fee_procedures,
        coalesce(lv.fee_procedures_integrated, 0) + coalesce(li.fee_procedures_integrated, 0) as fee_procedures_integrated
    from measure_rows as r
    inner join publication as pub on r.period_type = pub.period_type and r.period_start = pub.period_start
    left join level_competence as lv
        on
            r.period_type = lv.period_type
            and r.period_start = lv.period_start
            and r.unit_code = lv.unit_code
            and r.basis = lv.basis
            and r.unit_valid_from = lv.unit_valid_from
            and r.scope = lv.scope
    left join listed_competence as li
        on
            r.period_type = li.period_type
            and r.period_start = li.period_start
            and r.unit_code = li.unit_code
            and r.basis = li.basis
            and r.unit_valid_from = li.unit_valid_from
            and r.scope = li.scope
)

select
    m.basis,
    m.period_type,
    m.period_start,
    m.unit_code,
    m.unit_valid_from,
    m.scope,
    m.unit_type,
    v.indicator_code,
    v.numerator::numeric as numerator,
    v.denominator::numeric as denominator,
    null::numeric as composite_value,
    null::boolean as composite_applicable,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from measured as m
cross join lateral (
    values
    ('QD766.CKMB.PUBLISH_ON_TIME', m.announced_on_time, m.announced),
    ('QD766.CKMB.PUBLIC_UPDATE_ON_TIME', m.published_on_time, m.announced),
    ('QD766.CKMB.PUBLIC_CONTENT_FULL', m.content_full_at_end, m.procedures_at_end),
    ('QD766.CLGQ.ONLINE_SERVICE_OFFERED', m.procedures_online, m.procedures),
    ('QD766.MDSH.POPULATION_DATA_PROCEDURE', m.citizen_procedures_connected, m.citizen_procedures),
    ('QD766.TTTT.FEE_PROCEDURES_INTEGRATED', m.fee_procedures_integrated, m.fee_procedures)
) as v (indicator_code, numerator, denominator)
