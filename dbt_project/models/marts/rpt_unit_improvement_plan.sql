-- A plan to the next QD766 band, one row per step, for every (basis, unit, scope, period) below the top band.
-- Greedy, cheapest first: the unit's QD766 indicators that can still gain points by items (count_needed_for_full
-- known and > 0; the province's own duties, the ⓟ* publication indicators, only in the province committee's plan)
-- ordered by items per point (count_needed_for_full / points_lost; indicator code breaks ties), each brought to
-- full points until the band is reached; the step that crosses the gap takes only the fewest items whose rounded
-- points close it (is_partial when that is fewer than full). Each indicator's points grow linearly with its items,
-- so cheapest-first is the cheapest way up to the rounding of whole items: greedy, not an exhaustive search.
-- Indicators are taken as independent (fewer late dossiers also raise the satisfaction composite: the real gain is
-- then larger). When every step together falls short (a not-applicable indicator scored 0 by its rule cannot be
-- raised by items) every step is listed and the last one says reaches_band = false.
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
    )
}}

with

affected as (
    {{ affected_periods([ref('rpt_unit_improvement')]) }}
),

candidates as (
    select
        i.*,
        row_number() over unit_order as step,
        sum(i.points_lost) over unit_order - i.points_lost as points_before
    from {{ ref('rpt_unit_improvement') }} as i
    inner join affected as a on i.period_type = a.period_type and i.period_start = a.period_start
    where
        i.framework = 'QD766'
        and i.next_band is not null
        and i.points_lost > 0
        and i.count_needed_for_full > 0
        and (not i.is_province_duty or i.unit_type = 'UBND_TINH')
    window unit_order as (
        partition by i.basis, i.unit_code, i.unit_valid_from, i.scope, i.period_type, i.period_start
        order by i.items_per_point, i.indicator_code
        rows between unbounded preceding and current row
    )
),

-- the steps taken: those begun before the gap is closed
steps as (
    select
        c.*,
        c.points_lost > c.points_to_next_band - c.points_before as crosses_gap,
        c.points_to_next_band - c.points_before as points_remaining
    from candidates as c
    where c.points_before < c.points_to_next_band
),

sized as (
    select
        s.*,
        case
            when s.crosses_gap then {{ improvement_items_for('s.points + s.points_remaining', 's.') }}
            else s.count_needed_for_full
        end as items
    from steps as s
),

gained as (
    select
        z.*,
        case
            when z.items < z.count_needed_for_full then {{ improvement_points_after('z.items', 'z.') }} - z.points
            else z.points_lost
        end as points_gained
    from sized as z
)

select
    g.basis,
    g.unit_code,
    g.unit_valid_from,
    g.scope,
    g.period_type,
    g.period_start,
    g.step::integer as step,
    g.period_end,
    g.unit_name,
    g.indicator_code,
    g.indicator_name_vi,
    g.item_action,
    g.item_vi,
    g.items,
    g.points_gained,
    sum(g.points_gained) over unit_steps as cumulative_points,
    g.total_points,
    g.total_points + sum(g.points_gained) over unit_steps as total_after,
    g.band,
    g.next_band,
    g.next_band_lower_bound,
    g.points_to_next_band,
    g.total_points + sum(g.points_gained) over unit_steps >= g.next_band_lower_bound as reaches_band,
    g.items < g.count_needed_for_full as is_partial,
    g.items_per_point,
    g.count_needed_for_full,
    g.points_lost,
    {{ run_stamp() }} as _refreshed_at
from gained as g
window unit_steps as (
    partition by g.basis, g.unit_code, g.unit_valid_from, g.scope, g.period_type, g.period_start
    order by g.step
    rows between unbounded preceding and current row
)
