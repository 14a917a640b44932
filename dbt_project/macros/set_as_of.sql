{#-
  For running dbt by hand: write the run context the pipeline writes before each nightly build.
      dbt run-operation set_as_of --args '{as_of: 2026-11-01}'
-#}
{% macro set_as_of(as_of) -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of | string) -%}
        {{ exceptions.raise_compiler_error("set_as_of: as_of must be a date YYYY-MM-DD, got: " ~ as_of) }}
    {%- endif -%}
    {%- set sql -%}
        create schema if not exists pipeline;
        drop table if exists pipeline.run_context;
        create table pipeline.run_context as
        select cast('manual' as varchar) as run_id, cast('{{ as_of }}' as date) as as_of,
               current_timestamp as written_at
    {%- endset -%}
    {%- do run_query(sql) -%}
    {%- do adapter.commit() -%}
    {{ log("pipeline.run_context: as of " ~ as_of, info=true) }}
{%- endmacro %}
