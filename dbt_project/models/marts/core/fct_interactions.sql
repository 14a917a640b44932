-- One row per CRM interaction up to the as-of date, attributed to the customer of its contact
-- (contacts of B2B accounts roll up to the account). Interactions of unknown contacts keep a null
-- customer_id.

with

interactions as (

    select * from {{ ref('stg_crm__interactions') }}
    where occurred_at < {{ as_of_cutoff() }}

),

contact_customers as (

    select * from {{ ref('int_contacts_customer_mapped') }}

),

final as (

    select
        cast(interactions.interaction_id as varchar) as interaction_id,
        cast(interactions.contact_id as varchar) as contact_id,
        cast(contact_customers.customer_id as varchar) as customer_id,
        cast(interactions.interaction_type as varchar) as interaction_type,
        cast(interactions.channel as varchar) as channel,
        cast(interactions.occurred_at as timestamp) as occurred_at,
        cast(
            coalesce(
                interactions.interaction_type in (
                    'email_opened', 'email_clicked', 'web_visit', 'call', 'meeting'
                ),
                false
            ) as boolean
        ) as is_response
    from interactions
    left join contact_customers
        on interactions.contact_id = contact_customers.contact_id

)

select * from final
