{#-
  Fails for every group (e.g. customer) in which the boolean column is not true on exactly one row
  ("every account has exactly one primary contact"). Usage (on the boolean column):
      data_tests:
        - true_once_per_group:
            arguments: {group_by: customer_id}
-#}
{% test true_once_per_group(model, column_name, group_by) %}

select
    {{ group_by }} as group_value,
    {{ count_where(column_name) }} as true_rows
from {{ model }}
group by {{ group_by }}
having {{ count_where(column_name) }} <> 1

{% endtest %}
