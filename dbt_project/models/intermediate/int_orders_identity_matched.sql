{{ config(materialized='table') }}
-- Identity resolution: every order placed up to the as-of date -> one customer_id + match_method.
--   1. crm_id       customer_ref is a known account id or contact id (B2B contacts -> their account)
--   2. email        normalised email equals a CRM contact's (B2B contacts -> their account)
--   3. org_number   normalised org number equals an account's
--   4. guest_email  unmatched email     -> 'guest:' || sha256(email)
--   5. guest_org    unmatched org number -> 'org:' || sha256(org_number)
--   6. unresolved   nothing to go on    -> null customer
-- Emails and org numbers are normalised again here (idempotent) so the matching does not depend on
-- its inputs having been cleaned. Guest ids are pseudonyms (macros/normalize.sql: pseudonym) so no
-- email address or org number travels with the id; the address stays here (guest_email,
-- guest_org_number) and in dim_customers, never in the published tables. Ambiguous look-ups (an
-- email or org number shared by several CRM records) resolve to the earliest created record, then
-- the lowest id, so every order matches once.
-- Materialized as a table (the one intermediate model that is not a view): fct_order_lines (via
-- int_order_lines_valued), fct_orders, dim_customers and identity_match_summary all read it, and
-- resolving 3M orders against 1M CRM records once is far cheaper than once per reader.

with

orders as (

    select
        order_id,
        customer_ref,
        {{ normalize_email('email') }} as email,
        {{ normalize_org_number('org_number') }} as org_number,
        ordered_at,
        sales_channel,
        currency
    from {{ ref('stg_sales__orders') }}
    where ordered_at < {{ as_of_cutoff() }}

),

accounts as (

    select
        account_id,
        {{ normalize_org_number('org_number') }} as org_number,
        created_at
    from {{ ref('stg_crm__accounts') }}
    where account_id is not null

),

contacts as (

    select
        contact_id,
        customer_id,
        {{ normalize_email('email') }} as email,
        created_at
    from {{ ref('int_contacts_customer_mapped') }}

),

email_candidates as (

    select
        email,
        customer_id,
        row_number() over (
            partition by email
            order by created_at nulls last, contact_id
        ) as candidate_rank
    from contacts
    where email is not null

),

email_lookup as (

    select
        email,
        customer_id
    from email_candidates
    where candidate_rank = 1

),

org_candidates as (

    select
        org_number,
        account_id as customer_id,
        row_number() over (
            partition by org_number
            order by created_at nulls last, account_id
        ) as candidate_rank
    from accounts
    where org_number is not null

),

org_lookup as (

    select
        org_number,
        customer_id
    from org_candidates
    where candidate_rank = 1

),

candidates as (

    -- account and contact ids are unique (tested in staging), so these joins never fan out;
    -- an id that is both an account and a contact id resolves to the account
    select
        orders.order_id,
        orders.email,
        orders.org_number,
        orders.ordered_at,
        orders.sales_channel,
        orders.currency,
        coalesce(ref_accounts.account_id, ref_contacts.customer_id) as crm_customer_id,
        email_lookup.customer_id as email_customer_id,
        org_lookup.customer_id as org_customer_id
    from orders
    left join accounts as ref_accounts
        on orders.customer_ref = ref_accounts.account_id
    left join contacts as ref_contacts
        on orders.customer_ref = ref_contacts.contact_id
    left join email_lookup
        on orders.email = email_lookup.email
    left join org_lookup
        on orders.org_number = org_lookup.org_number

),

methods as (

    select
        *,
        case
            when crm_customer_id is not null then 'crm_id'
            when email_customer_id is not null then 'email'
            when org_customer_id is not null then 'org_number'
            when email is not null then 'guest_email'
            when org_number is not null then 'guest_org'
            else 'unresolved'
        end as match_method
    from candidates

),

final as (

    select
        order_id,
        case match_method
            when 'crm_id' then crm_customer_id
            when 'email' then email_customer_id
            when 'org_number' then org_customer_id
            when 'guest_email' then 'guest:' || {{ pseudonym('email') }}
            when 'guest_org' then 'org:' || {{ pseudonym('org_number') }}
        end as customer_id,
        match_method,
        ordered_at,
        sales_channel,
        currency,
        case when match_method = 'guest_email' then email end as guest_email,
        case when match_method = 'guest_org' then org_number end as guest_org_number
    from methods

)

select * from final
