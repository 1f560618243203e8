{#-
  Incremental bookkeeping (see README "Incremental strategy").
  * Daily models remember the highest raw `_seq` they consumed per key (`source_seq`); a run reprocesses the dates
    of raw rows with a higher `_seq`.
  * Every incremental model stamps the rows it (re)writes with `_refreshed_at` = the dbt invocation's start; a
    downstream model reprocesses the periods of upstream rows refreshed after its own newest stamp.
  * Lookup tables (units, procedures, seeds) are small: a model stores a fingerprint of those it reads and
    recomputes every period when it changes.
-#}

{% macro run_stamp() -%}
    '{{ run_started_at }}'::timestamptz
{%- endmacro %}

{#- Newest `_refreshed_at` of a relation (default: this model). When the model runs it is read first and inlined as
    a literal: a subquery's value is unknown at plan time, so PostgreSQL guessed a third of the upstream table
    matched and scanned all of it (cost grew with history) instead of using the `_refreshed_at` index. -#}
{% macro refresh_watermark(relation=none) -%}
    {%- set rel = relation or this -%}
    {%- set query -%}
        (select coalesce(max(_refreshed_at), '-infinity'::timestamptz) from {{ rel }})
    {%- endset -%}
    {%- if execute -%}
        '{{ run_query("select " ~ query ~ "::text").columns[0].values()[0] }}'::timestamptz
    {%- else -%}
        {{ query }}
    {%- endif -%}
{%- endmacro %}

{#- Dates of raw rows newer than what this model has consumed, as a SQL list of date literals.
    Inlined as literals (not a subquery) so PostgreSQL pushes the filter into the staging view's window. -#}
{% macro changed_raw_dates(raw_relation, date_column) -%}
    {%- set dates = [] -%}
    {%- if execute -%}
        {#- the consumed _seq as a literal too, so the raw `_seq` index is used rather than a scan of all history -#}
        {%- set consumed = run_query('select coalesce(max(source_seq), 0) from ' ~ this).columns[0].values()[0] -%}
        {%- set query -%}
            select distinct {{ date_column }}::text
            from {{ raw_relation }}
            where _seq > {{ consumed | int }}
            order by 1
        {%- endset -%}
        {%- set result = run_query(query) -%}
        {%- for row in result.rows -%}
            {%- do dates.append("'" ~ row[0] ~ "'::date") -%}
        {%- endfor -%}
    {%- endif -%}
    {{- dates | join(', ') if dates else 'null::date' -}}
{%- endmacro %}

{#- md5 over the full content of small lookup relations. -#}
{% macro lookup_fingerprint(relations) -%}
    (
        select md5(string_agg(fingerprint_row, '|' order by fingerprint_row))
        from (
            {%- for rel in relations %}
                select '{{ loop.index }}:' || (r.*)::text as fingerprint_row from {{ rel }} as r
                {%- if not loop.last %} union all{% endif %}
            {%- endfor %}
        ) as fingerprint_rows
    )
{%- endmacro %}


{#- (period_type, period_start) pairs of upstream rows refreshed since this model last wrote. -#}
{% macro refreshed_periods(relations) -%}
    {%- for rel in relations %}
        select period_type, period_start from {{ rel }}
        where _refreshed_at > {{ refresh_watermark() }}
        {%- if not loop.last %}
            union
        {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- Periods that exist (int_periods) but this model has no row for yet, e.g. a new month whose first day
    arrived in another source only. An anti-join probing the (period_type, period_start) index per period (a few
    dozen), not a distinct over the whole table. -#}
{% macro missing_periods() -%}
    select p.period_type, p.period_start from {{ ref('int_periods') }} as p
    where not exists (
        select 1 from {{ this }} as t
        where t.period_type = p.period_type and t.period_start = p.period_start
    )
{%- endmacro %}

{#- Rows as a literal relation `(values ...) as alias (columns)`; an empty list gives an empty relation typed by
    `types`. Lets the planner see the exact (small) set of periods a daily run touches. -#}
{% macro values_relation(rows, columns, types, alias) -%}
    {%- if rows -%}
        (values
        {%- for row in rows %}
            ({% for v in row %}'{{ v }}'::{{ types[loop.index0] }}{% if not loop.last %}, {% endif %}{% endfor %})
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
        ) as {{ alias }} ({{ columns | join(', ') }})
    {%- else -%}
        (select {% for c in columns %}null::{{ types[loop.index0] }} as {{ c }}{% if not loop.last %}, {% endif %}{% endfor %} where false) as {{ alias }}
    {%- endif -%}
{%- endmacro %}

{#- Which periods a period-grain model recomputes, as a relation of (period_type, period_start): every period on a
    full build or when a lookup it reads changed; else periods refreshed upstream and periods it lacks, computed
    when the model runs and inlined as literals, so the model's joins probe indexes for those few periods instead
    of hashing whole (history-sized) tables on misestimated row counts. -#}
{% macro affected_periods(upstreams, lookups=[]) -%}
    {%- set rows = affected_period_rows(upstreams, lookups) -%}
    {%- if rows is none -%}
        select p.period_type, p.period_start from {{ ref('int_periods') }} as p
    {%- else -%}
        select a.period_type, a.period_start
        from {{ values_relation(rows, ['period_type', 'period_start'], ['text', 'date'], 'a') }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: fresh statistics for a table the model just (re)wrote. Without them the next model is planned on
    default selectivities (autovacuum has not analysed yet) and multi-key joins become nested loops that take
    minutes instead of seconds. Views are skipped. -#}
{% macro analyze_this() -%}
    {%- if config.get('materialized') in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- The (period_type, period_start) pairs a period-grain model recomputes, as a list of rows; `none` means every
    period (full build, changed lookups, or parse time). `affected_periods` makes a relation of them; a model that
    joins many period-grain upstreams filters each one with `period_filter` instead. -#}
{% macro affected_period_rows(upstreams, lookups=[]) -%}
    {%- if not is_incremental() or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if lookups -%}
        {%- set changed -%}
            select (select prior._lookup_fingerprint from {{ this }} as prior limit 1)
                is distinct from {{ lookup_fingerprint(lookups) }}
        {%- endset -%}
        {%- if run_query(changed).columns[0].values()[0] -%}
            {{ return(none) }}
        {%- endif -%}
    {%- endif -%}
    {%- set periods_query -%}
        select a.period_type, a.period_start::text from (
            {{ refreshed_periods(upstreams) }}
            union
            (
                {{ missing_periods() }}
            )
        ) as a
        inner join {{ ref('int_periods') }} as p
            on a.period_type = p.period_type and a.period_start = p.period_start
        order by 1, 2
    {%- endset -%}
    {{ return(run_query(periods_query).rows | list) }}
{%- endmacro %}

{#- A WHERE condition keeping `rows` (from affected_period_rows) of a period-grain relation: literal pairs that
    PostgreSQL estimates from the column statistics of each table and matches with its (period_type,
    period_start) index, so every upstream is cut to the affected periods before the joins. A join to a VALUES
    list instead is estimated at one row and the plan degrades to nested loops over history-sized inputs. -#}
{% macro period_filter(rows, alias) -%}
    {%- if rows is none -%}
        true
    {%- elif not rows -%}
        false
    {%- else -%}
        ({{ alias }}.period_type, {{ alias }}.period_start) in (
            {%- for r in rows %}('{{ r[0] }}', '{{ r[1] }}'::date){% if not loop.last %}, {% endif %}{% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
