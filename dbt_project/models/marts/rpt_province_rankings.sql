-- The provinces ranked on the QD766 total (rpt_qd766_scores.total_points, 100 points) of their whole-province row:
-- the province committee (UBND_TINH) at scope `area`. Per basis and period, standard competition ranking (1, 2, 2,
-- 4) of the committees valid on the period's (evaluated) last day: in historical the provinces as they were (the 63
-- before 1/7/2025), in current today's (the 34), each with its predecessors' figures. previous_rank / rank_change
-- against the preceding period of the same type in the same basis (NULL across the reform in historical, as for
-- units). Small (provinces x periods x 2): rebuilt whole on every run.
with

scores as (
    select
        s.basis,
        s.period_type,
        s.period_start,
        s.period_end,
        s.unit_code,
        s.unit_valid_from,
        u.unit_name,
        s.total_points,
        s.band
    from {{ ref('rpt_qd766_scores') }} as s
    inner join {{ ref('int_unit_periods') }} as u
        on
            s.basis = u.basis
            and s.period_type = u.period_type
            and s.period_start = u.period_start
            and s.unit_code = u.unit_code
            and s.unit_valid_from = u.unit_valid_from
    inner join {{ ref('int_periods') }} as p on s.period_type = p.period_type and s.period_start = p.period_start
    where
        s.scope = 'area'
        and u.unit_type = 'UBND_TINH'
        and (u.unit_valid_to is null or u.unit_valid_to >= p.evaluated_to)
),

ranked as (
    select
        *,
        rank() over (partition by basis, period_type, period_start order by total_points desc)::integer as rank,
        count(*) over (partition by basis, period_type, period_start)::integer as provinces_ranked
    from scores
)

select
    r.basis,
    r.period_type,
    r.period_start,
    r.period_end,
    pv.province_code,
    r.unit_code,
    r.unit_valid_from,
    r.unit_name,
    r.total_points,
    r.band,
    r.rank,
    r.provinces_ranked,
    prev.rank as previous_rank,
    prev.rank - r.rank as rank_change
from ranked as r
inner join {{ ref('int_periods') }} as p on r.period_type = p.period_type and r.period_start = p.period_start
inner join {{ ref('int_unit_provinces') }} as pv on r.unit_code = pv.unit_code and r.unit_valid_from = pv.unit_valid_from
left join ranked as prev
    on
        r.basis = prev.basis
        and r.period_type = prev.period_type
        and p.previous_period_start = prev.period_start
        and r.unit_code = prev.unit_code
        and r.unit_valid_from = prev.unit_valid_from
