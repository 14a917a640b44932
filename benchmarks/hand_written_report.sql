-- The benchmark's yardstick for the report stage: the figures the run report is made of (segment sizes
-- with their value, the Pareto 80/20 of revenue), as plain DuckDB queries without HTML or Data Docs.
create or replace temp table hw_profiles as
select a.scheme, a.segment, count(*) as members, count(distinct a.customer_id) as customers,
       avg(f.predicted_clv) as avg_clv, avg(f.p_alive) as avg_p_alive, avg(f.monetary) as avg_monetary
from segments.customer_segments a
left join marts.customer_features f using (customer_id)
group by all;
create or replace temp table hw_pareto as
with
buyers as (
    select customer_id, greatest(coalesce(monetary, 0), 0) as revenue from marts.customer_features
),
ranked as (
    select row_number() over (order by revenue desc, customer_id) as rank, count(*) over () as n, revenue
    from buyers
),
cumulated as (
    select rank, n, sum(revenue) over (order by rank rows unbounded preceding) as cumulative,
           sum(revenue) over () as total
    from ranked
)
select min(rank) filter (where cumulative >= 0.8 * total) as buyers_for_80pct, any_value(n) as buyers
from cumulated;
drop table hw_profiles;
drop table hw_pareto;
