{#- Number of rows of the group where `condition` holds. Portable default; DuckDB (and Postgres)
    evaluate an aggregate FILTER clause faster than a CASE per row. -#}
{% macro count_where(condition) -%}
    {{ return(adapter.dispatch('count_where', 'segments')(condition)) }}
{%- endmacro %}

{% macro default__count_where(condition) -%}
    sum(case when {{ condition }} then 1 else 0 end)
{%- endmacro %}

{% macro duckdb__count_where(condition) -%}
    count(*) filter (where {{ condition }})
{%- endmacro %}

{% macro postgres__count_where(condition) -%}
    count(*) filter (where {{ condition }})
{%- endmacro %}
