"""What a rule change does before it ships: evaluate two versions on the same features, inside the warehouse.

Each version is compiled to its one SQL statement and materialised once as a temporary table (one pass over
the features per version); sizes, the migration matrix and the next-action changes are small aggregations
over the join of the two. Each version is evaluated as it is published: a version with an experiment is
compiled with its challenger, so the statement's own hash-based arms decide who is in the holdout (champion
segment, no action) and who gets the challenger's segments and actions. Arm changes are reported as changes,
and the segment and next-action counts include the entities whose segment or action changes only because of
their arm. Temporary tables work on a read-only connection, so this never writes to the warehouse.
The document people read is ``segments.reports.rule_diff``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from .compiler import ARMS, compile_assignments
from .model import Experiment, RuleSet

_OLD, _NEW, _PAIRS = '"rules_diff__old"', '"rules_diff__new"', '"rules_diff__pairs"'
NONE = "(none)"  # a scheme that one of the versions does not have


@dataclass(frozen=True)
class SizeChange:
    scheme: str
    segment: str
    before: int
    after: int


@dataclass(frozen=True)
class Migration:
    scheme: str
    from_segment: str | None  # None: the old version has no such scheme
    to_segment: str | None
    entities: int


@dataclass(frozen=True)
class ActionChange:
    owner: str  # the owner after the change (before, if the scheme is gone)
    scheme: str
    before: str  # "action via channel (owner)"; NONE when there was none
    after: str
    entities: int


@dataclass(frozen=True)
class ArmChange:
    """Entities of a scheme in arm ``from_arm`` of the old version and ``to_arm`` of the new one."""

    scheme: str
    from_arm: str | None  # None: the old version has no such scheme; "champion" without an experiment
    to_arm: str | None
    entities: int
    segment_changes: int  # of them, how many get a different segment
    action_changes: int  # ... and a different next action (action, channel or owner)


@dataclass(frozen=True)
class ArmSize:
    scheme: str
    arm: str
    before: int
    after: int


@dataclass(frozen=True)
class RuleDiff:
    old_version: str
    new_version: str
    old_file: str
    new_file: str
    entities: dict[str, int]  # scheme -> entities evaluated
    sizes: list[SizeChange]
    migrations: list[Migration]
    action_changes: list[ActionChange]
    text_diff: str
    old_experiment: Experiment | None = None
    new_experiment: Experiment | None = None
    arm_changes: list[ArmChange] = dataclasses.field(default_factory=list)

    @property
    def moved(self) -> dict[str, int]:
        """Entities whose segment changes, per scheme."""
        moved: dict[str, int] = {}
        for m in self.migrations:
            if m.from_segment != m.to_segment:
                moved[m.scheme] = moved.get(m.scheme, 0) + m.entities
        return moved

    @property
    def arm_moves(self) -> dict[str, int]:
        """Entities whose experiment arm changes, per scheme (entities of an added or removed scheme not counted)."""
        moves: dict[str, int] = {}
        for a in self.arm_changes:
            if a.from_arm != a.to_arm and a.from_arm is not None and a.to_arm is not None:
                moves[a.scheme] = moves.get(a.scheme, 0) + a.entities
        return moves

    @property
    def arm_sizes(self) -> list[ArmSize]:
        """Entities per scheme and arm, before and after (sums of :attr:`arm_changes`)."""
        counts: dict[tuple[str, str], list[int]] = {}
        for a in self.arm_changes:
            for side, arm in ((0, a.from_arm), (1, a.to_arm)):
                if arm is not None:
                    counts.setdefault((a.scheme, arm), [0, 0])[side] += a.entities
        order = {arm: i for i, arm in enumerate(ARMS)}
        keys = sorted(counts, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
        return [ArmSize(scheme, arm, *counts[(scheme, arm)]) for scheme, arm in keys]


def diff_rule_sets(
    con: duckdb.DuckDBPyConnection,
    old: RuleSet,
    new: RuleSet,
    sources: Mapping[str, str],
    *,
    as_of: date,
    old_challenger: RuleSet | None = None,
    new_challenger: RuleSet | None = None,
) -> RuleDiff:
    """Evaluate ``old`` and ``new`` on the same ``sources`` (see :func:`compile_assignments`) and compare.

    A version that declares an experiment needs its challenger (``old_challenger`` / ``new_challenger``, see
    :func:`challenger_for`): it is compiled exactly as the nightly run compiles it, arms included.
    """
    now = datetime(as_of.year, as_of.month, as_of.day)
    kept = "scheme, entity_id, segment, next_action, action_channel, action_owner, arm"
    sides = ((_OLD, old, old_challenger), (_NEW, new, new_challenger))
    try:
        for table, rule_set, challenger in sides:
            sql = compile_assignments(
                rule_set,
                source_sql=sources,
                run_id="rules-diff",
                as_of=as_of,
                assigned_at=now,
                challenger=challenger,
                evidence=False,
            )
            con.execute(f"create or replace temp table {table} as select {kept} from ({sql})")
        # ONE join of the two; everything below aggregates its (small) grouped result
        con.execute(
            f"""create or replace temp table {_PAIRS} as
            select scheme, o.segment as old_segment, n.segment as new_segment,
                   o.next_action as old_action, o.action_channel as old_channel, o.action_owner as old_owner,
                   n.next_action as new_action, n.action_channel as new_channel, n.action_owner as new_owner,
                   o.arm as old_arm, n.arm as new_arm, count(*) as entities
            from {_OLD} o full outer join {_NEW} n using (scheme, entity_id)
            group by all"""
        )
        entities = dict(
            con.execute(
                f"select scheme, sum(entities)::bigint from {_PAIRS} group by scheme order by scheme"
            ).fetchall()
        )
        sizes = [
            SizeChange(*row)
            for row in con.execute(
                f"""with o as (select scheme, old_segment as segment, sum(entities) n from {_PAIRS}
                               where old_segment is not null group by all),
                         n as (select scheme, new_segment as segment, sum(entities) n from {_PAIRS}
                               where new_segment is not null group by all)
                    select scheme, segment, coalesce(o.n, 0)::bigint, coalesce(n.n, 0)::bigint
                    from o full outer join n using (scheme, segment)
                    order by scheme, coalesce(n.n, 0) + coalesce(o.n, 0) desc, segment"""
            ).fetchall()
        ]
        migrations = [
            Migration(*row)
            for row in con.execute(
                f"""select scheme, old_segment, new_segment, sum(entities)::bigint as n from {_PAIRS}
                    group by all order by scheme, n desc, 2 nulls first, 3 nulls first"""
            ).fetchall()
        ]
        action_differs = (
            "(old_action, old_channel, old_owner) is distinct from (new_action, new_channel, new_owner)"
        )
        arms = [
            ArmChange(*row)
            for row in con.execute(
                f"""select scheme, old_arm, new_arm, sum(entities)::bigint as n,
                           coalesce(sum(entities) filter (where old_segment is distinct from new_segment), 0)::bigint,
                           coalesce(sum(entities) filter (where {action_differs}), 0)::bigint
                    from {_PAIRS}
                    group by all order by scheme, n desc, 2 nulls first, 3 nulls first"""
            ).fetchall()
        ]
        described = "{p}_action || ' via ' || {p}_channel || ' (' || {p}_owner || ')'"
        actions = [
            ActionChange(*row)
            for row in con.execute(
                f"""select coalesce(new_owner, old_owner) as owner, scheme,
                           coalesce({described.format(p="old")}, '{NONE}'), coalesce({described.format(p="new")}, '{NONE}'),
                           sum(entities)::bigint as n
                    from {_PAIRS}
                    where {action_differs}
                    group by all order by owner, n desc, scheme, 3, 4"""
            ).fetchall()
        ]
    finally:
        for table in (_OLD, _NEW, _PAIRS):
            con.execute(f"drop table if exists {table}")
    return RuleDiff(
        old_version=old.version,
        new_version=new.version,
        old_file=old.path.name,
        new_file=new.path.name,
        entities=entities,
        sizes=sizes,
        migrations=migrations,
        action_changes=actions,
        text_diff=text_diff(old, new),
        old_experiment=old.experiment,
        new_experiment=new.experiment,
        arm_changes=arms,
    )


def with_champion(challenger: RuleSet, champion: RuleSet) -> RuleSet:
    """A challenger as its arm gets it: its schemes, and the champion's for the schemes it does not change."""
    return dataclasses.replace(
        challenger, schemes={**champion.schemes, **challenger.schemes}, channel_order=champion.channel_order
    )


def text_diff(old: RuleSet, new: RuleSet) -> str:
    return "".join(
        difflib.unified_diff(
            old.text.splitlines(keepends=True),
            new.text.splitlines(keepends=True),
            fromfile=old.path.name,
            tofile=new.path.name,
        )
    )
