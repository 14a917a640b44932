{%- set channels = ['email', 'web', 'phone', 'meeting', 'sms'] -%}
{%- set windows = [30, 90, 365] -%}
-- One row per dim_customers customer: interaction counts and engagement as of the as-of date.
-- A window of N days is the N calendar days ending on (and including) the as-of date.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

interactions as (

    select
        customer_id,
        interaction_type,
        channel,
        occurred_at,
        is_response
    from {{ ref('fct_interactions') }}
    where customer_id is not null

),

classified as (

    -- windows as timestamp comparisons against constants (cheap on ~20 rows per customer);
    -- days_ago is only computed for the responses of the last 90 days (engagement weights)
    select
        customer_id,
        interaction_type,
        channel,
        occurred_at,
        is_response,
        {%- for window in windows %}
        occurred_at >= {{ dbt.dateadd('day', 1 - window, as_of_date()) }} as in_{{ window }}d,
        {%- endfor %}
        case
            when is_response and occurred_at >= {{ dbt.dateadd('day', -89, as_of_date()) }}
                then {{ dbt.datediff('cast(occurred_at as date)', as_of_date(), 'day') }}
        end as response_days_ago_90d,
        -- the channel a response shows the customer reacts on
        case
            when not is_response then null
            when channel = 'sms' then 'sms'
            when interaction_type in ('email_opened', 'email_clicked') then 'email'
            when interaction_type in ('call', 'meeting') then 'phone'
        end as response_channel
    from interactions

),

aggregated as (

    select
        customer_id,
        max(occurred_at) as last_interaction_at,
        {%- for window in windows %}
        {{ count_where('in_' ~ window ~ 'd') }} as interactions_{{ window }}d,
        {%- endfor %}
        {%- for channel in channels %}
        {%- for window in windows %}
        {{ count_where('in_' ~ window ~ "d and channel = '" ~ channel ~ "'") }}
            as {{ channel }}_interactions_{{ window }}d,
        {%- endfor %}
        {%- endfor %}
        {{ count_where("in_365d and interaction_type = 'email_sent'") }} as emails_sent_365d,
        {{ count_where("in_365d and interaction_type = 'email_opened'") }} as emails_opened_365d,
        {{ count_where("in_365d and interaction_type = 'email_clicked'") }} as emails_clicked_365d,
        {{ count_where("in_365d and response_channel = 'email'") }} as email_responses_365d,
        {{ count_where("in_365d and response_channel = 'phone'") }} as phone_responses_365d,
        {{ count_where("in_365d and response_channel = 'sms'") }} as sms_responses_365d,
        sum((90 - response_days_ago_90d) / 90.0) as weighted_responses_90d
    from classified
    group by customer_id

),

scored as (

    select
        customers.customer_id,
        customers.stated_preferred_channel,
        aggregated.*,
        case
            when greatest(
                coalesce(email_responses_365d, 0),
                coalesce(phone_responses_365d, 0),
                coalesce(sms_responses_365d, 0)
            ) = 0 then null
            when email_responses_365d >= phone_responses_365d
                and email_responses_365d >= sms_responses_365d then 'email'
            when phone_responses_365d >= sms_responses_365d then 'phone'
            else 'sms'
        end as inferred_preferred_channel
    from customers
    left join aggregated
        on customers.customer_id = aggregated.customer_id

),

final as (

    select
        cast(scored.customer_id as varchar) as customer_id,
        {%- for window in windows %}
        cast(coalesce(interactions_{{ window }}d, 0) as integer) as interactions_{{ window }}d,
        {%- endfor %}
        {%- for channel in channels %}
        {%- for window in windows %}
        cast(coalesce({{ channel }}_interactions_{{ window }}d, 0) as integer)
            as {{ channel }}_interactions_{{ window }}d,
        {%- endfor %}
        {%- endfor %}
        cast(
            {{ dbt.datediff('cast(last_interaction_at as date)', as_of_date(), 'day') }} as integer
        ) as days_since_last_interaction,
        cast(
            case
                when emails_sent_365d > 0
                    then least(1.0, 1.0 * emails_opened_365d / emails_sent_365d)
            end as double
        ) as email_open_rate_365d,
        cast(
            case
                when emails_sent_365d > 0
                    then least(1.0, 1.0 * emails_clicked_365d / emails_sent_365d)
            end as double
        ) as email_click_rate_365d,
        cast(inferred_preferred_channel as varchar) as inferred_preferred_channel,
        cast(
            coalesce(
                case
                    when stated_preferred_channel in ('email', 'sms', 'phone', 'post')
                        then stated_preferred_channel
                end,
                case
                    when inferred_preferred_channel in ('email', 'sms', 'phone', 'post')
                        then inferred_preferred_channel
                end
            ) as varchar
        ) as preferred_channel,
        cast(
            round(100 * (1 - exp(-coalesce(weighted_responses_90d, 0) / 4.0))) as integer
        ) as engagement_score
    from scored

)

select * from final
