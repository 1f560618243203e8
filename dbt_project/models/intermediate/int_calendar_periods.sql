{{ config(indexes=[{"columns": ["date_day", "period_type"]}]) }}

-- Long form of the calendar: each date with each period holding it. base_period_* is the month or report
-- month the period is rolled up from (period_rollup macro).
with

days as (
    select * from {{ ref('int_calendar_days') }}
),

periods as (
    select
        d.date_day,
        p.period_type,
        p.period_start,
        p.period_end,
        p.base_period_type,
        p.base_period_start
    from days as d
    cross join lateral (
        values
        ('month', d.month_start, d.month_end, 'month', d.month_start),
        ('quarter', d.quarter_start, d.quarter_end, 'month', d.month_start),
        ('year', d.year_start, d.year_end, 'month', d.month_start),
        ('report_month', d.report_month_start, d.report_month_end, 'report_month', d.report_month_start),
        ('report_quarter', d.report_quarter_start, d.report_quarter_end, 'report_month', d.report_month_start),
        ('report_half', d.report_half_start, d.report_half_end, 'report_month', d.report_month_start),
        (
            'report_nine_months', d.report_nine_months_start, d.report_nine_months_end,
            'report_month', d.report_month_start
        ),
        ('report_year', d.report_year_start, d.report_year_end, 'report_month', d.report_month_start)
    ) as p (period_type, period_start, period_end, base_period_type, base_period_start)
)

select *
from periods
where period_start is not null
