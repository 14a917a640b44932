{%- set windows = [90, 365] -%}
-- One row per CRM contact (B2C persons and the contacts at B2B accounts): the people who use and hear
-- from us, as opposed to the customers who pay (dim_customers). Demographics, the account's
-- firmographics for B2B contacts, the contact's own consent, channel preference and engagement as of
-- the as-of date (int_interactions_windowed holds nothing after it). Channel preference and engagement
-- use the same windows and macros as customer_behaviour, so the scores are on the same scale.

with

contact_customers as (

    select * from {{ ref('int_contacts_customer_mapped') }}

),

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

accounts as (

    -- firmographics as dim_customers holds them (one row per account)
    select
        customer_id,
        industry,
        employee_band,
        tech_maturity
    from {{ ref('dim_customers') }}
    where customer_type = 'b2b'

),

interactions as (

    -- attribution, is_response and the 90/365-day windows: int_interactions_windowed
    select
        contact_id,
        interaction_type,
        occurred_at,
        in_90d,
        in_365d,
        response_days_ago_90d,
        response_channel
    from {{ ref('int_interactions_windowed') }}
    where contact_id is not null

),

aggregated as (

    select
        contact_id,
        max(occurred_at) as last_interaction_at,
        {%- for window in windows %}
        {{ count_where('in_' ~ window ~ 'd') }} as interactions_{{ window }}d,
        {%- endfor %}
        {{ count_where("in_365d and interaction_type = 'email_sent'") }} as emails_sent_365d,
        {{ count_where("in_365d and interaction_type = 'email_opened'") }} as emails_opened_365d,
        {{ count_where("in_365d and interaction_type = 'email_clicked'") }} as emails_clicked_365d,
        {{ count_where("in_365d and response_channel = 'email'") }} as email_responses_365d,
        {{ count_where("in_365d and response_channel = 'phone'") }} as phone_responses_365d,
        {{ count_where("in_365d and response_channel = 'sms'") }} as sms_responses_365d,
        {{ weighted_responses_90d('response_days_ago_90d') }} as weighted_responses_90d
    from interactions
    group by contact_id

),

people as (

    -- the primary contact of an account is its earliest created contact (ties and unknown creation
    -- dates: lowest id), as in dim_customers; a B2C person is the only contact of its own customer
    select
        contact_customers.contact_id,
        contact_customers.account_id,
        contact_customers.customer_id,
        contact_customers.customer_type,
        contacts.birth_year,
        contacts.gender,
        contacts.education,
        contacts.household,
        contacts.country,
        contacts.region,
        contacts.city,
        contacts.consent_email,
        contacts.consent_sms,
        contacts.consent_phone,
        contacts.consent_post,
        contacts.preferred_channel as stated_preferred_channel,
        contacts.created_at,
        row_number() over (
            partition by contact_customers.customer_id
            order by contacts.created_at nulls last, contact_customers.contact_id
        ) = 1 as is_primary_contact
    from contact_customers
    inner join contacts
        on contact_customers.contact_id = contacts.contact_id

),

scored as (

    select
        people.*,
        {{ age_at_as_of('people.birth_year') }} as age,
        accounts.industry,
        accounts.employee_band,
        accounts.tech_maturity,
        aggregated.last_interaction_at,
        {%- for window in windows %}
        aggregated.interactions_{{ window }}d,
        {%- endfor %}
        aggregated.emails_sent_365d,
        aggregated.emails_opened_365d,
        aggregated.emails_clicked_365d,
        aggregated.weighted_responses_90d,
        {{ inferred_preferred_channel(
            'aggregated.email_responses_365d',
            'aggregated.phone_responses_365d',
            'aggregated.sms_responses_365d'
        ) }} as inferred_preferred_channel
    from people
    -- customer_id is unique in dim_customers, so a B2C person (customer_id = its own, b2c, id) never
    -- matches an account: no extra customer_type condition, which would make DuckDB skip the hash join
    left join accounts
        on people.customer_id = accounts.customer_id
    left join aggregated
        on people.contact_id = aggregated.contact_id

),

final as (

    select
        cast(contact_id as varchar) as contact_id,
        cast(customer_id as varchar) as customer_id,
        cast(account_id as varchar) as account_id,
        cast(customer_type as varchar) as customer_type,
        cast(is_primary_contact as boolean) as is_primary_contact,
        cast(birth_year as integer) as birth_year,
        cast(age as integer) as age,
        cast({{ age_band('age') }} as varchar) as age_band,
        cast(gender as varchar) as gender,
        cast(education as varchar) as education,
        cast(household as varchar) as household,
        cast(country as varchar) as country,
        cast(region as varchar) as region,
        cast(city as varchar) as city,
        cast(industry as varchar) as industry,
        cast(employee_band as varchar) as employee_band,
        cast(tech_maturity as varchar) as tech_maturity,
        cast(coalesce(consent_email, false) as boolean) as consent_email,
        cast(coalesce(consent_sms, false) as boolean) as consent_sms,
        cast(coalesce(consent_phone, false) as boolean) as consent_phone,
        cast(coalesce(consent_post, false) as boolean) as consent_post,
        cast(stated_preferred_channel as varchar) as stated_preferred_channel,
        cast(inferred_preferred_channel as varchar) as inferred_preferred_channel,
        cast(
            {{ preferred_channel('stated_preferred_channel', 'inferred_preferred_channel') }} as varchar
        ) as preferred_channel,
        {%- for window in windows %}
        cast(coalesce(interactions_{{ window }}d, 0) as integer) as interactions_{{ window }}d,
        {%- endfor %}
        cast(
            case
                when emails_sent_365d > 0
                    then least(1.0, {{ divide_double('1.0 * emails_opened_365d', 'emails_sent_365d') }})
            end as double precision
        ) as email_open_rate_365d,
        cast(
            case
                when emails_sent_365d > 0
                    then least(1.0, {{ divide_double('1.0 * emails_clicked_365d', 'emails_sent_365d') }})
            end as double precision
        ) as email_click_rate_365d,
        cast(
            {{ dbt.datediff('cast(last_interaction_at as date)', as_of_date(), 'day') }}
            as integer
        ) as days_since_last_interaction,
        cast({{ engagement_score('weighted_responses_90d') }} as integer) as engagement_score,
        cast(created_at as timestamp) as contact_created_at
    from scored

)

select * from final
