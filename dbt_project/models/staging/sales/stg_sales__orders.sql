with

source as (

    select * from {{ source('sales', 'orders') }}

),

renamed as (

    select
        {{ clean_id('order_id') }} as order_id,
        {{ clean_text('customer_ref') }} as customer_ref,
        {{ normalize_email('email') }} as email,
        {{ normalize_org_number('org_number') }} as org_number,
        cast(ordered_at as timestamp) as ordered_at,
        {{ clean_code('sales_channel') }} as sales_channel,
        upper({{ clean_text('currency') }}) as currency,
        _source_file,
        _source_row,
        _loaded_at
    from source

)

select * from renamed
