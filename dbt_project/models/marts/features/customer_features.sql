{%- set categories = ['product', 'service', 'advice', 'data'] -%}
-- One row per dim_customers customer (prospects included): point-in-time purchase features and
-- RFM scores as of the as-of date (fct_orders / fct_order_lines hold nothing after it).
-- Buyers are customers with at least one non-return order; RFM scores, revenue rank and
-- cumulative revenue share are computed among buyers only and are null for everybody else.
-- Lifecycle features use the purchase (non-return) orders. They need no window over the orders:
-- the gap between the last two purchases is latest date - second latest date, and a purchase of the
-- last 90 days ended a gap of more than 365 days exactly when the first purchase inside the window
-- came more than 365 days after the last one before it (later purchases inside the window follow
-- one less than 90 days earlier).

with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

customer_value as (

    select * from {{ ref('customer_value') }}

),

customer_adoption as (

    select * from {{ ref('customer_adoption') }}

),

customer_potential as (

    select * from {{ ref('customer_potential') }}

),

order_stats as (

    select
        customer_id,
        min(case when not is_return then ordered_at end) as first_order_at,
        max(case when not is_return then ordered_at end) as last_order_at,
        min(ordered_at) as first_any_order_at,
        count(*) as order_count,
        sum(case when not is_return then 1 else 0 end) as frequency,
        sum(case when is_return then 1 else 0 end) as return_order_count,
        sum(net_amount_eur) as monetary,
        sum(case when not is_return then net_amount_eur else 0 end) as purchase_revenue,
        sum(
            case
                when not is_return and order_date > {{ dbt.dateadd('day', -365, as_of_date()) }}
                    then 1
                else 0
            end
        ) as orders_365d,
        sum(
            case
                when order_date > {{ dbt.dateadd('day', -365, as_of_date()) }} then net_amount_eur
                else 0
            end
        ) as revenue_365d,
        sum(
            case
                when not is_return and order_date > {{ dbt.dateadd('day', -90, as_of_date()) }}
                    then 1
                else 0
            end
        ) as orders_90d,
        {{ second_largest('case when not is_return then order_date end') }} as second_last_order_date,
        min(
            case
                when not is_return and order_date > {{ dbt.dateadd('day', -90, as_of_date()) }}
                    then order_date
            end
        ) as first_order_date_90d,
        max(
            case
                when not is_return and order_date <= {{ dbt.dateadd('day', -90, as_of_date()) }}
                    then order_date
            end
        ) as last_order_date_before_90d
    from orders
    group by customer_id

),

category_stats as (

    -- one pass over the lines: revenue per category (returns included) and which categories were
    -- bought (a line with a positive quantity); customer_id last, so every looped column ends in a comma
    select
        {%- for category in categories %}
        sum(case when category = '{{ category }}' then net_amount_eur else 0 end) as {{ category }}_revenue,
        max(case when category = '{{ category }}' and quantity > 0 then 1 else 0 end) as bought_{{ category }},
        {%- endfor %}
        customer_id
    from order_lines
    group by customer_id

),

category_sets as (

    select
        customer_id,
        {%- for category in categories %}
        {{ category }}_revenue,
        {%- endfor %}
        {%- for category in categories %}
        bought_{{ category }}{{ ' +' if not loop.last }}
        {%- endfor %} as category_count,
        -- sorted list of the bought categories
        {%- set bought = [] %}
        {%- for category in categories | sort %}
        {%- do bought.append("case when bought_" ~ category ~ " = 1 then '" ~ category ~ "' end") %}
        {%- endfor %}
        {{ non_null_list(bought) }} as categories
    from category_stats

),

customer_base as (

    select
        customers.customer_id,
        customers.customer_type,
        customers.crm_created_at,
        customers.consent_email,
        customers.consent_sms,
        customers.consent_phone,
        customers.consent_post,
        order_stats.first_order_at,
        order_stats.last_order_at,
        order_stats.first_any_order_at,
        coalesce(order_stats.order_count, 0) as order_count,
        coalesce(order_stats.frequency, 0) as frequency,
        coalesce(order_stats.return_order_count, 0) as return_order_count,
        coalesce(order_stats.monetary, 0) as monetary,
        order_stats.purchase_revenue,
        coalesce(order_stats.orders_365d, 0) as orders_365d,
        coalesce(order_stats.revenue_365d, 0) as revenue_365d,
        coalesce(order_stats.orders_90d, 0) as orders_90d,
        {{ dbt.datediff('order_stats.second_last_order_date', 'cast(order_stats.last_order_at as date)', 'day') }}
            as previous_order_gap_days,
        coalesce(
            {{ dbt.datediff(
                'order_stats.last_order_date_before_90d', 'order_stats.first_order_date_90d', 'day'
            ) }} > 365,
            false
        ) as is_reactivated,
        {%- for category in categories %}
        coalesce(category_sets.{{ category }}_revenue, 0) as {{ category }}_revenue,
        {%- endfor %}
        coalesce(category_sets.category_count, 0) as category_count,
        coalesce(category_sets.categories, cast(array[] as varchar[])) as categories,
        {{ dbt.datediff('cast(order_stats.last_order_at as date)', as_of_date(), 'day') }}
            as recency_days,
        {{ dbt.datediff('cast(order_stats.first_order_at as date)', as_of_date(), 'day') }}
            as days_since_first_order
    from customers
    left join order_stats
        on customers.customer_id = order_stats.customer_id
    left join category_sets
        on customers.customer_id = category_sets.customer_id

),

buyer_scores as (

    -- quintile scores where tied values share a score: 1 + floor(5 * (rank - 1) / buyers);
    -- recency is ranked descending so the most recent buyers get the highest score
    select
        customer_id,
        1 + floor(5.0 * (rank() over (order by recency_days desc) - 1) / count(*) over ()) as r_score,
        1 + floor(5.0 * (rank() over (order by frequency) - 1) / count(*) over ()) as f_score,
        1 + floor(5.0 * (rank() over (order by monetary) - 1) / count(*) over ()) as m_score,
        row_number() over (order by monetary desc, customer_id asc) as revenue_rank,
        count(*) over () as buyer_count,
        case when monetary > 0 then monetary else 0 end as positive_revenue
    from customer_base
    where frequency > 0

),

buyer_ranks as (

    select
        customer_id,
        r_score,
        f_score,
        m_score,
        revenue_rank,
        revenue_rank <= ceil(0.2 * buyer_count) as is_top_20pct,
        {{ divide_double(
            'sum(positive_revenue) over (order by revenue_rank rows between unbounded preceding and current row)',
            'nullif(sum(positive_revenue) over (), 0)'
        ) }} as cumulative_revenue_share
    from buyer_scores

),

final as (

    select
        cast(customer_base.customer_id as varchar) as customer_id,
        cast(customer_base.customer_type as varchar) as customer_type,
        {{ as_of_date() }} as as_of_date,
        cast(customer_base.first_order_at as timestamp) as first_order_at,
        cast(customer_base.last_order_at as timestamp) as last_order_at,
        cast(customer_base.recency_days as integer) as recency_days,
        cast(customer_base.frequency as integer) as frequency,
        cast(customer_base.monetary as decimal(18, 2)) as monetary,
        cast(
            greatest(
                {{ dbt.datediff(
                    'least(cast(customer_base.crm_created_at as date), cast(customer_base.first_any_order_at as date))',
                    as_of_date(),
                    'day'
                ) }},
                0
            ) as integer
        ) as tenure_days,
        cast(
            case
                when customer_base.frequency > 0
                    then {{ round_double(
                        divide_double('customer_base.purchase_revenue', 'customer_base.frequency'), 2
                    ) }}
            end as decimal(18, 2)
        ) as average_order_value,
        cast(customer_base.category_count as integer) as category_count,
        cast(customer_base.categories as varchar[]) as categories,
        {%- for category in categories %}
        cast(customer_base.{{ category }}_revenue as decimal(18, 2)) as {{ category }}_revenue,
        {%- endfor %}
        cast(
            case
                when customer_base.order_count > 0
                    then {{ divide_double('1.0 * customer_base.return_order_count', 'customer_base.order_count') }}
            end as double precision
        ) as return_rate,
        cast(customer_base.orders_365d as integer) as orders_365d,
        cast(customer_base.revenue_365d as decimal(18, 2)) as revenue_365d,
        cast(buyer_ranks.r_score as integer) as r_score,
        cast(buyer_ranks.f_score as integer) as f_score,
        cast(buyer_ranks.m_score as integer) as m_score,
        cast(
            cast(cast(buyer_ranks.r_score as integer) as varchar)
            || cast(cast(buyer_ranks.f_score as integer) as varchar)
            || cast(cast(buyer_ranks.m_score as integer) as varchar) as varchar
        ) as rfm_score,
        cast(buyer_ranks.revenue_rank as integer) as revenue_rank,
        cast(buyer_ranks.cumulative_revenue_share as double precision) as cumulative_revenue_share,
        cast(coalesce(buyer_ranks.is_top_20pct, false) as boolean) as is_top_20pct,
        cast(customer_base.consent_email as boolean) as consent_email,
        cast(customer_base.consent_sms as boolean) as consent_sms,
        cast(customer_base.consent_phone as boolean) as consent_phone,
        cast(customer_base.consent_post as boolean) as consent_post,
        cast(customer_base.orders_90d as integer) as orders_90d,
        cast(customer_base.days_since_first_order as integer) as days_since_first_order,
        cast(customer_base.previous_order_gap_days as integer) as previous_order_gap_days,
        cast(
            case
                when customer_base.frequency > 1
                    then {{ divide_double(
                        '1.0 * ' ~ dbt.datediff(
                            'cast(customer_base.first_order_at as date)',
                            'cast(customer_base.last_order_at as date)',
                            'day'
                        ),
                        'customer_base.frequency - 1'
                    ) }}
            end as double precision
        ) as average_order_gap_days,
        cast(customer_base.is_reactivated as boolean) as is_reactivated,
        cast(customer_value.p_alive as double precision) as p_alive,
        cast(customer_value.expected_purchases_90d as double precision) as expected_purchases_90d,
        cast(customer_value.expected_purchases_365d as double precision) as expected_purchases_365d,
        cast(customer_value.expected_average_order_value as decimal(18, 2)) as expected_average_order_value,
        cast(customer_value.predicted_clv as decimal(18, 2)) as predicted_clv,
        cast(customer_value.historical_clv as decimal(18, 2)) as historical_clv,
        cast(customer_value.clv_to_cac as double precision) as clv_to_cac,
        cast(coalesce(customer_adoption.adopter_lines, 0) as integer) as adopter_lines,
        cast(customer_adoption.earliest_adopter_category as varchar) as earliest_adopter_category,
        cast(coalesce(customer_adoption.is_early_adopter, false) as boolean) as is_early_adopter,
        cast(customer_potential.potential_segment as varchar) as potential_segment,
        cast(customer_potential.potential_value as decimal(18, 2)) as potential_value
    from customer_base
    left join buyer_ranks
        on customer_base.customer_id = buyer_ranks.customer_id
    left join customer_value
        on customer_base.customer_id = customer_value.customer_id
    left join customer_adoption
        on customer_base.customer_id = customer_adoption.customer_id
    left join customer_potential
        on customer_base.customer_id = customer_potential.customer_id

)

select * from final
