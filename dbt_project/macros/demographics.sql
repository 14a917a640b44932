{#- Demographics shared by dim_customers (B2C customers) and contact_features (every CRM person). -#}

{#- Age in the as-of year: as-of year - birth year (null when the birth year is unknown). -#}
{% macro age_at_as_of(birth_year) -%}
    case
        when {{ birth_year }} is not null
            then extract(year from {{ as_of_date() }}) - {{ birth_year }}
    end
{%- endmacro %}

{#- Age band 18-24, 25-34, 35-44, 45-54, 55-64, 65+; null when the age is unknown or under 18. -#}
{% macro age_band(age) -%}
    case
        when {{ age }} between 18 and 24 then '18-24'
        when {{ age }} between 25 and 34 then '25-34'
        when {{ age }} between 35 and 44 then '35-44'
        when {{ age }} between 45 and 54 then '45-54'
        when {{ age }} between 55 and 64 then '55-64'
        when {{ age }} >= 65 then '65+'
    end
{%- endmacro %}
