{#-
  For running dbt by hand: write the run context the pipeline writes before each nightly build.
      dbt run-operation set_as_of --args '{as_of: 2026-11-01}'
-#}
{% macro set_as_of(as_of) -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', as_of | string) -%}
        {{ exceptions.raise_compiler_error("set_as_of: as_of must be a date YYYY-MM-DD, got: " ~ as_of) }}
    {%- endif -%}
    {#- emptied and refilled, not dropped: on Postgres the staging view depends on the table -#}
    {%- set sql -%}
        create schema if not exists pipeline;
        create table if not exists pipeline.run_context (
            run_id varchar not null, as_of date not null, written_at timestamp not null
        );
        delete from pipeline.run_context;
        insert into pipeline.run_context (run_id, as_of, written_at)
        values ('manual', cast('{{ as_of }}' as date), cast(current_timestamp as timestamp))
    {%- endset -%}
    {%- call statement('set_as_of', auto_begin=true) -%}{{ sql }}{%- endcall -%}
    {%- do adapter.commit() -%}
    {{ log("pipeline.run_context: as of " ~ as_of, info=true) }}
{%- endmacro %}
