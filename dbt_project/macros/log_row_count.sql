{#-
  Post-hook of every model and seed: a table tells the orchestrator how many rows it holds, in dbt's own
  event stream ("segments row_count: <n>", at info level), so the Dagster materialization carries
  dagster/row_count as soon as the node finishes. Views are not counted (counting one runs its query).
  The hook renders to no SQL: nothing is run but the count.
-#}
{% macro log_row_count() -%}
    {%- if execute and model.config.materialized in ('table', 'incremental', 'seed') -%}
        {%- set result = run_query('select count(*) from ' ~ this) -%}
        {{- log('segments row_count: ' ~ result.columns[0].values()[0], info=true) -}}
    {%- endif -%}
{%- endmacro %}
