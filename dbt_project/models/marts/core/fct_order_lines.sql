-- One row per order line of a resolved order placed up to the as-of date.

with

lines as (

    select * from {{ ref('int_order_lines_valued') }}
    where customer_id is not null

),

final as (

    select
        cast(order_line_id as varchar) as order_line_id,
        cast(order_id as varchar) as order_id,
        cast(customer_id as varchar) as customer_id,
        cast(product_id as varchar) as product_id,
        cast(category as varchar) as category,
        cast(product_line as varchar) as product_line,
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,
        cast(discount_pct as decimal(5, 2)) as discount_pct,
        cast(net_amount as decimal(18, 2)) as net_amount,
        cast(gross_amount_eur as decimal(18, 2)) as gross_amount_eur,
        cast(net_amount_eur as decimal(18, 2)) as net_amount_eur,
        cast(is_return as boolean) as is_return,
        cast(ordered_at as timestamp) as ordered_at
    from lines

)

select * from final
