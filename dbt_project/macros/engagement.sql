{#- Channel preference and engagement: a response's channel and age are computed once per interaction
    (int_interactions_windowed); the aggregates are shared by customer_behaviour (per customer) and
    contact_features (per CRM contact) so both are on the same scale. -#}

{#- The marketing channels a next action can use (consent-governed; see the landing contract). -#}
{% macro marketing_channels() -%}
    {{ return(['email', 'sms', 'phone', 'post']) }}
{%- endmacro %}

{#- The channel a response shows the person reacts on: any response on the sms channel -> sms,
    email_opened/email_clicked -> email, call/meeting -> phone; null for non-responses and web visits. -#}
{% macro response_channel(interaction_type, channel, is_response) -%}
    case
        when not {{ is_response }} then null
        when {{ channel }} = 'sms' then 'sms'
        when {{ interaction_type }} in ('email_opened', 'email_clicked') then 'email'
        when {{ interaction_type }} in ('call', 'meeting') then 'phone'
    end
{%- endmacro %}

{#- Days before the as-of date of a response in the last 90 days (null otherwise); feeds the engagement
    weights. Only computed for those rows: cheap on ~20 interactions per person. -#}
{% macro response_days_ago_90d(occurred_at, is_response) -%}
    case
        when {{ is_response }} and {{ occurred_at }} >= {{ dbt.dateadd('day', -89, as_of_date()) }}
            then {{ dbt.datediff('cast(' ~ occurred_at ~ ' as date)', as_of_date(), 'day') }}
    end
{%- endmacro %}

{#- Sum of the recency weights (90 - days_ago) / 90 of the responses of the last 90 days (doubles, as
    DuckDB computes them: macros/floating_point.sql). -#}
{% macro weighted_responses_90d(response_days_ago_90d) -%}
    sum({{ divide_double('90 - ' ~ response_days_ago_90d, '90.0') }})
{%- endmacro %}

{#- Engagement 0..100 = round(100 * (1 - exp(-S / 4))), S = weighted_responses_90d (null = 0). -#}
{% macro engagement_score(weighted_responses_90d) -%}
    {{ round_double('100 * (1 - exp(-coalesce(' ~ weighted_responses_90d ~ ', 0) / 4.0))') }}
{%- endmacro %}

{#- Channel with the most responses; ties go to email, then phone, then sms; null without responses. -#}
{% macro inferred_preferred_channel(email_responses, phone_responses, sms_responses) -%}
    case
        when greatest(
            coalesce({{ email_responses }}, 0),
            coalesce({{ phone_responses }}, 0),
            coalesce({{ sms_responses }}, 0)
        ) = 0 then null
        when {{ email_responses }} >= {{ phone_responses }}
            and {{ email_responses }} >= {{ sms_responses }} then 'email'
        when {{ phone_responses }} >= {{ sms_responses }} then 'phone'
        else 'sms'
    end
{%- endmacro %}

{#- The stated channel if it is a marketing channel, else the inferred one if it is, else null. -#}
{% macro preferred_channel(stated, inferred) -%}
    {%- set channels = "'" ~ marketing_channels() | join("', '") ~ "'" -%}
    coalesce(
        case when {{ stated }} in ({{ channels }}) then {{ stated }} end,
        case when {{ inferred }} in ({{ channels }}) then {{ inferred }} end
    )
{%- endmacro %}
