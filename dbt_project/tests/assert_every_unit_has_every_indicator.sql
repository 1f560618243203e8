-- Row existence contract: in every period, every unit valid in it has every catalogue indicator at scope 'unit'.
with

expected as (
    select
        u.period_type,
        u.period_start,
        u.unit_code,
        count(distinct cat.indicator_code) as indicators
    from {{ ref('int_unit_periods') }} as u
    inner join {{ ref('indicator_catalogue') }} as cat
        on u.period_end >= cat.valid_from and (cat.valid_to is null or u.period_end <= cat.valid_to)
    group by u.period_type, u.period_start, u.unit_code
),

-- distinct first, then counted: the same count as count(distinct indicator_code), but hashed, where
-- count(distinct) sorted every unit-scope row of the fact (~10^6 at 4 provinces, a month)
actual as (
    select
        period_type,
        period_start,
        unit_code,
        count(indicator_code) as indicators
    from (
        select distinct
            period_type,
            period_start,
            unit_code,
            indicator_code
        from {{ ref('fct_indicator_values') }}
        where scope = 'unit'
    ) as f
    group by period_type, period_start, unit_code
)

select
    e.*,
    a.indicators as actual_indicators
from expected as e
left join actual as a
    on e.period_type = a.period_type and e.period_start = a.period_start and e.unit_code = a.unit_code
where a.indicators is distinct from e.indicators
