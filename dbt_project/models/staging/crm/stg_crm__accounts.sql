with

source as (

    select * from {{ source('crm', 'accounts') }}

),

renamed as (

    select
        {{ clean_id('account_id') }} as account_id,
        {{ normalize_org_number('org_number') }} as org_number,
        {{ clean_text('name') }} as account_name,
        {{ clean_text('industry') }} as industry,
        {{ clean_text('employee_band') }} as employee_band,
        cast(annual_revenue as decimal(18, 2)) as annual_revenue,
        upper({{ clean_text('country') }}) as country,
        {{ clean_text('region') }} as region,
        {{ clean_text('city') }} as city,
        cast(founded_year as integer) as founded_year,
        {{ clean_code('tech_maturity') }} as tech_maturity,
        {{ clean_text('ownership') }} as ownership,
        cast(created_at as timestamp) as created_at,
        _source_file,
        _source_row,
        _loaded_at
    from source

)

select * from renamed
