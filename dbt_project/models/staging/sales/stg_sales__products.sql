with

source as (

    select * from {{ source('sales', 'products') }}

),

renamed as (

    select
        {{ clean_id('product_id') }} as product_id,
        {{ clean_text('name') }} as product_name,
        {{ clean_code('category') }} as category,
        {{ clean_text('product_line') }} as product_line,
        cast(launch_date as date) as launch_date,
        cast(list_price as decimal(12, 2)) as list_price,
        _source_file,
        _source_row,
        _loaded_at
    from source

)

select * from renamed
