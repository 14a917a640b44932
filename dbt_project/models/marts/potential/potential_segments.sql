-- One row per potential segment: a high-value cell of existing buyers that at least one prospect was
-- matched to (the cells, the high-value rule and the matching are in customer_potential). Its facts
-- are those of its prospects at the segment's match level: region only at level 1 (all facts), tech
-- maturity only up to level 2 (B2B); facts of the other customer type are null.
-- potential_value = prospects x the average value per buyer of the cell.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

customer_potential as (

    select * from {{ ref('customer_potential') }}

),

members as (

    select
        customer_potential.potential_segment,
        customer_potential.customer_type,
        customer_potential.potential_match_level,
        customer_potential.potential_segment_buyers,
        customer_potential.potential_value,
        customers.industry,
        customers.employee_band,
        case when customer_potential.potential_match_level = 1 then customers.region end as region,
        case when customer_potential.potential_match_level <= 2 then customers.tech_maturity end
            as tech_maturity,
        customers.age_band,
        customers.household
    from customer_potential
    inner join customers
        on customer_potential.customer_id = customers.customer_id
    where customer_potential.potential_segment is not null

),

segments as (

    -- every column but the count is the same on all rows of a segment
    select
        potential_segment,
        max(customer_type) as customer_type,
        max(potential_match_level) as match_level,
        max(industry) as industry,
        max(employee_band) as employee_band,
        max(region) as region,
        max(tech_maturity) as tech_maturity,
        max(age_band) as age_band,
        max(household) as household,
        max(potential_segment_buyers) as buyers,
        max(potential_value) as average_value,
        count(*) as prospects
    from members
    group by potential_segment

),

final as (

    select
        cast(potential_segment as varchar) as potential_segment,
        cast(customer_type as varchar) as customer_type,
        cast(match_level as integer) as match_level,
        cast(industry as varchar) as industry,
        cast(employee_band as varchar) as employee_band,
        cast(region as varchar) as region,
        cast(tech_maturity as varchar) as tech_maturity,
        cast(age_band as varchar) as age_band,
        cast(household as varchar) as household,
        cast(buyers as integer) as buyers,
        cast(average_value as decimal(18, 2)) as average_value,
        cast(prospects as integer) as prospects,
        cast(prospects * average_value as decimal(18, 2)) as potential_value
    from segments

)

select * from final
