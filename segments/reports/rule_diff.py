"""A rule change as a document: ``segments rules diff OLD NEW [--format table|markdown|json]``.

``segments.rules.diff`` evaluates the two versions and compares them (``RuleDiff``); this renders the comparison:
``rule_diff.txt`` for a terminal (the moves, largest first: a terminal is too narrow for the migration matrix),
``rule_diff.md`` for a pull request (the migration matrix), or JSON (the ``RuleDiff`` with its derived counts).
The per-scheme facts both documents show are worked out here, once (``_Scheme``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from segments.formatting import text_table
from segments.reports import md_table
from segments.reports.render import render as render_template
from segments.rules.comparison import NONE, ArmChange, Migration, RuleDiff
from segments.rules.compiler import HOLDOUT_ACTION
from segments.rules.model import Experiment

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "markdown", "json")

Row = Sequence[object]


@dataclass(frozen=True)
class _Scheme:
    """What the documents say about one scheme."""

    name: str
    head: str  # "Scheme tier: 3 of 10 entities change segment (30.0 %)", or that it is new or removed
    changed: bool  # False: the scheme is unchanged (one line)
    added_or_removed: bool  # the sizes say it all (and, in an experiment, the sizes per arm)
    actions_change: bool
    sizes: list[Row]  # segment, before, after, change
    moves: list[Row]  # from, to, entities: the entities that change segment, largest first
    matrix_header: list[str]  # "before \ after", then the segments after
    matrix: list[Row]  # a row per segment before: entities per segment after ("" for none)
    arm_sizes: list[Row]  # arm, before, after, change
    arm_moves: list[Row]  # arm before, arm after, entities, other segment, other next action, what changes


def render(diff: RuleDiff, fmt: str = "table") -> str:
    if fmt == "json":
        derived = {
            "moved": diff.moved,
            "arm_moves": diff.arm_moves,
            "arm_sizes": [dataclasses.asdict(a) for a in diff.arm_sizes],
        }
        return json.dumps(dataclasses.asdict(diff) | derived, indent=2, ensure_ascii=False)
    if fmt not in ("table", "markdown"):
        raise ValueError(f"unknown format {fmt!r}: table, markdown or json")
    actions = [(a.owner, a.scheme, a.before, a.after, f"{a.entities:,}") for a in diff.action_changes]
    return render_template(
        "rule_diff.md" if fmt == "markdown" else "rule_diff.txt",
        title=f"Rule change {diff.old_version} -> {diff.new_version} ({diff.old_file} -> {diff.new_file})",
        experiments=diff.old_experiment is not None or diff.new_experiment is not None,
        experiment_before=_experiment(diff.old_experiment),
        experiment_after=_experiment(diff.new_experiment),
        schemes=[_scheme(diff, scheme) for scheme in sorted({s.scheme for s in diff.sizes})],
        actions=actions,
        holdout=any(HOLDOUT_ACTION in (a.before.split()[0], a.after.split()[0]) for a in diff.action_changes),
        holdout_action=HOLDOUT_ACTION,
        file_diff=(diff.text_diff or "(the files are identical)\n").rstrip("\n"),
        table=_md_table if fmt == "markdown" else _text_table,
    )


def _scheme(diff: RuleDiff, scheme: str) -> _Scheme:
    moved = diff.moved.get(scheme, 0)
    total = diff.entities.get(scheme, 0)
    share = 100 * moved / total if total else 0.0
    migrations = [m for m in diff.migrations if m.scheme == scheme]
    added = all(m.from_segment is None for m in migrations)
    removed = all(m.to_segment is None for m in migrations)
    if added:
        head = f"Scheme {scheme} is new: {total:,} entities get a segment"
    elif removed:
        head = f"Scheme {scheme} is removed: {total:,} entities lose their segment"
    else:
        head = f"Scheme {scheme}: {moved:,} of {total:,} entities change segment ({share:.1f} %)"
    actions_change = any(a.scheme == scheme for a in diff.action_changes)
    arms_change = diff.arm_moves.get(scheme, 0) > 0
    matrix_header, matrix = _matrix(migrations)
    return _Scheme(
        name=scheme,
        head=head,
        changed=bool(added or removed or moved or actions_change or arms_change),
        added_or_removed=added or removed,
        actions_change=actions_change,
        sizes=[
            (s.segment, f"{s.before:,}", f"{s.after:,}", f"{s.after - s.before:+,}")
            for s in diff.sizes
            if s.scheme == scheme
        ],
        moves=[
            (_name(m.from_segment), _name(m.to_segment), f"{m.entities:,}")
            for m in migrations
            if m.from_segment != m.to_segment
        ],
        matrix_header=matrix_header,
        matrix=matrix,
        arm_sizes=[
            (a.arm, f"{a.before:,}", f"{a.after:,}", f"{a.after - a.before:+,}")
            for a in diff.arm_sizes
            if a.scheme == scheme
        ],
        arm_moves=[
            (
                _name(a.from_arm),
                _name(a.to_arm),
                f"{a.entities:,}",
                f"{a.segment_changes:,}",
                f"{a.action_changes:,}",
                _arm_meaning(a, diff),
            )
            for a in diff.arm_changes
            if a.scheme == scheme
        ],
    )


def _experiment(experiment: Experiment | None) -> str:
    if experiment is None:
        return "none (every entity gets the version's own segments and actions)"
    champion = 1 - experiment.challenger_share - experiment.holdout_share
    return (
        f"{experiment.name}: {100 * champion:g} % champion, {100 * experiment.challenger_share:g} % challenger "
        f"({experiment.challenger}), {100 * experiment.holdout_share:g} % holdout (no action)"
    )


def _arm_meaning(change: ArmChange, diff: RuleDiff) -> str:
    before, after = change.from_arm, change.to_arm
    if before == after:
        return "-"
    if after == "holdout":
        return "into the holdout: no next action"
    if before == "holdout":
        return "out of the holdout: a next action again"
    if after == "challenger" and diff.new_experiment is not None:
        return f"into the challenger arm ({diff.new_experiment.challenger}'s rules where it has the scheme)"
    if before == "challenger":
        return f"out of the challenger arm (the rules of {diff.new_version})"
    return "-"


def _name(segment: str | None) -> str:
    return NONE if segment is None else segment


def _matrix(migrations: list[Migration]) -> tuple[list[str], list[Row]]:
    """From-segment rows x to-segment columns; the diagonal is the entities that stay."""
    froms = list(dict.fromkeys(_name(m.from_segment) for m in migrations))
    tos = list(dict.fromkeys(_name(m.to_segment) for m in migrations))
    cells = {(_name(m.from_segment), _name(m.to_segment)): m.entities for m in migrations}
    rows = [(f, *(f"{cells[(f, t)]:,}" if (f, t) in cells else "" for t in tos)) for f in froms]
    return ["before \\ after", *tos], rows


def _md_table(header: Sequence[object], rows: list[Row], right: Collection[int] = ()) -> str:
    """A Markdown table; a ``|`` in a cell is escaped so that it does not split the cell."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    align = "".join("r" if i in right else "l" for i in range(len(header)))
    return md_table([cell(h) for h in header], [[cell(v) for v in row] for row in rows], align=align)


def _text_table(header: Sequence[object], rows: list[Row], right: Collection[int] = ()) -> str:
    return text_table(header, rows, numeric=right, rule=True)
