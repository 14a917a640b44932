-- The benchmark's yardstick for the publish stage: the published assignments swapped in by hand, as plain
-- DuckDB statements without contracts, fingerprints, rule-version records or run record. As on a first
-- night, every assignment is compared with an empty previous state (every row enters the history), then
-- the current table, the history and the changes are written to a new snapshot file.
-- {as_of} and {snapshot} are replaced by the benchmark.
create or replace temp table hw_previous as select * from segments.customer_segments limit 0;
create or replace temp table hw_changes as
select coalesce(s.customer_id, p.customer_id) as customer_id, coalesce(s.scheme, p.scheme) as scheme,
       case when p.entity_id is null then 'entered' when s.entity_id is null then 'left' else 'moved' end as change,
       p.segment as from_segment, s.segment as to_segment, date '{as_of}' as as_of
from segments.customer_segments s
full outer join hw_previous p using (scheme, entity_id)
where s.segment is distinct from p.segment;
create or replace temp table hw_history as
select s.customer_id, s.scheme, s.segment, s.rule_id, s.next_action, s.action_channel, s.rule_version,
       s.rules_sha256, date '{as_of}' as valid_from, s.entity, s.entity_id, s.experiment, s.arm, s.evidence
from segments.customer_segments s
left join hw_previous p using (scheme, entity_id)
where p.entity_id is null or s.segment is distinct from p.segment or s.rule_id is distinct from p.rule_id
   or s.next_action is distinct from p.next_action or s.action_channel is distinct from p.action_channel;
create or replace temp table hw_current as select * from segments.customer_segments;
attach '{snapshot}' as hw_snapshot;
create table hw_snapshot.customer_segments as select * from hw_current;
create table hw_snapshot.segment_history as select * from hw_history;
create table hw_snapshot.segment_changes as select * from hw_changes;
detach hw_snapshot;
drop table hw_previous;
drop table hw_changes;
drop table hw_history;
drop table hw_current;
