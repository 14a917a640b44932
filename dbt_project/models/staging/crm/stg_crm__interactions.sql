with

source as (

    select * from {{ source('crm', 'interactions') }}

),

renamed as (

    select
        {{ clean_id('interaction_id') }} as interaction_id,
        {{ clean_id('contact_id') }} as contact_id,
        {{ clean_code('interaction_type') }} as interaction_type,
        {{ clean_code('channel') }} as channel,
        cast(occurred_at as timestamp) as occurred_at,
        _source_file,
        _source_row,
        _loaded_at
    from source

)

select * from renamed
