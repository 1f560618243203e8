{#- Rename count columns, zeroing them on a tombstone (the key disappeared from the source: its counts became 0). -#}
{% macro zero_if_deleted(pairs) -%}
    {%- for source_col, target_col in pairs %}
        case when _is_deleted then 0 else {{ source_col }} end::integer as {{ target_col }}
        {{- "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
