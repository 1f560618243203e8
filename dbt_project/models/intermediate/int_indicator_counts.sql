-- Numerator and denominator of every indicator per (period, unit, scope), long form. Points are taken in
-- fct_indicator_values from the catalogue. Counts are summed over the scope first, then divided there.
{#- enable_nestloop off: row estimates through the staging views (latest-version window: 8 of 1,855
    procedures) and a dozen materialised CTEs are off by orders of magnitude, and nested loops over them took
    minutes for one day. Every input is cut to the affected periods first, so hash/merge joins are always right. -#}
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
] %}

{#- Every upstream is cut to the affected periods by literal pairs before the joins (see period_filter). -#}
{%- set affected = affected_period_rows([
    ref('int_dossier_scope_periods'),
    ref('int_petition_periods'),
    ref('int_document_periods'),
    ref('int_signature_periods'),
], lookups) %}

with

periods as (
    select p.*
    from {{ ref('int_periods') }} as p
    where {{ period_filter(affected, 'p') }}
),

unit_periods as (
    select u.*
    from {{ ref('int_unit_periods') }} as u
    where {{ period_filter(affected, 'u') }}
),

-- members with their register attributes on the row's as_of day (NULL when the member was not valid then)
scopes as (
    select s.*
    from {{ ref('int_scope_members') }} as s
    where {{ period_filter(affected, 's') }}
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

-- ⓟ*: the province's publication duty, over the whole catalogue, same value for every unit and scope.
-- Working days between a < b = working days in (a, b].
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

-- ⓟ: procedures under the competence of the scope's units (union), in the catalogue at period end.
competence as (
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
    from scopes as s
    inner join periods as p on s.period_type = p.period_type and s.period_start = p.period_start
    inner join {{ ref('int_procedure_competence') }} as c
        on s.member_unit_code = c.unit_code and s.member_unit_type = c.unit_type
    inner join procedures as pr
        on c.procedure_code = pr.procedure_code and coalesce(pr.announced_on, p.period_end) <= p.period_end
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope
),

petitions as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        coalesce(sum(pp.handled_on_time), 0) as handled_on_time,
        coalesce(sum(pp.handled_on_time + pp.handled_late), 0) as handled,
        coalesce(sum(pp.dissatisfied), 0) as dissatisfied,
        coalesce(sum(pp.in_progress_within) filter (where s.member_at_end), 0) as in_progress_within,
        coalesce(sum(pp.in_progress_within + pp.in_progress_overdue) filter (where s.member_at_end), 0)
            as in_progress_total
    from scopes as s
    left join (
        select pp.* from {{ ref('int_petition_periods') }} as pp
        where {{ period_filter(affected, 'pp') }}
    ) as pp
        on
            s.period_type = pp.period_type
            and s.period_start = pp.period_start
            and s.member_unit_code = pp.unit_code
            and s.member_valid_from = pp.unit_valid_from
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope
),

documents as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        coalesce(sum(dp.incoming_total), 0) as incoming_total,
        coalesce(sum(dp.incoming_electronic), 0) as incoming_electronic,
        coalesce(sum(dp.outgoing_total), 0) as outgoing_total,
        coalesce(sum(dp.outgoing_electronic), 0) as outgoing_electronic,
        coalesce(sum(dp.outgoing_signed), 0) as outgoing_signed,
        coalesce(sum(dp.outgoing_via_axis), 0) as outgoing_via_axis,
        coalesce(sum(dp.paper_parallel), 0) as paper_parallel,
        coalesce(sum(dp.work_files_total), 0) as work_files_total,
        coalesce(sum(dp.work_files_online), 0) as work_files_online
    from scopes as s
    left join (
        select dp.* from {{ ref('int_document_periods') }} as dp
        where {{ period_filter(affected, 'dp') }}
    ) as dp
        on
            s.period_type = dp.period_type
            and s.period_start = dp.period_start
            and s.member_unit_code = dp.unit_code
            and s.member_valid_from = dp.unit_valid_from
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope
),

signatures as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        coalesce(sum(sp.personal_certs_active) filter (where s.member_at_end), 0) as personal_certs_active,
        coalesce(sum(sp.personal_signatures), 0) as personal_signatures,
        coalesce(sum(sp.org_signatures + sp.personal_signatures), 0) as signatures,
        coalesce(sum(sp.remote_signatures), 0) as remote_signatures,
        count(*) filter (where s.member_at_end) as units_in_scope,
        count(*) filter (where s.member_at_end and sp.org_certs_active > 0) as units_with_org_cert,
        coalesce(sum(s.member_staff_count) filter (where s.member_at_end), 0) as staff,
        -- electronic certified copies are a commune service
        count(*) filter (where s.member_unit_type = 'UBND_XA') as communes,
        count(*) filter (
            where s.member_unit_type = 'UBND_XA' and s.member_offers_e_certified_copy
        ) as communes_with_e_copy
    from scopes as s
    left join (
        select sp.* from {{ ref('int_signature_periods') }} as sp
        where {{ period_filter(affected, 'sp') }}
    ) as sp
        on
            s.period_type = sp.period_type
            and s.period_start = sp.period_start
            and s.member_unit_code = sp.unit_code
            and s.member_valid_from = sp.unit_valid_from
    group by s.basis, s.period_type, s.period_start, s.unit_code, s.unit_valid_from, s.scope
),

measures as (
    select
        g.basis,
        g.period_type,
        g.period_start,
        g.unit_code,
        g.unit_valid_from,
        g.scope,
        u.unit_type,
        p.esign_working_days,
        pub.announced,
        pub.announced_on_time,
        pub.published_on_time,
        pub.procedures_at_end,
        pub.content_full_at_end,
        coalesce(c.procedures, 0) as procedures,
        coalesce(c.procedures_online, 0) as procedures_online,
        coalesce(c.citizen_procedures, 0) as citizen_procedures,
        coalesce(c.citizen_procedures_connected, 0) as citizen_procedures_connected,
        coalesce(c.fee_procedures, 0) as fee_procedures,
        coalesce(c.fee_procedures_integrated, 0) as fee_procedures_integrated,
        coalesce(d.received_total, 0) as received_total,
        coalesce(d.received_online, 0) as received_online,
        coalesce(d.received_on_full_online_procedures, 0) as received_on_full_online_procedures,
        coalesce(d.received_full_online_on_full_online_procedures, 0)
            as received_full_online_on_full_online_procedures,
        coalesce(d.resolved_total, 0) as resolved_total,
        coalesce(d.resolved_early + d.resolved_on_time, 0) as resolved_in_time,
        coalesce(d.resolved_late, 0) as resolved_late,
        coalesce(d.in_progress_total, 0) as in_progress_total,
        coalesce(d.in_progress_within, 0) as in_progress_within,
        coalesce(d.in_progress_overdue, 0) as in_progress_overdue,
        coalesce(d.synced, 0) as synced,
        coalesce(d.e_result, 0) as e_result,
        coalesce(d.digitized, 0) as digitized,
        coalesce(d.reused_data, 0) as reused_data,
        coalesce(d.personal_storage, 0) as personal_storage,
        coalesce(d.population_data, 0) as population_data,
        coalesce(d.fee_due, 0) as fee_due,
        coalesce(d.paid_online, 0) as paid_online,
        coalesce(d.dissatisfied, 0) as dossier_dissatisfied,
        coalesce(d.fee_procedures_with_dossier, 0) as fee_procedures_with_dossier,
        coalesce(d.fee_procedures_paid_online, 0) as fee_procedures_paid_online,
        pt.handled_on_time as petitions_on_time,
        pt.handled as petitions_handled,
        pt.dissatisfied as petitions_dissatisfied,
        pt.in_progress_within as petitions_in_progress_within,
        pt.in_progress_total as petitions_in_progress,
        doc.incoming_total,
        doc.incoming_electronic,
        doc.outgoing_total,
        doc.outgoing_electronic,
        doc.outgoing_signed,
        doc.outgoing_via_axis,
        doc.paper_parallel,
        doc.work_files_total,
        doc.work_files_online,
        sig.personal_certs_active,
        sig.personal_signatures,
        sig.signatures,
        sig.remote_signatures,
        sig.units_in_scope,
        sig.units_with_org_cert,
        sig.staff,
        sig.communes,
        sig.communes_with_e_copy
    from signatures as sig
    inner join (
        select distinct
            basis,
            period_type,
            period_start,
            unit_code,
            unit_valid_from,
            scope
        from scopes
    ) as g
        on
            sig.basis = g.basis
            and sig.period_type = g.period_type
            and sig.period_start = g.period_start
            and sig.unit_code = g.unit_code
            and sig.unit_valid_from = g.unit_valid_from
            and sig.scope = g.scope
    inner join periods as p on g.period_type = p.period_type and g.period_start = p.period_start
    inner join unit_periods as u
        on
            g.basis = u.basis
            and g.period_type = u.period_type
            and g.period_start = u.period_start
            and g.unit_code = u.unit_code
            and g.unit_valid_from = u.unit_valid_from
    inner join publication as pub on g.period_type = pub.period_type and g.period_start = pub.period_start
    inner join petitions as pt
        on
            g.period_type = pt.period_type
            and g.period_start = pt.period_start
            and g.unit_code = pt.unit_code
            and g.basis = pt.basis
            and g.unit_valid_from = pt.unit_valid_from
            and g.scope = pt.scope
    inner join documents as doc
        on
            g.period_type = doc.period_type
            and g.period_start = doc.period_start
            and g.unit_code = doc.unit_code
            and g.basis = doc.basis
            and g.unit_valid_from = doc.unit_valid_from
            and g.scope = doc.scope
    left join competence as c
        on
            g.period_type = c.period_type
            and g.period_start = c.period_start
            and g.unit_code = c.unit_code
            and g.basis = c.basis
            and g.unit_valid_from = c.unit_valid_from
            and g.scope = c.scope
    left join (
        select d.* from {{ ref('int_dossier_scope_periods') }} as d
        where {{ period_filter(affected, 'd') }}
    ) as d
        on
            g.period_type = d.period_type
            and g.period_start = d.period_start
            and g.unit_code = d.unit_code
            and g.basis = d.basis
            and g.unit_valid_from = d.unit_valid_from
            and g.scope = d.scope
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
    v.composite_value::numeric as composite_value,
    v.composite_applicable,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from measures as m
cross join lateral (
    values
    ('QD766.CKMB.PUBLISH_ON_TIME', m.announced_on_time, m.announced, null, null),
    ('QD766.CKMB.PUBLIC_UPDATE_ON_TIME', m.published_on_time, m.announced, null, null),
    ('QD766.CKMB.PUBLIC_CONTENT_FULL', m.content_full_at_end, m.procedures_at_end, null, null),
    ('QD766.CKMB.DOSSIER_SYNC', m.synced, m.received_total, null, null),
    (
        'QD766.TDGQ.ON_TIME', m.resolved_in_time + m.in_progress_within,
        m.resolved_total + m.in_progress_total, null, null
    ),
    (
        'QD766.CLGQ.FULL_ONLINE_DOSSIERS', m.received_full_online_on_full_online_procedures,
        m.received_on_full_online_procedures, null, null
    ),
    ('QD766.CLGQ.ONLINE_SERVICE_OFFERED', m.procedures_online, m.procedures, null, null),
    ('QD766.CLGQ.ONLINE_DOSSIER_SHARE', m.received_online, m.received_total, null, null),
    ('QD766.MDSH.E_RESULT', m.e_result, m.resolved_total, null, null),
    ('QD766.MDSH.DIGITIZED', m.digitized, m.received_total, null, null),
    ('QD766.MDSH.E_CERTIFIED_COPY', m.communes_with_e_copy, m.communes, null, null),
    ('QD766.MDSH.REUSED_DATA', m.reused_data, m.received_total, null, null),
    ('QD766.MDSH.PERSONAL_STORAGE', m.personal_storage, m.received_total, null, null),
    ('QD766.MDSH.POPULATION_DATA_DOSSIER', m.population_data, m.received_total, null, null),
    (
        'QD766.MDSH.POPULATION_DATA_PROCEDURE', m.citizen_procedures_connected,
        m.citizen_procedures, null, null
    ),
    ('QD766.TTTT.DOSSIERS_PAID_ONLINE', m.paid_online, m.fee_due, null, null),
    (
        'QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT', m.fee_procedures_paid_online,
        m.fee_procedures_with_dossier, null, null
    ),
    ('QD766.TTTT.FEE_PROCEDURES_INTEGRATED', m.fee_procedures_integrated, m.fee_procedures, null, null),
    (
        'QD766.MDHL.PETITION_ON_TIME', m.petitions_on_time + m.petitions_in_progress_within,
        m.petitions_handled + m.petitions_in_progress, null, null
    ),
    (
        'QD766.MDHL.PETITION_SATISFACTION', greatest(0, m.petitions_handled - m.petitions_dissatisfied),
        m.petitions_handled, null, null
    ),
    -- composite: max(0, 1 − overdue rate − dissatisfied rate); no meaningful numerator / denominator
    (
        'QD766.MDHL.DOSSIER_SATISFACTION', null, null,
        case
            when m.resolved_total + m.in_progress_total > 0
                then greatest(
                        0,
                        1
                        - (m.resolved_late + m.in_progress_overdue)::numeric / (m.resolved_total + m.in_progress_total)
                        - case
                            when m.resolved_total > 0 then m.dossier_dissatisfied::numeric / m.resolved_total
                            else 0
                        end
                    )
        end,
        m.resolved_total + m.in_progress_total > 0
    ),
    ('EDOC.OUTGOING_SIGNED', m.outgoing_signed, m.outgoing_total, null, null),
    (
        'EDOC.ELECTRONIC_EXCHANGE', m.incoming_electronic + m.outgoing_electronic,
        m.incoming_total + m.outgoing_total, null, null
    ),
    ('EDOC.VIA_AXIS', m.outgoing_via_axis, m.outgoing_electronic, null, null),
    ('EDOC.PAPER_PARALLEL', m.paper_parallel, m.outgoing_total, null, null),
    ('EDOC.WORK_FILES_ONLINE', m.work_files_online, m.work_files_total, null, null),
    ('ESIGN.STAFF_CERT_COVERAGE', m.personal_certs_active, m.staff, null, null),
    ('ESIGN.ORG_CERT', m.units_with_org_cert, m.units_in_scope, null, null),
    ('ESIGN.SIGNATURES_PER_STAFF', m.personal_signatures, m.staff * m.esign_working_days, null, null),
    ('ESIGN.REMOTE_SHARE', m.remote_signatures, m.signatures, null, null)
) as v (indicator_code, numerator, denominator, composite_value, composite_applicable)
