{#-
  Daily facts -> every period type. Flows are summed over the period's days; stocks are read on the period's last
  day (or the source's last loaded day when the period runs past it, or the key's own last day, `valid_to`, when
  it ended inside the period: a unit that ended on 30/6/2025 keeps its stock of that day in the year 2025);
  `<stock>_start` is the stock at the end of the day before the period (Biểu 06 carried over). No source row on a
  day = zero.

  Month and report_month ("base" periods) are computed from days; quarter/year and report_quarter/half/nine
  months/year roll up from their base periods, so a daily run touching one day reads one month of days, not a year.
  Incrementally only the periods holding changed days (and a period starting the day after one, whose carried-over
  stock moved) are rewritten; unchanged base periods needed by a parent come from the model itself.
-#}
{% macro period_rollup(daily, keys, flows, stocks, valid_to=none) %}
{%- set own_end = ('coalesce(d.' ~ valid_to ~ ', p.period_end)') if valid_to else 'p.period_end' -%}
{%- set own_end_r = ('coalesce(r.' ~ valid_to ~ ', p.period_end)') if valid_to else 'p.period_end' -%}
{%- set start_cols = [] -%}
{%- for s in stocks %}{% do start_cols.append(s ~ '_start') %}{% endfor -%}
{%- set value_cols = flows + stocks + start_cols -%}
{%- set all_cols = ['period_type', 'period_start', 'period_end', 'evaluated_to'] + keys + value_cols -%}
with

source_bounds as (
    select max(report_date) as last_day from {{ daily }}
),

{%- if is_incremental() and execute %}
    {#- Computed when the model runs and inlined as literals (with date bounds for the scans below): the planner
        then range-scans the report_date / period indexes for the few affected periods instead of hashing whole
        history-sized tables. -#}
    {%- set periods_query -%}
        with
        changed_dates as (
            select distinct report_date from {{ daily }} where _refreshed_at > {{ refresh_watermark() }}
        ),
        last_day as (select max(report_date) as last_day from {{ daily }})
        select c.period_type, c.period_start::text, c.period_end::text, c.base_period_type
        from changed_dates as d
        inner join {{ ref('int_calendar_periods') }} as c on d.report_date = c.date_day
        union
        select c.period_type, c.period_start::text, c.period_end::text, c.base_period_type
        from changed_dates as d
        cross join last_day as b
        inner join {{ ref('int_calendar_periods') }} as c
            on d.report_date + 1 = c.date_day and c.period_start = c.date_day
        where c.date_day <= b.last_day
        order by 1, 2
    {%- endset -%}
    {%- set affected_rows = run_query(periods_query).rows -%}
    {%- set base_starts = [] -%}{%- set base_ends = [] -%}{%- set parent_starts = [] -%}{%- set parent_ends = [] -%}
    {%- for r in affected_rows -%}
        {%- if r[0] == r[3] -%}
            {%- do base_starts.append(r[1]) -%}{%- do base_ends.append(r[2]) -%}
        {%- else -%}
            {%- do parent_starts.append(r[1]) -%}{%- do parent_ends.append(r[2]) -%}
        {%- endif -%}
    {%- endfor %}
affected_periods as (
    select a.period_type, a.period_start, a.period_end, a.base_period_type
    from {{ values_relation(
        affected_rows,
        ['period_type', 'period_start', 'period_end', 'base_period_type'],
        ['text', 'date', 'date', 'text'],
        'a'
    ) }}
),
{%- else %}
    {%- set base_starts = [] -%}{%- set base_ends = [] -%}{%- set parent_starts = [] -%}{%- set parent_ends = [] -%}
changed_dates as (
    select distinct d.report_date
    from {{ daily }} as d
    {%- if is_incremental() %}
        where d._refreshed_at > {{ refresh_watermark() }}
    {%- endif %}
),

affected_periods as (
    select
        c.period_type,
        c.period_start,
        c.period_end,
        c.base_period_type
    from changed_dates as d
    inner join {{ ref('int_calendar_periods') }} as c on d.report_date = c.date_day
    union
    select
        c.period_type,
        c.period_start,
        c.period_end,
        c.base_period_type
    from changed_dates as d
    cross join source_bounds as b
    inner join {{ ref('int_calendar_periods') }} as c
        on d.report_date + 1 = c.date_day and c.period_start = c.date_day
    where c.date_day <= b.last_day
),
{%- endif %}

fresh_base as (
    select
        p.period_type,
        p.period_start,
        p.period_end,
        least(p.period_end, b.last_day) as evaluated_to,
        {%- set exprs = [] %}
        {%- for k in keys %}{% do exprs.append('d.' ~ k) %}{% endfor %}
        {%- for f in flows %}
            {%- do exprs.append('coalesce(sum(d.' ~ f ~ ') filter (where d.report_date >= p.period_start), 0) as ' ~ f) %}
        {%- endfor %}
        {%- for s in stocks %}
            {%- do exprs.append('coalesce(sum(d.' ~ s ~ ') filter (where d.report_date = least(p.period_end, b.last_day, ' ~ own_end ~ ')), 0) as ' ~ s) %}
        {%- endfor %}
        {%- for s in stocks %}
            {%- do exprs.append('coalesce(sum(d.' ~ s ~ ') filter (where d.report_date = p.period_start - 1), 0) as ' ~ s ~ '_start') %}
        {%- endfor %}
        {{ exprs | join(',\n        ') }}
    from affected_periods as p
    cross join source_bounds as b
    inner join {{ daily }} as d
        on d.report_date between p.period_start - 1 and p.period_end
    where
        p.period_type = p.base_period_type
        {%- if base_starts %}
            and d.report_date between '{{ base_starts | min }}'::date - 1 and '{{ base_ends | max }}'::date
        {%- endif %}
    group by
        p.period_type, p.period_start, p.period_end, b.last_day
        {%- for k in keys %}, d.{{ k }}{% endfor %}
),

base_rows as (
    select {{ all_cols | join(', ') }} from fresh_base
    {%- if is_incremental() %}
        union all
        select {{ all_cols | join(', ') }}
        from {{ this }} as t
        where
            t.period_type in ('month', 'report_month')
            {%- if parent_starts %}
                and t.period_start between '{{ parent_starts | min }}'::date and '{{ parent_ends | max }}'::date
            {%- endif %}
            and not exists (
                select 1 from affected_periods as a
                where a.period_type = t.period_type and a.period_start = t.period_start
            )
            and exists (
                select 1 from affected_periods as a
                where
                    a.period_type != a.base_period_type
                    and a.base_period_type = t.period_type
                    and t.period_start between a.period_start and a.period_end
            )
    {%- endif %}
),

parent_rows as (
    select
        p.period_type,
        p.period_start,
        p.period_end,
        least(p.period_end, b.last_day) as evaluated_to,
        {%- set exprs = [] %}
        {%- for k in keys %}{% do exprs.append('r.' ~ k) %}{% endfor %}
        {%- for f in flows %}{% do exprs.append('sum(r.' ~ f ~ ') as ' ~ f) %}{% endfor %}
        {%- for s in stocks %}
            {%- do exprs.append('coalesce(sum(r.' ~ s ~ ') filter (where least(p.period_end, b.last_day, ' ~ own_end_r ~ ') between r.period_start and r.period_end), 0) as ' ~ s) %}
        {%- endfor %}
        {%- for s in stocks %}
            {%- do exprs.append('coalesce(sum(r.' ~ s ~ '_start) filter (where r.period_start = p.period_start), 0) as ' ~ s ~ '_start') %}
        {%- endfor %}
        {{ exprs | join(',\n        ') }}
    from affected_periods as p
    cross join source_bounds as b
    inner join base_rows as r
        on
            p.base_period_type = r.period_type
            and r.period_start between p.period_start and p.period_end
    where p.period_type != p.base_period_type
    group by
        p.period_type, p.period_start, p.period_end, b.last_day
        {%- for k in keys %}, r.{{ k }}{% endfor %}
)

select
    {{ all_cols | join(', ') }},
    {{ run_stamp() }} as _refreshed_at
from fresh_base
union all
select
    {{ all_cols | join(', ') }},
    {{ run_stamp() }} as _refreshed_at
from parent_rows
{% endmacro %}
