{#- Normalisation helpers shared by staging and identity matching (idempotent). -#}

{#- System ids: passed through, empty string -> null. Not trimmed: ids are generated, not typed, and
    trimming ~30M unique strings per run is the single most expensive thing staging could do. -#}
{% macro clean_id(column) -%}
    nullif({{ column }}, '')
{%- endmacro %}

{#- Trimmed text, empty string -> null. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Lower-cased trimmed text, empty string -> null (codes, channels, emails). -#}
{% macro clean_code(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}

{% macro normalize_email(column) -%}
    {{ clean_code(column) }}
{%- endmacro %}

{#- Organisation numbers: digits only, empty -> null ("556677-8899" -> "5566778899"). -#}
{% macro normalize_org_number(column) -%}
    nullif(regexp_replace({{ column }}, '[^0-9]', '', 'g'), '')
{%- endmacro %}
