{#- (category, count column), most innovative first; the order is adopter_category_order -#}
{%- set categories = [
    ('innovators', 'innovator_lines'),
    ('early_adopters', 'early_adopter_lines'),
    ('early_majority', 'early_majority_lines'),
    ('late_majority', 'late_majority_lines'),
    ('laggards', 'laggard_lines'),
] -%}
-- One row per dim_customers customer: how early they adopt our product lines, rolled up from
-- customer_product_line_adoption (one row per customer x adopted line; the category rule is there).
-- Each line counts in exactly one category column, so innovator_lines + early_adopter_lines + ... +
-- laggard_lines = adopter_lines. Customers who adopted no line have zero counts and a null category.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

line_adoption as (

    select * from {{ ref('customer_product_line_adoption') }}

),

aggregated as (

    select
        customer_id,
        count(*) as adopter_lines,
        {%- for category, column in categories %}
        {{ count_where("adopter_category = '" ~ category ~ "'") }} as {{ column }},
        {%- endfor %}
        min(adopter_category_order) as earliest_adopter_category_order
    from line_adoption
    group by customer_id

),

final as (

    select
        cast(customers.customer_id as varchar) as customer_id,
        cast(coalesce(aggregated.adopter_lines, 0) as integer) as adopter_lines,
        {%- for category, column in categories %}
        cast(coalesce(aggregated.{{ column }}, 0) as integer) as {{ column }},
        {%- endfor %}
        cast(
            case aggregated.earliest_adopter_category_order
                {%- for category, column in categories %}
                when {{ loop.index }} then '{{ category }}'
                {%- endfor %}
            end as varchar
        ) as earliest_adopter_category,
        cast(coalesce(aggregated.earliest_adopter_category_order <= 2, false) as boolean)
            as is_early_adopter
    from customers
    left join aggregated
        on customers.customer_id = aggregated.customer_id

)

select * from final
