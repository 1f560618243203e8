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

{% macro refresh_watermark(relation=none) -%}
    (select coalesce(max(_refreshed_at), '-infinity'::timestamptz) from {{ relation or this }})
{%- endmacro %}

{#- Dates of raw rows newer than what this model has consumed, as a SQL list of date literals.
    Inlined as literals (not a subquery) so PostgreSQL pushes the filter into the staging view's window. -#}
{% macro changed_raw_dates(raw_relation, date_column) -%}
    {%- set dates = [] -%}
    {%- if execute -%}
        {%- set query -%}
            select distinct {{ date_column }}::text
            from {{ raw_relation }}
            where _seq > (select coalesce(max(source_seq), 0) from {{ this }})
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
    arrived in another source only. -#}
{% macro missing_periods() -%}
    select period_type, period_start from {{ ref('int_periods') }}
    except
    select distinct period_type, period_start from {{ this }}
{%- endmacro %}

{#- Which periods a period-grain model recomputes: every period on a full build; else periods refreshed upstream,
    periods it lacks, and every period when a lookup it reads changed. -#}
{% macro affected_periods(upstreams, lookups=[]) -%}
    select p.period_type, p.period_start
    from {{ ref('int_periods') }} as p
    {%- if is_incremental() %}
        where
            {%- if lookups %}
                (select prior._lookup_fingerprint from {{ this }} as prior limit 1)
                is distinct from {{ lookup_fingerprint(lookups) }}
                or
            {%- endif %}
            (p.period_type, p.period_start) in (
                {{ refreshed_periods(upstreams) }}
                union
                (
                    {{ missing_periods() }}
                )
            )
    {%- endif %}
{%- endmacro %}

{#- Post-hook: fresh statistics for a table the model just (re)wrote. Without them the next model is planned on
    default selectivities (autovacuum has not analysed yet) and multi-key joins become nested loops that take
    minutes instead of seconds. Views are skipped. -#}
{% macro analyze_this() -%}
    {%- if config.get('materialized') in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
