-- rpt_unit_improvement's counts against the published points: with no item the formula gives the points
-- fct_indicator_values published (so both read the catalogue the same way); count_needed_for_full items give full
-- points and one fewer does not (the count is the smallest). Not checked where the count is a minimum (the
-- composite clamped at 0).
select
    i.basis,
    i.unit_code,
    i.scope,
    i.period_type,
    i.period_start,
    i.indicator_code,
    i.points,
    {{ improvement_points_after('0', 'i.') }} as points_recomputed,
    {{ improvement_points_after('i.count_needed_for_full', 'i.') }} as points_with_count,
    {{ improvement_points_after('i.count_needed_for_full - 1', 'i.') }} as points_with_one_fewer
from {{ ref('rpt_unit_improvement') }} as i
where
    i.is_applicable
    and i.max_points > 0
    and i.count_needed_for_full is not null
    and not i.count_is_minimum
    and (
        {{ improvement_points_after('0', 'i.') }} != i.points
        or {{ improvement_points_after('i.count_needed_for_full', 'i.') }} != i.max_points
        or (
            i.count_needed_for_full > 0
            and {{ improvement_points_after('i.count_needed_for_full - 1', 'i.') }} >= i.max_points
        )
    )
