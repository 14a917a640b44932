{%- set windows = [30, 90, 365] -%}
-- One row per CRM interaction up to the as-of date, attributed to the customer of its contact
-- (contacts of B2B accounts roll up to the account; unknown contacts keep a null customer_id), with
-- the windows the feature marts count it in. The one place that defines attribution, is_response
-- and the windows: fct_interactions publishes these rows without the window columns, and
-- customer_behaviour (30/90/365 days) and contact_features (90/365 days) aggregate them.
-- A window of N days is the N calendar days ending on (and including) the as-of date.

with

interactions as (

    select * from {{ ref('stg_crm__interactions') }}
    where occurred_at < {{ as_of_cutoff() }}

),

contact_customers as (

    select * from {{ ref('int_contacts_customer_mapped') }}

),

attributed as (

    select
        interactions.interaction_id,
        interactions.contact_id,
        contact_customers.customer_id,
        interactions.interaction_type,
        interactions.channel,
        interactions.occurred_at,
        coalesce(
            interactions.interaction_type in (
                'email_opened', 'email_clicked', 'web_visit', 'call', 'meeting'
            ),
            false
        ) as is_response
    from interactions
    left join contact_customers
        on interactions.contact_id = contact_customers.contact_id

),

final as (

    -- windows as timestamp comparisons against constants (cheap on ~20 rows per customer);
    -- days_ago is only computed for the responses of the last 90 days (engagement weights)
    select
        interaction_id,
        contact_id,
        customer_id,
        interaction_type,
        channel,
        occurred_at,
        is_response,
        {%- for window in windows %}
        occurred_at >= {{ dbt.dateadd('day', 1 - window, as_of_date()) }} as in_{{ window }}d,
        {%- endfor %}
        {{ response_days_ago_90d('occurred_at', 'is_response') }} as response_days_ago_90d,
        -- the channel a response shows the customer reacts on
        {{ response_channel('interaction_type', 'channel', 'is_response') }} as response_channel
    from attributed

)

select * from final
