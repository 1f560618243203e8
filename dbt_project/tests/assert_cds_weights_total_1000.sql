-- CDS = 5 × QD766 (100) + EDOC + ESIGN = 1000 points; QD766 groups total 100.
with

framework_max as (
    select
        framework,
        sum(max_points) as max_points
    from {{ ref('indicator_catalogue') }}
    where valid_to is null
    group by framework
)

select
    w.ranking_code,
    sum(w.multiplier * f.max_points) as max_score
from {{ ref('ranking_weights') }} as w
inner join framework_max as f on w.component_code = f.framework
group by w.ranking_code
having sum(w.multiplier * f.max_points) != case w.ranking_code when 'CDS' then 1000 when 'QD766' then 100 end
