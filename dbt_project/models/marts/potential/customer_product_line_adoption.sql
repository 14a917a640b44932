{#- Adopter categories (Rogers' diffusion of innovations) and their cumulative cut-offs, in per mille of
    a line's adopters: innovators the first 2.5 %, early adopters the next 13.5 % (up to 16 %), early
    majority the next 34 % (up to 50 %), late majority the next 34 % (up to 84 %), laggards the rest. -#}
{%- set cutoffs_per_mille = [
    ('innovators', 25),
    ('early_adopters', 160),
    ('early_majority', 500),
    ('late_majority', 840),
] -%}
-- One row per customer x product line the customer adopted: a line launched on or before the as-of
-- date and bought by the customer (a non-return line, on or after the launch, up to the as-of date).
-- A line's launch date is the earliest launch date of its products (stg_sales__products has one per
-- product); purchases before it are ignored (they can only be data errors).
-- Category rule: the adopters of a line are ordered by the time of their first purchase of the line;
-- an adopter's cumulative share is the share of the line's adopters who had adopted by that time
-- (themselves and everybody tied with them included, i.e. cume_dist). The category is the first one
-- whose cumulative cut-off the share does not exceed. So 40 adopters give 1 innovator (1/40 = 2.5 %),
-- 5 early adopters (up to 6/40 = 15 %), 14 early majority, 13 late majority and 7 laggards, and
-- adopters tied at the same first-purchase time always share a category (the later one at a cut-off).
-- A line with fewer than 40 adopters has no innovators. The comparison is done in integers
-- (1000 * adopted_by_then <= cut-off * adopters), so no rounding decides a category.

with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

products as (

    select * from {{ ref('stg_sales__products') }}

),

history as (

    -- the start of the order history: a line launched before it has its first adopters censored
    select min(ordered_at) as history_start_at
    from order_lines

),

product_lines as (

    select
        product_line,
        min(launch_date) as launch_date
    from products
    where product_line is not null
        and launch_date is not null
    group by product_line

),

launched_lines as (

    select * from product_lines
    where launch_date <= {{ as_of_date() }}

),

first_purchases as (

    select
        order_lines.customer_id,
        order_lines.product_line,
        min(order_lines.ordered_at) as first_purchase_at
    from order_lines
    inner join launched_lines
        on order_lines.product_line = launched_lines.product_line
    where not order_lines.is_return
        and order_lines.quantity > 0
        and order_lines.ordered_at >= launched_lines.launch_date
        and order_lines.ordered_at < {{ as_of_cutoff() }}
    group by order_lines.customer_id, order_lines.product_line

),

positioned as (

    select
        first_purchases.customer_id,
        first_purchases.product_line,
        launched_lines.launch_date,
        first_purchases.first_purchase_at,
        -- adopters of the line who had adopted by this adopter's first purchase (ties included)
        count(*) over (
            partition by first_purchases.product_line
            order by first_purchases.first_purchase_at
            range between unbounded preceding and current row
        ) as adopters_by_then,
        count(*) over (partition by first_purchases.product_line) as line_adopters
    from first_purchases
    inner join launched_lines
        on first_purchases.product_line = launched_lines.product_line

),

categorised as (

    select
        *,
        case
            {%- for category, per_mille in cutoffs_per_mille %}
            when 1000 * adopters_by_then <= {{ per_mille }} * line_adopters then '{{ category }}'
            {%- endfor %}
            else 'laggards'
        end as adopter_category,
        case
            {%- for category, per_mille in cutoffs_per_mille %}
            when 1000 * adopters_by_then <= {{ per_mille }} * line_adopters then {{ loop.index }}
            {%- endfor %}
            else {{ cutoffs_per_mille | length + 1 }}
        end as adopter_category_order
    from positioned

),

final as (

    select
        cast(categorised.customer_id as varchar) as customer_id,
        cast(categorised.product_line as varchar) as product_line,
        cast(categorised.launch_date as date) as launch_date,
        cast(categorised.first_purchase_at as timestamp) as first_purchase_at,
        cast(
            {{ dbt.datediff('categorised.launch_date', 'cast(categorised.first_purchase_at as date)', 'day') }}
            as integer
        ) as days_after_launch,
        cast(categorised.adopters_by_then as integer) as adopters_by_then,
        cast(categorised.line_adopters as integer) as line_adopters,
        cast(
            {{ divide_double('1.0 * categorised.adopters_by_then', 'categorised.line_adopters') }}
            as double precision
        ) as cumulative_adopter_share,
        cast(categorised.adopter_category as varchar) as adopter_category,
        cast(categorised.adopter_category_order as integer) as adopter_category_order,
        cast(
            coalesce(categorised.launch_date < cast(history.history_start_at as date), false) as boolean
        ) as is_launch_before_history
    from categorised
    cross join history

)

select * from final
