{#- The list (array) of the non-null values of `items` (SQL expressions of one type), in their order. -#}
{% macro non_null_list(items) -%}
    {{ return(adapter.dispatch('non_null_list', 'segments')(items)) }}
{%- endmacro %}

{% macro default__non_null_list(items) -%}
    array_remove(array[{{ items | join(', ') }}], null)
{%- endmacro %}

{% macro duckdb__non_null_list(items) -%}
    list_filter([{{ items | join(', ') }}], lambda item: item is not null)
{%- endmacro %}
