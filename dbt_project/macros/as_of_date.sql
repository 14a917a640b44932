{#-
  The "as of" date of the run: a scalar subquery on the run context the pipeline writes before each
  build (source pipeline.run_context, staged as stg_pipeline__run_context). The date is data rather
  than a dbt var, so the compiled SQL is the same every night and dbt keeps its partial parse.
  Everything after this date is ignored by the models.
-#}
{% macro as_of_date() -%}
    (select as_of_date from {{ ref('stg_pipeline__run_context') }})
{%- endmacro %}

{#- Exclusive upper bound for event timestamps: everything strictly before the day after as_of. -#}
{% macro as_of_cutoff() -%}
    {{ dbt.dateadd('day', 1, as_of_date()) }}
{%- endmacro %}
