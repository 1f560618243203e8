-- The calendar periods (as the national portal publishes the 766 index) for the period filters.
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
select
    p.period_type,
    p.period_type_label,
    p.period_label,
    p.sort_key as period_sort,
    p.is_complete,
    p.period_start,
    p.period_end
from {{ ref('dim_periods') }} as p
where p.period_type in ('month', 'quarter', 'year')
