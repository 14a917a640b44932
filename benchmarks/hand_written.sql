-- The benchmark's yardstick: the pipeline's features + rules (default rule set) written by hand as ONE
-- DuckDB statement over the raw tables, without dbt, contracts, tests or provenance. `make bench` times
-- it and prints how much slower the real pipeline is. {as_of} is replaced by the benchmark.
create or replace temp table hand_written_segments as
with
contacts as (
    select contact_id, coalesce(account_id, contact_id) as customer_id, lower(trim(email)) as email, created_at,
           consent_email, consent_sms, consent_phone, consent_post, preferred_channel
    from raw.crm_contacts
),
email_lookup as (
    select email, arg_min(customer_id, created_at) as customer_id from contacts where email is not null group by email
),
org_lookup as (
    select regexp_replace(org_number, '[^0-9]', '', 'g') as org, min(account_id) as customer_id
    from raw.crm_accounts group by org
),
orders as (
    select o.order_id, o.ordered_at, coalesce(a.account_id, c.customer_id, e.customer_id, g.customer_id,
               'guest:' || sha256(lower(trim(o.email))), 'org:' || sha256(regexp_replace(o.org_number, '[^0-9]', '', 'g'))) as customer_id,
           case o.currency when 'SEK' then 0.089286 when 'NOK' then 0.086207 when 'DKK' then 0.134048 else 1.0 end as eur_rate
    from raw.sales_orders o
    left join raw.crm_accounts a on o.customer_ref = a.account_id
    left join contacts c on o.customer_ref = c.contact_id
    left join email_lookup e on lower(trim(o.email)) = e.email
    left join org_lookup g on regexp_replace(o.org_number, '[^0-9]', '', 'g') = g.org
    where o.ordered_at < date '{as_of}' + 1
),
order_values as (
    select o.order_id, any_value(o.customer_id) as customer_id, any_value(o.ordered_at) as ordered_at,
           sum(l.quantity * l.unit_price * (1 - l.discount_pct / 100) * o.eur_rate) as net_eur,
           bool_and(l.quantity < 0) as is_return
    from orders o join raw.sales_order_lines l using (order_id)
    group by o.order_id
),
customers as (
    select account_id as customer_id from raw.crm_accounts
    union all select contact_id from raw.crm_contacts where account_id is null
    union select distinct customer_id from orders
),
consent as (
    select customer_id, bool_or(consent_email) as consent_email, bool_or(consent_sms) as consent_sms,
           bool_or(consent_phone) as consent_phone, bool_or(consent_post) as consent_post,
           any_value(preferred_channel) as stated_channel
    from contacts group by customer_id
),
responses as (
    select c.customer_id,
           count(*) filter (where i.interaction_type in ('email_opened', 'email_clicked')) as email_responses,
           count(*) filter (where i.interaction_type in ('call', 'meeting')) as phone_responses
    from raw.crm_interactions i join contacts c using (contact_id)
    where i.occurred_at < date '{as_of}' + 1 and i.occurred_at >= date '{as_of}' - 365
    group by c.customer_id
),
stats as (
    select customer_id,
           count(*) filter (where not is_return) as frequency,
           sum(net_eur) as monetary,
           date_diff('day', max(ordered_at) filter (where not is_return)::date, date '{as_of}') as recency_days
    from order_values group by customer_id
),
features as (
    select cu.customer_id, coalesce(s.frequency, 0) as frequency, s.monetary, s.recency_days,
           coalesce(cs.consent_email, false) as consent_email, coalesce(cs.consent_sms, false) as consent_sms,
           coalesce(cs.consent_phone, false) as consent_phone, coalesce(cs.consent_post, false) as consent_post,
           coalesce(cs.stated_channel, case when r.email_responses >= r.phone_responses and r.email_responses > 0
                                            then 'email' when r.phone_responses > 0 then 'phone' end) as preferred_channel
    from customers cu left join stats s using (customer_id) left join consent cs using (customer_id)
    left join responses r using (customer_id)
),
scored as (
    select *,
           1 + floor(5.0 * (rank() over (order by recency_days desc) - 1) / count(*) over ()) as r,
           1 + floor(5.0 * (rank() over (order by frequency) - 1) / count(*) over ()) as f,
           1 + floor(5.0 * (rank() over (order by monetary) - 1) / count(*) over ()) as m,
           row_number() over (order by monetary desc, customer_id) as revenue_rank,
           count(*) over () as buyers,
           sum(greatest(monetary, 0)) over (order by monetary desc, customer_id rows unbounded preceding)
               / sum(greatest(monetary, 0)) over () as cumulative_share
    from features where frequency > 0
),
all_scored as (
    select f.*, s.r, s.f, s.m, s.revenue_rank <= ceil(0.2 * s.buyers) as top20, s.cumulative_share
    from features f left join scored s using (customer_id)
),
assigned as (
    select customer_id, consent_email, consent_sms, consent_phone, consent_post, preferred_channel,
           case when frequency = 0 then 'preferred'
                when r >= 4 and f >= 4 and m >= 4 then 'preferred'
                when r <= 2 and f >= 4 and m >= 4 then 'phone'
                when r <= 2 and f >= 3 then 'preferred'
                when r >= 3 and f >= 4 then 'preferred'
                when r = 5 and f = 1 then 'email'
                when r = 4 and f = 1 then 'email'
                when r >= 4 and f >= 2 then 'preferred'
                else 'email' end as rfm_channel,
           case when frequency = 0 then 'Prospect'
                when r >= 4 and f >= 4 and m >= 4 then 'Champions'
                when r <= 2 and f >= 4 and m >= 4 then 'Can''t Lose Them'
                when r <= 2 and f >= 3 then 'At Risk'
                when r >= 3 and f >= 4 then 'Loyal Customers'
                when r = 5 and f = 1 then 'New Customers'
                when r = 4 and f = 1 then 'Promising'
                when r >= 4 and f >= 2 then 'Potential Loyalists'
                when r = 3 and f >= 2 then 'Need Attention'
                when r = 3 then 'About To Sleep'
                when r = 2 then 'Hibernating'
                else 'Lost' end as rfm_segment,
           case when top20 then 'Key Account'
                when frequency > 0 and cumulative_share <= 0.95 then 'Growth'
                when frequency = 0 then 'Prospect'
                else 'Long Tail' end as value_segment,
           case when top20 then 'phone' when frequency > 0 and cumulative_share <= 0.95 then 'preferred'
                when frequency = 0 then 'preferred' else 'email' end as value_channel
    from all_scored
),
unpivoted as (
    select customer_id, 'rfm_lifecycle' as scheme, rfm_segment as segment, rfm_channel as channel, * exclude (customer_id)
    from assigned
    union all
    select customer_id, 'value_tier', value_segment, value_channel, * exclude (customer_id) from assigned
)
select customer_id, scheme, segment,
       case coalesce(case when channel = 'preferred' then coalesce(preferred_channel, 'email') else channel end, 'email')
            when 'email' then case when consent_email then 'email' end
            when 'sms' then case when consent_sms then 'sms' end
            when 'phone' then case when consent_phone then 'phone' end
            when 'post' then case when consent_post then 'post' end end as wanted,
       coalesce(wanted, case when consent_email then 'email' when consent_sms then 'sms'
                             when consent_phone then 'phone' when consent_post then 'post' else 'none' end) as action_channel
from unpivoted
