{#-
  Every row satisfies every condition (SQL boolean expressions over the model's columns; a condition
  that is null on a row, e.g. a range check on a null value, counts as satisfied). One scan of the
  model for all conditions; fails with one row per broken condition and how many rows break it.
  For the models whose columns cannot carry enforced constraints (views, Python models): tables with
  an enforced contract check the same things while they are written. Usage (model level):
      data_tests:
        - rows_satisfy:
            arguments:
              conditions:
                - "customer_id is not null"
                - "r_score between 1 and 5"
-#}
{% test rows_satisfy(model, conditions) %}

{%- if not conditions -%}
    {{ exceptions.raise_compiler_error("rows_satisfy needs at least one condition") }}
{%- endif %}

with

broken as (
    select
    {%- for condition in conditions %}
        sum(case when coalesce({{ condition }}, true) then 0 else 1 end) as broken_{{ loop.index }}
        {{- "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)

{% for condition in conditions -%}
select
    '{{ condition | replace("'", "''") }}' as broken_condition,
    broken_{{ loop.index }} as broken_rows
from broken
where broken_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}

{% endtest %}
