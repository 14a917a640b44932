-- One row per CRM interaction up to the as-of date, attributed to the customer of its contact
-- (contacts of B2B accounts roll up to the account). Interactions of unknown contacts keep a null
-- customer_id. Attribution, the as-of cutoff and is_response are defined once, in
-- int_interactions_windowed; this table publishes its rows without the window columns.

with

interactions as (

    select * from {{ ref('int_interactions_windowed') }}

),

final as (

    select
        cast(interaction_id as varchar) as interaction_id,
        cast(contact_id as varchar) as contact_id,
        cast(customer_id as varchar) as customer_id,
        cast(interaction_type as varchar) as interaction_type,
        cast(channel as varchar) as channel,
        cast(occurred_at as timestamp) as occurred_at,
        cast(is_response as boolean) as is_response
    from interactions

)

select * from final
