with

source as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        {{ clean_id('contact_id') }} as contact_id,
        {{ clean_id('account_id') }} as account_id,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        {{ normalize_email('email') }} as email,
        {{ clean_text('phone') }} as phone,
        cast(birth_year as integer) as birth_year,
        {{ clean_code('gender') }} as gender,
        {{ clean_text('education') }} as education,
        {{ clean_text('household') }} as household,
        upper({{ clean_text('country') }}) as country,
        {{ clean_text('region') }} as region,
        {{ clean_text('city') }} as city,
        cast(consent_email as boolean) as consent_email,
        cast(consent_sms as boolean) as consent_sms,
        cast(consent_phone as boolean) as consent_phone,
        cast(consent_post as boolean) as consent_post,
        {{ clean_code('preferred_channel') }} as preferred_channel,
        {{ clean_code('acquisition_channel') }} as acquisition_channel,
        cast(acquisition_cost as decimal(12, 2)) as acquisition_cost,
        cast(created_at as timestamp) as created_at,
        _source_file,
        _source_row,
        _loaded_at
    from source

)

select * from renamed
