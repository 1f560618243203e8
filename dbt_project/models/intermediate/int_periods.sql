-- Periods of every type that hold at least one day of data, evaluated to date: a period running past the last
-- loaded day ends (for stocks and working days) on that day. Signature working days use the e-signature
-- source's own last day, since its files may arrive late.
{{ config(indexes=[{'columns': ['period_type', 'period_start'], 'unique': true}]) }}

with

last_days as (
    select
        max(report_date) as last_day,
        max(report_date) filter (where source_name = 'signatures') as esign_last_day
    from {{ ref('int_data_days') }}
),

data_days as (
    select distinct report_date from {{ ref('int_data_days') }}
),

periods as (
    select
        c.period_type,
        c.period_start,
        c.period_end
    from data_days as d
    inner join {{ ref('int_calendar_periods') }} as c on d.report_date = c.date_day
    group by c.period_type, c.period_start, c.period_end
)

select
    p.period_type,
    p.period_start,
    p.period_end,
    least(p.period_end, l.last_day) as evaluated_to,
    l.last_day as data_last_day,
    greatest(
        0, coalesce(period_end_day.working_day_number, 0) - coalesce(day_before.working_day_number, 0)
    ) as working_days,
    case
        when l.esign_last_day >= p.period_start
            then coalesce(esign_end_day.working_day_number, 0) - coalesce(day_before.working_day_number, 0)
        else 0
    end as esign_working_days,
    lag(p.period_start) over (partition by p.period_type order by p.period_start) as previous_period_start,
    lead(p.period_start) over (partition by p.period_type order by p.period_start) as next_period_start
from periods as p
cross join last_days as l
left join {{ ref('int_calendar_days') }} as day_before on p.period_start - 1 = day_before.date_day
left join {{ ref('int_calendar_days') }} as period_end_day
    on least(p.period_end, l.last_day) = period_end_day.date_day
left join {{ ref('int_calendar_days') }} as esign_end_day
    on least(p.period_end, l.esign_last_day) = esign_end_day.date_day
