{#-
  Floating-point arithmetic as DuckDB does it, so every engine gives the same doubles (and the same
  cents where a double is rounded). DuckDB divides decimals and integers in double precision, rounds a
  double half away from zero and averages a decimal to the nearest double; Postgres divides, rounds
  and averages numerics exactly and rounds a double half to even. The duckdb__ versions are the SQL the
  models always had; the default__ (Postgres) versions do the same operations on doubles.
-#}

{#- numerator / denominator in double precision: both converted to double, then divided. -#}
{% macro divide_double(numerator, denominator) -%}
    {{ return(adapter.dispatch('divide_double', 'segments')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__divide_double(numerator, denominator) -%}
    cast({{ numerator }} as double precision) / ({{ denominator }})
{%- endmacro %}

{#- DuckDB: `/` on integers and decimals is already a division of doubles. -#}
{% macro duckdb__divide_double(numerator, denominator) -%}
    ({{ numerator }}) / ({{ denominator }})
{%- endmacro %}

{#- A double rounded to `digits` decimals as DuckDB's round() does: x * 10^digits rounded to the nearest
    integer, ties away from zero, divided by 10^digits again (all in double precision). -#}
{% macro round_double(expression, digits=0) -%}
    {{ return(adapter.dispatch('round_double', 'segments')(expression, digits)) }}
{%- endmacro %}

{#- floor(|x| + 0.5) is x rounded half away from zero for |x| >= 0.5; below that the answer is 0 (and
    the sum would round 0.49999999999999994 up to 1). -#}
{% macro default__round_double(expression, digits=0) -%}
    {%- set scaled = '(cast(' ~ expression ~ ' as double precision) * ' ~ (10 ** digits) ~ ')' -%}
    (
        case when abs({{ scaled }}) < 0.5 then 0 else sign({{ scaled }}) * floor(abs({{ scaled }}) + 0.5) end
        / cast({{ 10 ** digits }} as double precision)
    )
{%- endmacro %}

{% macro duckdb__round_double(expression, digits=0) -%}
    round({{ expression }}{{ ', ' ~ digits if digits }})
{%- endmacro %}

{#- The mean of a decimal column with `scale` decimals as DuckDB's avg() gives it: the exact mean
    rounded once to the nearest double (null without values). Exact on the other engines as long as
    the sum in units of 10^-scale stays below 2^53 (9e13 EUR in cents). -#}
{% macro mean_as_double(expression, scale) -%}
    {{ return(adapter.dispatch('mean_as_double', 'segments')(expression, scale)) }}
{%- endmacro %}

{#- sum * 10^scale and count * 10^scale are whole numbers a double holds exactly, so their quotient is
    the exact mean rounded once. -#}
{% macro default__mean_as_double(expression, scale) -%}
    cast(sum({{ expression }}) * {{ 10 ** scale }} as double precision)
    / nullif(count({{ expression }}) * {{ 10 ** scale }}, 0)
{%- endmacro %}

{% macro duckdb__mean_as_double(expression, scale) -%}
    avg({{ expression }})
{%- endmacro %}
