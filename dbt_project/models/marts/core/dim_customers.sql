-- One row per customer: every B2B account, every B2C contact (a contact without an existing
-- account) and every guest customer created by identity resolution (orders up to the as-of date).

with

accounts as (

    select * from {{ ref('stg_crm__accounts') }}
    where account_id is not null

),

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

contact_customers as (

    select * from {{ ref('int_contacts_customer_mapped') }}

),

matched_orders as (

    select * from {{ ref('int_orders_identity_matched') }}

),

b2b_contacts as (

    select
        contact_customers.customer_id as account_id,
        contacts.consent_email,
        contacts.consent_sms,
        contacts.consent_phone,
        contacts.consent_post,
        contacts.preferred_channel,
        contacts.acquisition_channel,
        contacts.acquisition_cost,
        row_number() over (
            partition by contact_customers.customer_id
            order by contacts.created_at nulls last, contacts.contact_id
        ) as contact_seq
    from contact_customers
    inner join contacts
        on contact_customers.contact_id = contacts.contact_id
    where contact_customers.customer_type = 'b2b'

),

account_contacts as (

    -- consent of an account = any of its contacts consented; channels and acquisition come from
    -- the account's earliest created contact
    select
        account_id,
        count(*) as contact_count,
        coalesce(bool_or(consent_email), false) as consent_email,
        coalesce(bool_or(consent_sms), false) as consent_sms,
        coalesce(bool_or(consent_phone), false) as consent_phone,
        coalesce(bool_or(consent_post), false) as consent_post,
        max(case when contact_seq = 1 then preferred_channel end) as stated_preferred_channel,
        max(case when contact_seq = 1 then acquisition_channel end) as acquisition_channel,
        max(case when contact_seq = 1 then acquisition_cost end) as acquisition_cost
    from b2b_contacts
    group by account_id

),

b2b as (

    select
        accounts.account_id as customer_id,
        'b2b' as customer_type,
        accounts.account_name as name,
        cast(null as varchar) as email,
        accounts.country,
        accounts.region,
        accounts.city,
        accounts.org_number,
        accounts.industry,
        accounts.employee_band,
        accounts.annual_revenue,
        accounts.founded_year,
        accounts.tech_maturity,
        accounts.ownership,
        cast(null as integer) as birth_year,
        cast(null as varchar) as gender,
        cast(null as varchar) as education,
        cast(null as varchar) as household,
        coalesce(account_contacts.consent_email, false) as consent_email,
        coalesce(account_contacts.consent_sms, false) as consent_sms,
        coalesce(account_contacts.consent_phone, false) as consent_phone,
        coalesce(account_contacts.consent_post, false) as consent_post,
        account_contacts.stated_preferred_channel,
        account_contacts.acquisition_channel,
        account_contacts.acquisition_cost,
        coalesce(account_contacts.contact_count, 0) as contact_count,
        accounts.created_at as crm_created_at
    from accounts
    left join account_contacts
        on accounts.account_id = account_contacts.account_id

),

b2c as (

    select
        contacts.contact_id as customer_id,
        'b2c' as customer_type,
        nullif(concat_ws(' ', contacts.first_name, contacts.last_name), '') as name,
        contacts.email,
        contacts.country,
        contacts.region,
        contacts.city,
        cast(null as varchar) as org_number,
        cast(null as varchar) as industry,
        cast(null as varchar) as employee_band,
        cast(null as decimal(18, 2)) as annual_revenue,
        cast(null as integer) as founded_year,
        cast(null as varchar) as tech_maturity,
        cast(null as varchar) as ownership,
        contacts.birth_year,
        contacts.gender,
        contacts.education,
        contacts.household,
        coalesce(contacts.consent_email, false) as consent_email,
        coalesce(contacts.consent_sms, false) as consent_sms,
        coalesce(contacts.consent_phone, false) as consent_phone,
        coalesce(contacts.consent_post, false) as consent_post,
        contacts.preferred_channel as stated_preferred_channel,
        contacts.acquisition_channel,
        contacts.acquisition_cost,
        1 as contact_count,
        contacts.created_at as crm_created_at
    from contact_customers
    inner join contacts
        on contact_customers.contact_id = contacts.contact_id
    where contact_customers.customer_type = 'b2c'

),

guests as (

    select
        customer_id,
        'guest' as customer_type,
        cast(null as varchar) as name,
        max(email) as email,
        cast(null as varchar) as country,
        cast(null as varchar) as region,
        cast(null as varchar) as city,
        max(org_number) as org_number,
        cast(null as varchar) as industry,
        cast(null as varchar) as employee_band,
        cast(null as decimal(18, 2)) as annual_revenue,
        cast(null as integer) as founded_year,
        cast(null as varchar) as tech_maturity,
        cast(null as varchar) as ownership,
        cast(null as integer) as birth_year,
        cast(null as varchar) as gender,
        cast(null as varchar) as education,
        cast(null as varchar) as household,
        false as consent_email,
        false as consent_sms,
        false as consent_phone,
        false as consent_post,
        cast(null as varchar) as stated_preferred_channel,
        cast(null as varchar) as acquisition_channel,
        cast(null as decimal(12, 2)) as acquisition_cost,
        0 as contact_count,
        cast(null as timestamp) as crm_created_at
    from (
        -- guest ids are pseudonyms: the address they stand for is kept beside them
        select
            customer_id,
            guest_email as email,
            guest_org_number as org_number
        from matched_orders
        where match_method in ('guest_email', 'guest_org')
    ) as guest_orders
    group by customer_id

),

customers as (

    select * from b2b
    union all
    select * from b2c
    union all
    select * from guests

),

with_age as (

    select
        customers.*,
        {{ age_at_as_of('birth_year') }} as age
    from customers

),

final as (

    select
        cast(customer_id as varchar) as customer_id,
        cast(customer_type as varchar) as customer_type,
        cast(name as varchar) as name,
        cast(email as varchar) as email,
        cast(country as varchar) as country,
        cast(region as varchar) as region,
        cast(city as varchar) as city,
        cast(org_number as varchar) as org_number,
        cast(industry as varchar) as industry,
        cast(employee_band as varchar) as employee_band,
        cast(annual_revenue as decimal(18, 2)) as annual_revenue,
        cast(founded_year as integer) as founded_year,
        cast(tech_maturity as varchar) as tech_maturity,
        cast(ownership as varchar) as ownership,
        cast(birth_year as integer) as birth_year,
        cast(age as integer) as age,
        cast({{ age_band('age') }} as varchar) as age_band,
        cast(gender as varchar) as gender,
        cast(education as varchar) as education,
        cast(household as varchar) as household,
        cast(consent_email as boolean) as consent_email,
        cast(consent_sms as boolean) as consent_sms,
        cast(consent_phone as boolean) as consent_phone,
        cast(consent_post as boolean) as consent_post,
        cast(stated_preferred_channel as varchar) as stated_preferred_channel,
        cast(acquisition_channel as varchar) as acquisition_channel,
        cast(acquisition_cost as decimal(12, 2)) as acquisition_cost,
        cast(contact_count as integer) as contact_count,
        cast(crm_created_at as timestamp) as crm_created_at
    from with_age

)

select * from final
