{%- set channels = ['email', 'web', 'phone', 'meeting', 'sms'] -%}
{%- set windows = [30, 90, 365] -%}
-- One row per dim_customers customer: interaction counts and engagement as of the as-of date.
-- A window of N days is the N calendar days ending on (and including) the as-of date; the windows
-- each interaction falls in come from int_interactions_windowed.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

interactions as (

    -- attribution, is_response and the 30/90/365-day windows: int_interactions_windowed
    select
        customer_id,
        interaction_type,
        channel,
        occurred_at,
        in_30d,
        in_90d,
        in_365d,
        response_days_ago_90d,
        response_channel
    from {{ ref('int_interactions_windowed') }}
    where customer_id is not null

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
        {{ weighted_responses_90d('response_days_ago_90d') }} as weighted_responses_90d
    from interactions
    group by customer_id

),

scored as (

    -- aggregated's columns by name: aggregated.* would bring a second customer_id
    select
        customers.customer_id,
        customers.stated_preferred_channel,
        aggregated.last_interaction_at,
        {%- for window in windows %}
        aggregated.interactions_{{ window }}d,
        {%- endfor %}
        {%- for channel in channels %}
        {%- for window in windows %}
        aggregated.{{ channel }}_interactions_{{ window }}d,
        {%- endfor %}
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
    from customers
    left join aggregated
        on customers.customer_id = aggregated.customer_id

),

final as (

    select
        cast(customer_id as varchar) as customer_id,
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
            {{ dbt.datediff('cast(last_interaction_at as date)', as_of_date(), 'day') }}
            as integer
        ) as days_since_last_interaction,
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
        cast(inferred_preferred_channel as varchar) as inferred_preferred_channel,
        cast(
            {{ preferred_channel('stated_preferred_channel', 'inferred_preferred_channel') }} as varchar
        ) as preferred_channel,
        cast({{ engagement_score('weighted_responses_90d') }} as integer) as engagement_score
    from scored

)

select * from final
