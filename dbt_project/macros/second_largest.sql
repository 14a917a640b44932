{#- The second largest non-null value of a group, duplicates counted (two orders on the latest date
    -> that date); null with fewer than two values. An aggregate, so no window sort over the rows. -#}
{% macro second_largest(expression) -%}
    {{ return(adapter.dispatch('second_largest', 'segments')(expression)) }}
{%- endmacro %}

{#- Postgres: array_agg keeps nulls, so they are sorted last. -#}
{% macro default__second_largest(expression) -%}
    (array_agg({{ expression }} order by {{ expression }} desc nulls last))[2]
{%- endmacro %}

{#- DuckDB: max(x, n) is the list of the n largest values (nulls ignored); [2] is null when short. -#}
{% macro duckdb__second_largest(expression) -%}
    max({{ expression }}, 2)[2]
{%- endmacro %}
