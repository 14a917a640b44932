-- One row per resolved order (an order whose customer could be identified, as a CRM customer or a
-- guest) placed up to the as-of date. Amounts are the sums of its lines in EUR.

with

orders as (

    select * from {{ ref('int_orders_identity_matched') }}
    where customer_id is not null

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

order_totals as (

    select
        order_id,
        sum(gross_amount_eur) as gross_amount_eur,
        sum(net_amount_eur) as net_amount_eur,
        count(*) as line_count,
        bool_and(quantity < 0) as all_lines_returned
    from order_lines
    group by order_id

),

final as (

    select
        cast(orders.order_id as varchar) as order_id,
        cast(orders.customer_id as varchar) as customer_id,
        cast(orders.match_method as varchar) as match_method,
        cast(orders.ordered_at as timestamp) as ordered_at,
        cast(orders.ordered_at as date) as order_date,
        cast(orders.sales_channel as varchar) as sales_channel,
        cast(orders.currency as varchar) as currency,
        cast(coalesce(order_totals.gross_amount_eur, 0) as decimal(18, 2)) as gross_amount_eur,
        cast(
            coalesce(order_totals.gross_amount_eur, 0) - coalesce(order_totals.net_amount_eur, 0)
            as decimal(18, 2)
        ) as discount_amount_eur,
        cast(coalesce(order_totals.net_amount_eur, 0) as decimal(18, 2)) as net_amount_eur,
        cast(coalesce(order_totals.line_count, 0) as integer) as line_count,
        cast(coalesce(order_totals.all_lines_returned, false) as boolean) as is_return
    from orders
    left join order_totals
        on orders.order_id = order_totals.order_id

)

select * from final
