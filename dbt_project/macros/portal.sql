{#- A unit's name as the national portal and the register may both write it, for matching when the portal sends no
    code: lower case, "Ủy ban nhân dân" as "UBND", without the " - Tỉnh …" suffix the portal adds, single spaces. -#}
{% macro portal_unit_name(column) -%}
    btrim(regexp_replace(regexp_replace(
        replace(replace(lower({{ column }}), 'ủy ban nhân dân', 'ubnd'), 'uỷ ban nhân dân', 'ubnd'),
        '\s*-\s*tỉnh\s.*$', ''), '\s+', ' ', 'g'))
{%- endmacro %}
