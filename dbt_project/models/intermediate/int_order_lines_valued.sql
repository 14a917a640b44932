-- Order lines of the orders placed up to the as-of date, with their product and their value in the
-- order currency and in EUR (fixed reference rates from the currency_rates seed).
--   gross  = quantity * unit_price
--   net    = quantity * unit_price * (100 - discount_pct) / 100, rounded to cents
--   *_eur  = amount * eur_rate, rounded to cents
-- Returns (negative quantity) carry negative amounts.

with

lines as (

    select * from {{ ref('stg_sales__order_lines') }}

),

orders as (

    select * from {{ ref('int_orders_identity_matched') }}

),

products as (

    select * from {{ ref('stg_sales__products') }}

),

currency_rates as (

    select * from {{ ref('currency_rates') }}

),

valued as (

    select
        lines.order_line_id,
        lines.order_id,
        orders.customer_id,
        orders.match_method,
        lines.product_id,
        products.category,
        products.product_line,
        lines.quantity,
        lines.unit_price,
        lines.discount_pct,
        orders.currency,
        currency_rates.eur_rate,
        cast(lines.quantity * lines.unit_price as decimal(18, 2)) as gross_amount,
        cast(
            round(lines.quantity * lines.unit_price * (100 - coalesce(lines.discount_pct, 0)) * 0.01, 2)
            as decimal(18, 2)
        ) as net_amount,
        lines.quantity < 0 as is_return,
        orders.ordered_at
    from lines
    inner join orders
        on lines.order_id = orders.order_id
    left join products
        on lines.product_id = products.product_id
    left join currency_rates
        on orders.currency = currency_rates.currency

),

final as (

    select
        order_line_id,
        order_id,
        customer_id,
        match_method,
        product_id,
        category,
        product_line,
        quantity,
        unit_price,
        discount_pct,
        currency,
        gross_amount,
        net_amount,
        cast(round(gross_amount * eur_rate, 2) as decimal(18, 2)) as gross_amount_eur,
        cast(round(net_amount * eur_rate, 2) as decimal(18, 2)) as net_amount_eur,
        is_return,
        ordered_at
    from valued

)

select * from final
