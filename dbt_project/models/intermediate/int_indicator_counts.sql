-- Numerator and denominator of every indicator per (basis, period, unit, scope), long form: the measure models
-- of each domain, side by side. Each indicator's formula lives in exactly one of them; points are taken in
-- fct_indicator_values from the catalogue.
{#- A view: the measure tables are not copied again, and the period filters fct_indicator_values puts on it
    (`_refreshed_at`, period keys) reach each table's own indexes through the UNION ALL. Consequence: after a
    --full-refresh of one measure model (which drops it, and this view with it), rebuild its children as well
    (README: "run --full-refresh for it and its children"). -#}
{{ config(materialized='view') }}

{%- set measures = [
    ref('int_measures__dossiers'),
    ref('int_measures__petitions'),
    ref('int_measures__procedures'),
    ref('int_measures__documents'),
    ref('int_measures__signatures'),
] %}

{%- for measure in measures %}
    select
        basis,
        period_type,
        period_start,
        unit_code,
        unit_valid_from,
        scope,
        unit_type,
        indicator_code,
        numerator,
        denominator,
        composite_value,
        composite_applicable,
        _lookup_fingerprint,
        _refreshed_at
    from {{ measure }}
    {%- if not loop.last %}
        union all
    {%- endif %}
{%- endfor %}
