with

source as (

    select * from {{ source('sales', 'order_lines') }}

),

renamed as (

    select
        {{ clean_id('order_line_id') }} as order_line_id,
        {{ clean_id('order_id') }} as order_id,
        {{ clean_id('product_id') }} as product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,
        cast(discount_pct as decimal(5, 2)) as discount_pct,
        _source_file,
        _source_row,
        _loaded_at
    from source

)

select * from renamed
