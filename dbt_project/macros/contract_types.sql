{#-
  Contract column types are written with DuckDB's names in the YAML files (the segment rule engine reads
  them from the manifest: segments/features.py). One of them is spelled differently on Postgres:
  `double` is `double precision` there. These two overrides of dbt's contract macros translate the
  types before dbt compares the model's columns with the contract and creates the table; the columns,
  constraints and everything else stay dbt's.
-#}
{% macro postgres_contract_columns(columns) -%}
    {%- set renamed = {'double': 'double precision'} -%}
    {%- set translated = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = column.copy() -%}
        {%- if column.get('data_type') -%}
            {%- do copy.update({'data_type': renamed.get(column['data_type'] | trim | lower, column['data_type'])}) -%}
        {%- endif -%}
        {%- do translated.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(translated) }}
{%- endmacro %}

{% macro postgres__get_empty_schema_sql(columns) -%}
    {{ return(dbt.default__get_empty_schema_sql(postgres_contract_columns(columns))) }}
{%- endmacro %}

{#- dbt's table_columns_and_constraints(), over the translated columns -#}
{% macro postgres__get_table_columns_and_constraints() -%}
    {%- set columns = postgres_contract_columns(model['columns']) -%}
    {%- set raw_column_constraints = adapter.render_raw_columns_constraints(raw_columns=columns) -%}
    {%- set raw_model_constraints = adapter.render_raw_model_constraints(raw_constraints=model['constraints']) -%}
    (
    {% for c in raw_column_constraints -%}
        {{ c }}{{ "," if not loop.last or raw_model_constraints }}
    {% endfor %}
    {% for c in raw_model_constraints -%}
        {{ c }}{{ "," if not loop.last }}
    {% endfor -%}
    )
{%- endmacro %}
