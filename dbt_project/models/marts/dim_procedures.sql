-- The procedure catalogue with the working days that decide the publication indicators.
select
    pr.procedure_code,
    pr.procedure_name,
    pr.field_name,
    pr.procedure_level,
    pr.online_service_level,
    pr.is_fee_bearing,
    pr.has_online_payment,
    pr.is_for_citizens,
    pr.uses_population_data,
    pr.legal_basis_effective_on,
    pr.announced_on,
    pr.published_on,
    pr.is_content_full,
    pr.competent_unit_codes,
    effective.working_day_number - announced.working_day_number as working_days_announced_to_effective,
    published.working_day_number - announced.working_day_number as working_days_announced_to_published
from {{ ref('stg_one_stop_shop__procedures') }} as pr
left join {{ ref('int_calendar_days') }} as announced on pr.announced_on = announced.date_day
left join {{ ref('int_calendar_days') }} as effective on pr.legal_basis_effective_on = effective.date_day
left join {{ ref('int_calendar_days') }} as published on pr.published_on = published.date_day
