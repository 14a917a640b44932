{#-
  Fails for every non-null value outside [min_value, max_value] (bounds inclusive; either bound may
  be omitted). Usage:
      data_tests:
        - value_between:
            arguments: {min_value: 1, max_value: 5}
-#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("value_between needs min_value and/or max_value") }}
{%- endif %}

select {{ column_name }} as out_of_range_value
from {{ model }}
where {{ column_name }} is not null
  and (
    {%- if min_value is not none %}
      {{ column_name }} < {{ min_value }}
    {%- endif %}
    {%- if min_value is not none and max_value is not none %} or {% endif %}
    {%- if max_value is not none %}
      {{ column_name }} > {{ max_value }}
    {%- endif %}
  )

{% endtest %}
