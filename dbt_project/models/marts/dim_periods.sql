-- One row per period the warehouse holds (every type), with its Vietnamese label, a sort key, and whether it is
-- complete: every day of it has a successful load of every daily source (raw.load_audit, int_source_days_loaded).
-- A day is counted only when all of them loaded it, so a period whose first days were never loaded, or a day whose
-- load failed, stays incomplete (and is not exported). A period running past the last loaded day is evaluated to
-- date (`evaluated_to`). The dashboards show `period_label` (label_vi marked "(tạm tính)" while evaluated to date,
-- "(chưa đủ dữ liệu)" when incomplete) and `period_type_label`: computed here once, not in every dataset's SQL.
with

complete_days as (
    select report_date
    from {{ ref('int_source_days_loaded') }}
    group by report_date
    having count(*) = (select count(*) from {{ daily_load_sources() }})
),

loaded as (
    select
        p.period_type,
        p.period_start,
        count(d.report_date)::integer as days_loaded
    from {{ ref('int_periods') }} as p
    left join complete_days as d on d.report_date between p.period_start and p.period_end
    group by p.period_type, p.period_start
),

periods as (
    select
        p.period_type,
        p.period_start,
        p.period_end,
        case p.period_type
            when 'month' then to_char(p.period_start, 'YYYY') || ' – Tháng ' || to_char(p.period_start, 'MM')
            when 'quarter' then to_char(p.period_start, 'YYYY') || ' – Quý ' || to_char(p.period_start, 'Q')
            when 'year' then 'Năm ' || to_char(p.period_start, 'YYYY')
            else
                'Kỳ báo cáo '
                || case p.period_type
                    when 'report_quarter' then 'quý '
                    when 'report_half' then '6 tháng '
                    when 'report_nine_months' then '9 tháng '
                    when 'report_year' then 'năm '
                    else ''
                end
                || case
                    when extract(year from p.period_start) = extract(year from p.period_end)
                        then to_char(p.period_start, 'DD/MM')
                    else to_char(p.period_start, 'DD/MM/YYYY')
                end
                || '–' || to_char(p.period_end, 'DD/MM/YYYY')
        end as label_vi,
        to_char(p.period_start, 'YYYY-MM-DD') || ' ' || p.period_type as sort_key,
        p.evaluated_to,
        l.days_loaded,
        l.days_loaded = p.period_end - p.period_start + 1 as is_complete,
        case p.period_type
            when 'month' then 'Tháng'
            when 'quarter' then 'Quý'
            when 'year' then 'Năm'
            when 'report_month' then 'Kỳ báo cáo tháng (15–14)'
            when 'report_quarter' then 'Kỳ báo cáo quý'
            when 'report_half' then 'Kỳ báo cáo 6 tháng'
            when 'report_nine_months' then 'Kỳ báo cáo 9 tháng'
            when 'report_year' then 'Kỳ báo cáo năm'
            else p.period_type
        end as period_type_label
    from {{ ref('int_periods') }} as p
    inner join loaded as l on p.period_type = l.period_type and p.period_start = l.period_start
)

select
    *,
    label_vi
    || case
        when evaluated_to < period_end then ' (tạm tính)'
        when not is_complete then ' (chưa đủ dữ liệu)'
        else ''
    end as period_label
from periods
