-- The portal's published 766 index, latest version per (period, group, metric, portal unit), mapped to the catalogue:
-- one row per indicator the portal publishes counts or points for (row_kind 'indicator') and one per group score
-- (row_kind 'group', indicator_code = the group, e.g. QD766.CLGQ, which the portal publishes only as a group).
-- The portal's classification metrics (max 0, not in the catalogue) are left out.
with

versions as (
    select
        *,
        max(_seq) over (partition by period_type, period_start, group_code, metric_code, department_id) as source_seq,
        row_number() over (
            partition by period_type, period_start, group_code, metric_code, department_id order by _seq desc
        ) as version_rank
    from {{ source('national_portal', 'portal_indicator_scores') }}
),

latest as (
    select *
    from versions
    where version_rank = 1 and not _is_deleted
),

-- sources.md §5: the portal's group and metric -> catalogue code. Tree groups publish counts as unit fields,
-- named "<numerator>/<denominator>" by the extractor; "totalScore" is a unit's score for the whole group.
metric_map (portal_group, metric_code, indicator_code, has_points) as (
    values
    ('transparency', 'PUBLISH_ON_TIME', 'QD766.CKMB.PUBLISH_ON_TIME', true),
    ('transparency', 'PUBLIC_UPDATE_ON_TIME', 'QD766.CKMB.PUBLIC_UPDATE_ON_TIME', true),
    ('transparency', 'PUBLIC_CONTENT_FULL', 'QD766.CKMB.PUBLIC_CONTENT_FULL', true),
    ('transparency', 'DOSSIER_SYNC', 'QD766.CKMB.DOSSIER_SYNC', true),
    ('transparency', 'totalScore', 'QD766.CKMB', true),
    ('dvc-progress-tree', 'totalOnTime/totalReceived', 'QD766.TDGQ.ON_TIME', true),
    ('dvc-progress-tree', 'totalScore', 'QD766.TDGQ', true),
    ('provide-online-tree', 'totalScore', 'QD766.CLGQ', true),
    ('dossier-digitized', 'ORIGINAL_RESULT_AVAILABLE', 'QD766.MDSH.E_RESULT', true),
    ('dossier-digitized', 'SO_HOA_GIAY_TO_GIAI_QUYET', 'QD766.MDSH.DIGITIZED', true),
    ('dossier-digitized', 'REUSED_DIGITIZED_DATA', 'QD766.MDSH.REUSED_DATA', true),
    ('dossier-digitized', 'SYNCED_WITH_DVCQG_PERSONAL_STORAGE', 'QD766.MDSH.PERSONAL_STORAGE', true),
    ('dossier-digitized', 'CITIZEN_DATA_CONNECTED_DOSSIER', 'QD766.MDSH.POPULATION_DATA_DOSSIER', true),
    ('dossier-digitized', 'CITIZEN_DATA_CONNECTED_FORMALITY', 'QD766.MDSH.POPULATION_DATA_PROCEDURE', true),
    ('dossier-digitized', 'ELECTRONIC_CERTIFIED_COPY', 'QD766.MDSH.E_CERTIFIED_COPY', true),
    ('dossier-digitized', 'totalScore', 'QD766.MDSH', true),
    (
        'formality-online-payment-tree',
        'totalDossierOnlinePaymentSuccess/totalDossierFinancialObligation',
        'QD766.TTTT.DOSSIERS_PAID_ONLINE',
        false
    ),
    (
        'formality-online-payment-tree',
        'totalDossierOnlineFormalityPaymentSuccess/totalFeeDossierFormalityDistinct',
        'QD766.TTTT.PROCEDURES_WITH_ONLINE_PAYMENT',
        false
    ),
    (
        'formality-online-payment-tree',
        'totalFeeDossierFormality/totalFeeFormality',
        'QD766.TTTT.FEE_PROCEDURES_INTEGRATED',
        false
    ),
    ('formality-online-payment-tree', 'totalScore', 'QD766.TTTT', true),
    ('handling-satisfaction', 'DOSSIER_RECEIVING_SATISFACTION', 'QD766.MDHL.DOSSIER_SATISFACTION', true),
    ('handling-satisfaction', 'PETITION_PROCESSING_ON_TIME', 'QD766.MDHL.PETITION_ON_TIME', true),
    ('handling-satisfaction', 'PETITION_HANDLING_SATISFACTION', 'QD766.MDHL.PETITION_SATISFACTION', true),
    ('handling-satisfaction', 'totalScore', 'QD766.MDHL', true)
),

mapped as (
    select
        l.*,
        m.indicator_code,
        m.has_points,
        split_part(m.indicator_code, '.', 2) as qd766_group,
        case when l.metric_code = 'totalScore' then 'group' else 'indicator' end as row_kind,
        coalesce(l.data_quality_status = 'TEMP_NATIONAL_REPORT_DENOMINATOR', false) as is_flagged
    from latest as l
    inner join metric_map as m on l.group_code = m.portal_group and l.metric_code = m.metric_code
)

select
    period_type,
    period_start,
    period_end,
    indicator_code,
    row_kind,
    qd766_group as group_code,
    group_code as portal_group,
    metric_code as portal_metric,
    department_id,
    -- not every group sends departmentCode (transparency, handling-satisfaction): the unit's code from any group
    -- of the period, the portal's id being the same in all
    coalesce(
        department_code,
        max(department_code) over (partition by period_type, period_start, department_id)
    ) as department_code,
    department_name,
    coalesce(department_level, max(department_level) over (partition by period_type, period_start, department_id))
        as department_level,
    is_root,
    numerator,
    denominator,
    ratio as ratio_pct,
    -- a scored metric with nothing to measure shows no score and adds 0 to its group; a metric the portal publishes
    -- as counts only (TTTT: the group's score alone) has no points of its own
    case when has_points then coalesce(score, 0) end as points,
    max_score as max_points,
    data_quality_status,
    -- the portal flags its own figure (a temporary denominator); a group score is flagged when any of its metrics is
    case
        when row_kind = 'group'
            then bool_or(is_flagged) over (partition by period_type, period_start, qd766_group, department_id)
        else is_flagged
    end as is_provisional,
    source_seq,
    _loaded_at as loaded_at
from mapped
