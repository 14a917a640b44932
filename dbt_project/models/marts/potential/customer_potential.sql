{#- Facts cells, finest first, per customer type: (customer type, match level, facts, label suffix).
    A coarser level drops region first (the most fragmented fact: ~35 values in the demo), then
    (B2B) tech maturity; industry + size (B2B) and age + household (B2C) are never dropped, as a
    segment of a single fact would be too broad to address. potential_segments reads the facts of a
    level from match_level (region only at level 1, tech_maturity up to level 2): keep both in sync. -#}
{%- set levels = [
    ('b2b', 1, ['industry', 'employee_band', 'region', 'tech_maturity'], ''),
    ('b2b', 2, ['industry', 'employee_band', 'tech_maturity'], ', all regions'),
    ('b2b', 3, ['industry', 'employee_band'], ', all regions and tech maturities'),
    ('b2c', 1, ['age_band', 'household', 'region'], ''),
    ('b2c', 2, ['age_band', 'household'], ', all regions'),
] -%}
{%- set min_buyers = var('potential_min_buyers', 5) -%}
{%- set top_cell_share = var('potential_top_cell_share', 0.2) -%}
-- One row per dim_customers customer: the potential segment of a prospect (a CRM account or contact
-- without purchases: customer_features.frequency = 0), i.e. the high-value segment of existing buyers
-- it resembles on its facts, and that segment's average value per buyer.
--   cell        the B2B accounts or B2C contacts sharing the facts of a level (e.g. industry,
--               employee band, region and tech maturity); a fact must be known to be in a cell
--   high value  a cell with at least potential_min_buyers (default 5) buyers whose average value per
--               buyer ranks in the top potential_top_cell_share (default 20 %) of such cells of the
--               same customer type and level (rank with ties: rank <= ceil(0.2 * cells))
--   match       a prospect is judged by its finest cell that has enough buyers: the full cell, else
--               the cell without region, else (B2B) also without tech maturity. It gets a potential
--               segment if that cell is high value; a coarser high-value cell never overrides a
--               finer cell with enough buyers (the more specific evidence decides).
-- Guests are never prospects (they have orders and no facts) and never buyers of a cell.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

order_stats as (

    -- frequency and monetary as customer_features defines them (purchases = non-return orders;
    -- monetary = net revenue of all orders, returns subtracted), read from fct_orders rather than
    -- customer_features so that customer_features can include this model's columns without a cycle
    select
        customer_id,
        {{ count_where('not is_return') }} as frequency,
        sum(net_amount_eur) as monetary
    from orders
    group by customer_id

),

buyer_values as (

    -- The value of a buyer: the one place to swap the measure, e.g. predicted_clv from
    -- ref('customer_value') (which does not read this model). Buyers are customers with at least one
    -- purchase; everybody else is valued at nothing.
    select
        customer_id,
        monetary as buyer_value
    from order_stats
    where frequency > 0

),

people as (

    select
        customers.customer_id,
        customers.customer_type,
        customers.industry,
        customers.employee_band,
        customers.region,
        customers.tech_maturity,
        customers.age_band,
        customers.household,
        coalesce(order_stats.frequency, 0) = 0 as is_prospect,
        buyer_values.buyer_value
    from customers
    left join order_stats
        on customers.customer_id = order_stats.customer_id
    left join buyer_values
        on customers.customer_id = buyer_values.customer_id
    where customers.customer_type in ('b2b', 'b2c')

),

cell_members as (

    -- one row per person and level whose facts are all known
    {%- for customer_type, level, facts, suffix in levels %}
    select
        customer_id,
        customer_type,
        {{ level }} as match_level,
        '{{ customer_type | upper }} ' || {{ facts | join(" || ' ' || ") }}
        {%- if suffix %} || '{{ suffix }}'{% endif %} as cell_label,
        is_prospect,
        buyer_value
    from people
    where customer_type = '{{ customer_type }}'
        {%- for fact in facts %}
        and {{ fact }} is not null
        {%- endfor %}
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

cells as (

    select
        customer_type,
        match_level,
        cell_label,
        count(buyer_value) as buyers,
        {{ mean_as_double('buyer_value', 2) }} as average_value
    from cell_members
    where buyer_value is not null
    group by customer_type, match_level, cell_label
    having count(buyer_value) >= {{ min_buyers }}

),

ranked_cells as (

    select
        *,
        rank() over (
            partition by customer_type, match_level order by average_value desc
        ) <= ceil({{ top_cell_share }} * count(*) over (partition by customer_type, match_level))
            as is_high_value
    from cells

),

prospect_matches as (

    -- each prospect's finest cell with enough buyers
    select
        cell_members.customer_id,
        ranked_cells.match_level,
        ranked_cells.cell_label,
        ranked_cells.buyers,
        ranked_cells.average_value,
        ranked_cells.is_high_value,
        row_number() over (
            partition by cell_members.customer_id order by ranked_cells.match_level
        ) as match_seq
    from cell_members
    inner join ranked_cells
        on cell_members.cell_label = ranked_cells.cell_label
    where cell_members.is_prospect

),

potential as (

    select * from prospect_matches
    where match_seq = 1
        and is_high_value

),

final as (

    select
        cast(customers.customer_id as varchar) as customer_id,
        cast(customers.customer_type as varchar) as customer_type,
        cast(
            customers.customer_type in ('b2b', 'b2c') and coalesce(order_stats.frequency, 0) = 0 as boolean
        ) as is_prospect,
        cast(potential.cell_label as varchar) as potential_segment,
        cast(potential.match_level as integer) as potential_match_level,
        cast(potential.buyers as integer) as potential_segment_buyers,
        cast({{ round_double('potential.average_value', 2) }} as decimal(18, 2)) as potential_value
    from customers
    left join order_stats
        on customers.customer_id = order_stats.customer_id
    left join potential
        on customers.customer_id = potential.customer_id

)

select * from final
