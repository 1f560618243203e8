-- "What it takes": per (basis, unit, scope, period, indicator) the points lost, how many more items of the
-- numerator's kind bring the indicator to full points, what an item is worth, and for the unit the points to the
-- next QD766 band and to the unit ranked just above in each ranking. Built on the marts only (fct_indicator_values,
-- rpt_qd766_scores, rpt_unit_rankings, rpt_dossier_report, dim_units) and the catalogue seeds.
--
-- count_needed_for_full (full = published points, rounded half-up to 2 decimals, equal to max_points; macros/
-- improvement.sql): the same denominator, more numerator items: for a dossier indicator on the handled base, more
-- of the handled dossiers of the numerator's kind (digitised, reusing data, ...), so the base stays. Capped
-- indicators count up to the cap (ceil(cap × den − num), fewer when rounding already gives full points), linear
-- ones up to den. Lower is better (paper in parallel): items to REMOVE from the numerator (item_action 'remove').
-- DOSSIER_SATISFACTION = max(0, 1 − overdue rate − dissatisfied rate): each late / overdue dossier fewer (or a
-- dissatisfied rating fewer, the rates sharing the handled base) raises it by 1 / handled; the count is how many
-- fewer reach the 0.9 cap. Its value clamped at 0 hides how far below it is: the count is then a minimum
-- (count_is_minimum). Not applicable (denominator 0): rule full → 0 needed; rule zero → NULL (note_vi says why).
-- Indicators with max 0 (shown, not scored): NULL. points_to_next_rank: points that tie the unit ranked just above
-- (ties share a rank), per ranking: QD766 (QD766 points) and CDS (CDS points).
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period_type', 'period_start'],
        indexes=[
            {'columns': ['period_type', 'period_start']},
            {'columns': ['unit_code']},
            {'columns': ['_refreshed_at']},
        ],
        pre_hook="set local enable_mergejoin = off",
    )
}}

{#- enable_mergejoin off: the indicator rows are estimated at a tenth of their number (the affected-period join),
    so the unit-grain joins (scores, names, ranks) sorted every indicator row for merge joins: twice the time of
    hashing the few unit rows (4.4 s vs 2.3 s on two months of the demo province). -#}

{%- set composite = 'QD766.MDHL.DOSSIER_SATISFACTION' %}
{%- set lookups = [
    ref('indicator_catalogue'), ref('score_bands'), ref('ranking_weights'), ref('ranking_groups'), ref('dim_units'),
] %}

with

affected as (
    {{ affected_periods([
        ref('fct_indicator_values'), ref('rpt_qd766_scores'), ref('rpt_unit_rankings'), ref('rpt_dossier_report'),
    ], lookups) }}
),

-- what one item is, where the catalogue's numerator is a formula (one item more = one bad case fewer)
item_texts as (
    select
        v.indicator_code,
        v.item_vi
    from (
        values
        ('{{ composite }}', 'Hồ sơ trễ hạn, quá hạn hoặc bị đánh giá không hài lòng'),
        (
            'QD766.TDGQ.ON_TIME',
            'Hồ sơ giải quyết trước hạn, đúng hạn hoặc đang trong hạn (thay cho hồ sơ trễ hạn, quá hạn)'
        ),
        ('QD766.MDHL.PETITION_ON_TIME', 'PAKN xử lý đúng hạn hoặc đang trong hạn (thay cho PAKN quá hạn)'),
        ('QD766.MDHL.PETITION_SATISFACTION', 'PAKN đã xử lý được hài lòng (thay cho PAKN không hài lòng)'),
        (
            'EDOC.ELECTRONIC_EXCHANGE',
            'Văn bản đến, văn bản đi trao đổi dưới dạng điện tử (thay cho văn bản giấy)'
        )
    ) as v (indicator_code, item_vi)
),

-- handled dossiers (resolved in the period + in progress at its end): the composite's base
dossier_base as (
    select
        d.basis,
        d.unit_code,
        d.unit_valid_from,
        d.scope,
        d.period_type,
        d.period_start,
        d.resolved_total + d.in_progress_total as dossiers_handled
    from {{ ref('rpt_dossier_report') }} as d
    inner join affected as a on d.period_type = a.period_type and d.period_start = a.period_start
),

indicators as (
    select
        f.basis,
        f.unit_code,
        f.unit_valid_from,
        f.scope,
        f.period_type,
        f.period_start,
        f.indicator_code,
        f.framework,
        f.group_code,
        f.period_end,
        f.evaluated_to,
        cat.name_vi as indicator_name_vi,
        f.numerator,
        f.denominator,
        f.value,
        f.points,
        f.max_points,
        f.cap,
        cat.direction,
        f.is_applicable,
        cat.zero_denominator_rule,
        f.indicator_code = '{{ composite }}' as is_composite,
        b.dossiers_handled,
        coalesce(cat.procedure_scope = 'province', false) as is_province_duty,
        coalesce(t.item_vi, cat.numerator_vi) as item_vi,
        cat.denominator_vi,
        coalesce(w.multiplier, 0) as cds_multiplier
    from {{ ref('fct_indicator_values') }} as f
    inner join affected as a on f.period_type = a.period_type and f.period_start = a.period_start
    inner join {{ ref('indicator_catalogue') }} as cat
        on
            f.indicator_code = cat.indicator_code
            and f.period_end >= cat.valid_from
            and (cat.valid_to is null or f.period_end <= cat.valid_to)
    left join item_texts as t on f.indicator_code = t.indicator_code
    left join {{ ref('ranking_weights') }} as w
        on w.ranking_code = 'CDS' and w.component_kind = 'framework_total' and f.framework = w.component_code
    left join dossier_base as b
        on
            f.indicator_code = '{{ composite }}'
            and f.basis = b.basis
            and f.unit_code = b.unit_code
            and f.unit_valid_from = b.unit_valid_from
            and f.scope = b.scope
            and f.period_type = b.period_type
            and f.period_start = b.period_start
),

-- why a count is missing, zero or a minimum; NULL when the count says it all
gaps as (
    select
        i.*,
        i.max_points - i.points as points_lost,
        case
            when i.max_points = 0 then null
            when i.points >= i.max_points then 0
            when not i.is_applicable then null
            when i.is_composite and not coalesce(i.dossiers_handled > 0, false) then null
            else {{ improvement_items_for('i.max_points', 'i.') }}
        end as count_needed_for_full,
        i.is_composite and i.is_applicable and i.points < i.max_points and i.value = 0 as count_is_minimum,
        case
            when i.direction = 'lower_is_better' or i.is_composite then 'remove'
            else 'add'
        end as item_action,
        case
            when i.max_points = 0 or not i.is_applicable then null
            when i.is_composite then i.max_points / nullif(i.cap * i.dossiers_handled, 0)
            when i.direction = 'lower_is_better' then i.max_points / i.denominator
            else i.max_points / (i.cap * i.denominator)
        end as points_per_item,
        case
            when i.max_points = 0 then 'Chỉ tiêu theo dõi, không tính điểm'
            when not i.is_applicable and i.zero_denominator_rule = 'full'
                then 'Không phát sinh (mẫu số bằng 0): được tính đủ điểm theo quy tắc của chỉ số'
            when not i.is_applicable
                then
                    'Không phát sinh (mẫu số bằng 0): tính 0 điểm theo quy tắc của chỉ số; thêm tử số không đủ, cần phát sinh: '
                    || i.denominator_vi
            when i.is_composite and not coalesce(i.dossiers_handled > 0, false)
                then 'Không có số hồ sơ đã và đang giải quyết để tính số lượng cần giảm'
            when i.is_composite and i.points < i.max_points and i.value = 0
                then 'Tỷ lệ tổng hợp đang ở mức 0: cần giảm ít nhất số hồ sơ này, số thực tế có thể lớn hơn'
            when i.is_province_duty
                then 'Chỉ số do tỉnh thực hiện (công bố, công khai TTHC): cùng một giá trị cho mọi đơn vị'
        end as note_vi
    from indicators as i
),

scores as (
    select
        s.basis,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        s.period_type,
        s.period_start,
        s.evaluated_to,
        s.total_points,
        s.band,
        s.band_code,
        nb.name_vi as next_band,
        nb.band_code as next_band_code,
        nb.lower_bound as next_band_lower_bound,
        nb.lower_bound - s.total_points as points_to_next_band
    from {{ ref('rpt_qd766_scores') }} as s
    inner join affected as a on s.period_type = a.period_type and s.period_start = a.period_start
    left join lateral (
        select
            b.name_vi,
            b.band_code,
            b.lower_bound
        from {{ ref('score_bands') }} as b
        where b.framework = 'QD766' and b.lower_bound > s.total_points
        order by b.lower_bound
        limit 1
    ) as nb on true
),

-- the unit's name and type: its version valid at the period's (evaluated) end, else its latest one (current basis:
-- today's unit in a period before it existed)
unit_names as (
    select distinct on (s.basis, s.unit_code, s.unit_valid_from, s.scope, s.period_type, s.period_start)
        s.basis,
        s.unit_code,
        s.unit_valid_from,
        s.scope,
        s.period_type,
        s.period_start,
        u.unit_name,
        u.unit_type
    from scores as s
    inner join {{ ref('dim_units') }} as u on s.unit_code = u.unit_code and s.unit_valid_from = u.unit_valid_from
    order by
        s.basis asc, s.unit_code asc, s.unit_valid_from asc, s.scope asc, s.period_type asc, s.period_start asc,
        u.valid_from <= s.evaluated_to desc, u.valid_from desc
),

ranked as (
    select
        r.basis,
        r.ranking_code,
        r.period_type,
        r.period_start,
        r.unit_group,
        r.province_code,
        g.scope,
        r.unit_code,
        r.unit_valid_from,
        r.score,
        r.rank,
        r.units_ranked
    from {{ ref('rpt_unit_rankings') }} as r
    inner join affected as a on r.period_type = a.period_type and r.period_start = a.period_start
    inner join {{ ref('ranking_groups') }} as g on r.unit_group = g.unit_group
),

-- each distinct score of a ranking with the next higher one and the rank it holds
score_steps as (
    select
        basis,
        ranking_code,
        period_type,
        period_start,
        unit_group,
        province_code,
        score,
        lead(score) over w as score_above,
        lead(rank) over w as rank_above
    from (
        select
            basis,
            ranking_code,
            period_type,
            period_start,
            unit_group,
            province_code,
            score,
            min(rank) as rank
        from ranked
        group by basis, ranking_code, period_type, period_start, unit_group, province_code, score
    ) as distinct_scores
    window w as (partition by basis, ranking_code, period_type, period_start, unit_group, province_code order by score)
),

ranks as (
    select
        r.basis,
        r.unit_code,
        r.unit_valid_from,
        r.scope,
        r.period_type,
        r.period_start,
        min(r.unit_group) as unit_group,
        min(r.rank) filter (where r.ranking_code = 'QD766') as rank,
        min(r.units_ranked) filter (where r.ranking_code = 'QD766') as units_ranked,
        min(st.rank_above) filter (where r.ranking_code = 'QD766') as rank_above,
        min(st.score_above - r.score) filter (where r.ranking_code = 'QD766') as points_to_next_rank,
        min(r.score) filter (where r.ranking_code = 'CDS') as cds_score,
        min(r.rank) filter (where r.ranking_code = 'CDS') as cds_rank,
        min(r.units_ranked) filter (where r.ranking_code = 'CDS') as cds_units_ranked,
        min(st.rank_above) filter (where r.ranking_code = 'CDS') as cds_rank_above,
        min(st.score_above - r.score) filter (where r.ranking_code = 'CDS') as cds_points_to_next_rank
    from ranked as r
    inner join score_steps as st
        on
            r.basis = st.basis
            and r.ranking_code = st.ranking_code
            and r.period_type = st.period_type
            and r.period_start = st.period_start
            and r.unit_group = st.unit_group
            and r.province_code = st.province_code
            and r.score = st.score
    group by r.basis, r.unit_code, r.unit_valid_from, r.scope, r.period_type, r.period_start
)

select
    g.basis,
    g.unit_code,
    g.unit_valid_from,
    g.scope,
    g.period_type,
    g.period_start,
    g.indicator_code,
    g.period_end,
    g.evaluated_to,
    n.unit_name,
    n.unit_type,
    g.framework,
    g.group_code,
    g.indicator_name_vi,
    g.numerator,
    g.denominator,
    g.value,
    g.points,
    g.max_points,
    g.cap,
    g.direction,
    g.is_applicable,
    g.zero_denominator_rule,
    g.is_composite,
    g.dossiers_handled,
    g.is_province_duty,
    g.points_lost,
    g.count_needed_for_full,
    g.count_is_minimum,
    g.item_action,
    g.item_vi,
    g.points_per_item,
    case when g.points_lost > 0 then g.count_needed_for_full / g.points_lost end as items_per_point,
    g.cds_multiplier * g.points_lost as cds_points_lost,
    g.note_vi,
    s.total_points,
    s.band,
    s.band_code,
    s.next_band,
    s.next_band_code,
    s.next_band_lower_bound,
    s.points_to_next_band,
    r.unit_group,
    r.rank,
    r.units_ranked,
    r.rank_above,
    r.points_to_next_rank,
    r.cds_score,
    r.cds_rank,
    r.cds_units_ranked,
    r.cds_rank_above,
    r.cds_points_to_next_rank,
    {{ lookup_fingerprint(lookups) }} as _lookup_fingerprint,
    {{ run_stamp() }} as _refreshed_at
from gaps as g
left join scores as s
    on
        g.basis = s.basis
        and g.unit_code = s.unit_code
        and g.unit_valid_from = s.unit_valid_from
        and g.scope = s.scope
        and g.period_type = s.period_type
        and g.period_start = s.period_start
left join unit_names as n
    on
        g.basis = n.basis
        and g.unit_code = n.unit_code
        and g.unit_valid_from = n.unit_valid_from
        and g.scope = n.scope
        and g.period_type = n.period_type
        and g.period_start = n.period_start
left join ranks as r
    on
        g.basis = r.basis
        and g.unit_code = r.unit_code
        and g.unit_valid_from = r.unit_valid_from
        and g.scope = r.scope
        and g.period_type = r.period_type
        and g.period_start = r.period_start
