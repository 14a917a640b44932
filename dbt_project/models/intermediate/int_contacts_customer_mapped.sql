-- One row per CRM contact with the customer it belongs to: B2B contacts (account_id pointing at an
-- existing account) roll up to their account, everybody else is a B2C customer of their own.

with

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

accounts as (

    select distinct account_id
    from {{ ref('stg_crm__accounts') }}
    where account_id is not null

),

final as (

    select
        contacts.contact_id,
        accounts.account_id,
        coalesce(accounts.account_id, contacts.contact_id) as customer_id,
        case when accounts.account_id is not null then 'b2b' else 'b2c' end as customer_type,
        contacts.email,
        contacts.created_at
    from contacts
    left join accounts
        on contacts.account_id = accounts.account_id
    where contacts.contact_id is not null

)

select * from final
