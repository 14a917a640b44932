with

source as (

    select * from {{ source('pipeline', 'run_context') }}

),

renamed as (

    select
        cast(run_id as varchar) as run_id,
        cast(as_of as date) as as_of_date,
        cast(written_at as timestamp) as written_at
    from source

)

select * from renamed
