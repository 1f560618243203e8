{{ config(indexes=[{"columns": ["date_day"], "unique": true}]) }}

-- Every date of the warehouse's range: working day flag (weekends, VN public holidays, make-up Saturdays,
-- late-announced overrides) and the period of every type that holds it (calendar and Decree 09 windows).
with

days as (
    select generate_series(
        '{{ var("calendar_start") }}'::date, '{{ var("calendar_end") }}'::date, interval '1 day'
    )::date as date_day
),

holidays as (
    select
        calendar_date,
        string_agg(name_vi, '; ' order by name_vi) filter (where day_kind = 'holiday') as holiday_name,
        bool_or(day_kind = 'holiday') as is_public_holiday,
        bool_or(day_kind = 'make_up_working_day') as is_make_up_working_day
    from {{ ref('vn_public_holidays') }}
    group by calendar_date
),

flagged as (
    select
        d.date_day,
        extract(isodow from d.date_day) in (6, 7) as is_weekend,
        h.holiday_name,
        coalesce(h.is_public_holiday, false) as is_public_holiday,
        coalesce(h.is_make_up_working_day, false) as is_make_up_working_day,
        o.reason_vi as override_reason,
        coalesce(
            o.is_working_day,
            case
                when h.is_make_up_working_day then true
                when h.is_public_holiday then false
                else extract(isodow from d.date_day) not in (6, 7)
            end
        ) as is_working_day,
        -- Decree 09 windows close on the 14th: from the 15th a day belongs to next month's report.
        case
            when extract(day from d.date_day) >= 15
                then (date_trunc('month', d.date_day) + interval '1 month')::date
            else date_trunc('month', d.date_day)::date
        end as report_month
    from days as d
    left join holidays as h on d.date_day = h.calendar_date
    left join {{ ref('calendar_overrides') }} as o on d.date_day = o.calendar_date
),

windows as (
    select
        *,
        date_trunc('quarter', report_month)::date as report_quarter,
        date_trunc('year', report_month)::date as report_year
    from flagged
)

select
    date_day,
    is_working_day,
    is_weekend,
    is_public_holiday,
    is_make_up_working_day,
    holiday_name,
    override_reason,
    -- working days in (a, b] = working_day_number(b) - working_day_number(a)
    sum(case when is_working_day then 1 else 0 end) over (order by date_day)::integer as working_day_number,
    date_trunc('month', date_day)::date as month_start,
    (date_trunc('month', date_day) + interval '1 month' - interval '1 day')::date as month_end,
    date_trunc('quarter', date_day)::date as quarter_start,
    (date_trunc('quarter', date_day) + interval '3 months' - interval '1 day')::date as quarter_end,
    date_trunc('year', date_day)::date as year_start,
    (date_trunc('year', date_day) + interval '1 year' - interval '1 day')::date as year_end,
    report_month,
    (report_month - interval '1 month' + interval '14 days')::date as report_month_start,
    (report_month + interval '13 days')::date as report_month_end,
    (report_quarter - interval '1 month' + interval '14 days')::date as report_quarter_start,
    (report_quarter + interval '2 months' + interval '13 days')::date as report_quarter_end,
    case
        when extract(month from report_month) <= 6
            then (report_year - interval '1 month' + interval '14 days')::date
    end as report_half_start,
    case
        when extract(month from report_month) <= 6
            then (report_year + interval '5 months' + interval '13 days')::date
    end as report_half_end,
    case
        when extract(month from report_month) <= 9
            then (report_year - interval '1 month' + interval '14 days')::date
    end as report_nine_months_start,
    case
        when extract(month from report_month) <= 9
            then (report_year + interval '8 months' + interval '13 days')::date
    end as report_nine_months_end,
    (report_year - interval '1 month' + interval '14 days')::date as report_year_start,
    (report_year + interval '11 months' + interval '13 days')::date as report_year_end
from windows
