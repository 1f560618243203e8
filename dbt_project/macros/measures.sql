{#-
  Shared plumbing of the int_measures__* models (one model per source domain, each the single home of its
  indicators' numerator and denominator; int_indicator_counts unions them). The formulas stay in the models.
-#}

{#- The periods a measure model recomputes (see affected_period_rows): those any period-grain source refreshed,
    not only its own. A new day of one source moves every current period's as_of day, and with it which scope
    members are valid at the end (their stocks, staff, register attributes) and the e-signature working days;
    the monolithic model this replaces recomputed on the same set. -#}
{% macro measure_period_rows(lookups) -%}
    {#- affected_period_rows reads int_periods only when the model runs incrementally: declare it at parse time -#}
    {%- do ref('int_periods') -%}
    {{ return(affected_period_rows([
        ref('int_dossier_scope_periods'),
        ref('int_petition_periods'),
        ref('int_document_periods'),
        ref('int_signature_periods'),
    ], lookups)) }}
{%- endmacro %}

{#- The rows every measure model emits, one per (basis, period, unit, scope) of the affected periods, with the
    unit's type (fct_indicator_values reads targets by it). -#}
{% macro measure_rows(affected) -%}
    select
        k.basis,
        k.period_type,
        k.period_start,
        k.unit_code,
        k.unit_valid_from,
        k.scope,
        u.unit_type
    from (
        select distinct
            s.basis,
            s.period_type,
            s.period_start,
            s.unit_code,
            s.unit_valid_from,
            s.scope
        from {{ ref('int_scope_members') }} as s
        where {{ period_filter(affected, 's') }}
    ) as k
    inner join {{ ref('int_unit_periods') }} as u
        on
            k.basis = u.basis
            and k.period_type = u.period_type
            and k.period_start = u.period_start
            and k.unit_code = u.unit_code
            and k.unit_valid_from = u.unit_valid_from
    where {{ period_filter(affected, 'u') }}
{%- endmacro %}
