-- Match-rate report of identity resolution: how the orders placed up to the as-of date were matched
-- to customers. One row per match method (all six, zero when unused).

with

orders as (

    select * from {{ ref('int_orders_identity_matched') }}

),

match_methods as (

    select
        methods.method_order,
        methods.match_method
    from (
        values
        (1, 'crm_id'),
        (2, 'email'),
        (3, 'org_number'),
        (4, 'guest_email'),
        (5, 'guest_org'),
        (6, 'unresolved')
    ) as methods (method_order, match_method)

),

counts as (

    select
        match_method,
        count(*) as orders
    from orders
    group by match_method

),

final as (

    select
        cast(match_methods.match_method as varchar) as match_method,
        cast(coalesce(counts.orders, 0) as bigint) as orders,
        cast(
            {{ divide_double(
                '1.0 * coalesce(counts.orders, 0)', 'nullif(sum(coalesce(counts.orders, 0)) over (), 0)'
            ) }} as double precision
        ) as share_of_orders
    from match_methods
    left join counts
        on match_methods.match_method = counts.match_method
    order by match_methods.method_order

)

select * from final
