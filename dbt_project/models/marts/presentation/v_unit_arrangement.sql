-- Every unit that ended, beside today's unit its figures go to, with both units' 766 total and CDS rank in the old
-- unit's last quarter (the arrangement dashboard).
-- A presentation mart: a Superset dataset of the same name reads it as a physical table, so a chart's query is a
-- thin select with its filters on indexed columns (issue 16); the labels are computed here, once per build.
with pairs as (
    -- every unit that ended, with today's unit its figures go to (its primary successor, transitively)
    select
        o.unit_code as old_unit_code,
        o.unit_valid_from as old_valid_from,
        o.unit_name as old_unit_name,
        o.unit_type as old_unit_type,
        o.unit_group_label as old_group_label,
        o.unit_valid_to as old_valid_to,
        n.unit_code as new_unit_code,
        n.unit_valid_from as new_valid_from,
        n.unit_name as new_unit_name,
        n.unit_type as new_unit_type,
        n.unit_group_label as new_group_label,
        coalesce(b.effective_date, o.unit_valid_to + 1) as effective_date
    from {{ ref('dim_unit_labels') }} as o
    left join (
        {{ ref('bridge_unit_succession') }} b
        inner join {{ ref('dim_unit_labels') }} as n on b.successor_unit_code = n.unit_code and b.successor_valid_from = n.unit_valid_from
            and n.is_current
    )
        on o.unit_code = b.unit_code and o.unit_valid_from = b.unit_valid_from and b.is_primary
    where o.unit_valid_to is not null
)

select
    x.old_unit_code,
    x.old_unit_name,
    x.old_group_label,
    x.old_valid_to,
    x.new_unit_code,
    coalesce(x.new_unit_name, 'Không có đơn vị kế thừa (số liệu chỉ tính vào địa bàn toàn tỉnh)') as new_unit_name,
    x.new_group_label,
    x.effective_date,
    to_char(x.effective_date, 'DD/MM/YYYY') as effective_date_label,
    q.period_start as quarter_start,
    q.label_vi as quarter_label,
    so.total_points as old_qd766_total,
    sn.total_points as new_qd766_total,
    ro.score as old_cds_score,
    rn.score as new_cds_score,
    ro.rank || '/' || ro.units_ranked as old_cds_rank,
    rn.rank || '/' || rn.units_ranked as new_cds_rank
from pairs as x
-- the old unit's last quarter: the quarter holding its last day
inner join {{ ref('dim_periods') }} as q on q.period_type = 'quarter' and q.period_start = date_trunc('quarter', x.old_valid_to)::date
left join {{ ref('rpt_qd766_scores') }} as so
    on so.basis = 'historical' and so.period_type = 'quarter' and q.period_start = so.period_start
        and x.old_unit_code = so.unit_code and x.old_valid_from = so.unit_valid_from
        and so.scope = case when x.old_unit_type in ('UBND_TINH', 'UBND_HUYEN') then 'area' else 'unit' end
left join {{ ref('rpt_qd766_scores') }} as sn
    on sn.basis = 'current' and sn.period_type = 'quarter' and q.period_start = sn.period_start
        and x.new_unit_code = sn.unit_code and x.new_valid_from = sn.unit_valid_from
        and sn.scope = case when x.new_unit_type in ('UBND_TINH', 'UBND_HUYEN') then 'area' else 'unit' end
left join {{ ref('rpt_unit_rankings') }} as ro
    on ro.basis = 'historical' and ro.ranking_code = 'CDS' and ro.period_type = 'quarter'
        and q.period_start = ro.period_start and x.old_unit_code = ro.unit_code and x.old_valid_from = ro.unit_valid_from
left join {{ ref('rpt_unit_rankings') }} as rn
    on rn.basis = 'current' and rn.ranking_code = 'CDS' and rn.period_type = 'quarter'
        and q.period_start = rn.period_start and x.new_unit_code = rn.unit_code and x.new_valid_from = rn.unit_valid_from
