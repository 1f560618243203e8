{#- Own generic tests: dbt packages (dbt_utils, dbt_expectations) cannot be installed here. -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test accepted_range(model, column_name, min_value=none, max_value=none, min_inclusive=true) %}
select {{ column_name }}
from {{ model }}
where
    {{ column_name }} is not null
    and (
        false
        {%- if min_value is not none %}
            or {{ column_name }} {{ '<' if min_inclusive else '<=' }} {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}
            or {{ column_name }} > {{ max_value }}
        {%- endif %}
    )
{% endtest %}

{#- Every row whose condition holds has a non-null column (e.g. value when applicable). -#}
{% test not_null_where(model, column_name, condition) %}
select *
from {{ model }}
where ({{ condition }}) and {{ column_name }} is null
{% endtest %}

{#- Each (group) has exactly one row per key of a parent set, e.g. every unit of a period gets every indicator. -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
