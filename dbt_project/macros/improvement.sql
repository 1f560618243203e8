{#-
  "What it takes" (rpt_unit_improvement, rpt_unit_improvement_plan): an indicator's points after `items` more (or,
  for a lower-is-better rate and the dossier-satisfaction composite, fewer) items of its numerator's kind, on the
  same base, and the fewest items that reach a number of points. Points as fct_indicator_values publishes them:
  the ratio clamped to [0, 1], max_points × min(1, ratio / cap) (lower is better: max_points × (1 − ratio)),
  rounded half-up to 2 decimals; so a target is reached when the unrounded points are ≥ target − 0.005.
  Arguments are SQL expressions; `r` prefixes the columns (e.g. 'i.'): numerator, denominator, value, cap,
  max_points, direction, is_composite, dossiers_handled. Only for applicable rows with max_points > 0.
-#}

{#- Published points with `items` more numerator items (fewer, for the two rates where fewer is better). The
    composite max(0, 1 − overdue rate − dissatisfied rate) rises by 1 / handled for each late / overdue dossier
    (or dissatisfied rating on the handled base) fewer. -#}
{% macro improvement_points_after(items, r='') -%}
    {#- Multiplied before the one division, as fct_indicator_values does: a ratio divided first is cut at 20 decimals
        and an exact tie (75 × 92/96 = 71.875) would round down to 71.87 where 71.88 is published. -#}
    round(
        case
            when {{ r }}is_composite
                then {{ r }}max_points
                    * least({{ r }}cap, greatest(0, {{ r }}value + ({{ items }})::numeric / {{ r }}dossiers_handled))
                    / {{ r }}cap
            when {{ r }}direction = 'lower_is_better'
                then {{ r }}max_points
                    * ({{ r }}denominator - least(greatest(0, {{ r }}numerator - ({{ items }})), {{ r }}denominator))
                    / {{ r }}denominator
            else {{ r }}max_points
                * least(greatest(0, {{ r }}numerator + ({{ items }})), {{ r }}denominator * {{ r }}cap)
                / ({{ r }}denominator * {{ r }}cap)
        end,
        2
    )
{%- endmacro %}

{#- Fewest whole items whose published points are ≥ `target` (≤ max_points): solve points(items) ≥ target − 0.005
    for items and take the ceiling. Exact decimal arithmetic for the counted indicators; the composite's value is a
    stored quotient (up to 20 decimals), so a billionth is taken off before the ceiling. -#}
{% macro improvement_items_for(target, r='') -%}
    greatest(
        0,
        case
            when {{ r }}is_composite
                then ceil(
                    {{ r }}dossiers_handled
                    * ({{ r }}cap * (({{ target }}) - 0.005) / {{ r }}max_points - {{ r }}value) - 0.000000001
                )
            when {{ r }}direction = 'lower_is_better'
                then ceil(
                    ({{ r }}max_points * {{ r }}numerator
                    - {{ r }}denominator * ({{ r }}max_points - ({{ target }}) + 0.005)) / {{ r }}max_points
                )
            else ceil(
                ({{ r }}cap * {{ r }}denominator * (({{ target }}) - 0.005) - {{ r }}max_points * {{ r }}numerator)
                / {{ r }}max_points
            )
        end
    )::integer
{%- endmacro %}
