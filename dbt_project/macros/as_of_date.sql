{#-
  The "as of" date of a run as a SQL date literal, from `--vars '{as_of: YYYY-MM-DD}'`;
  current_date when the var is null/empty. Everything after this date is ignored by the models.
-#}
{% macro as_of_date() -%}
    {%- set raw_value = var('as_of', none) -%}
    {%- set value = (raw_value | string | trim) if raw_value is not none else '' -%}
    {%- if value in ('', 'None', 'none', 'null', 'NULL', '~') -%}
        current_date
    {%- elif modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        cast('{{ value }}' as date)
    {%- else -%}
        {{ exceptions.raise_compiler_error("var 'as_of' must be a date YYYY-MM-DD or null, got: " ~ value) }}
    {%- endif -%}
{%- endmacro %}

{#- Exclusive upper bound for event timestamps: everything strictly before the day after as_of. -#}
{% macro as_of_cutoff() -%}
    {{ dbt.dateadd('day', 1, as_of_date()) }}
{%- endmacro %}
