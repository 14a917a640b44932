"""A rule change for people: a :class:`.comparison.RuleDiff` as a terminal table, Markdown or JSON.

How the two versions are evaluated and compared: :mod:`.comparison`.
"""

from __future__ import annotations

import dataclasses
import json

from .comparison import NONE, ArmChange, Migration, RuleDiff
from .compiler import HOLDOUT_ACTION
from .model import Experiment


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
    md = fmt == "markdown"
    out: list[str] = []
    title = f"Rule change {diff.old_version} -> {diff.new_version} ({diff.old_file} -> {diff.new_file})"
    out += [f"## {title}" if md else title, ""]
    experiments = diff.old_experiment is not None or diff.new_experiment is not None
    if experiments:
        bullet = "- " if md else ""
        out += [
            f"{bullet}Experiment before: {_experiment(diff.old_experiment)}",
            f"{bullet}Experiment after: {_experiment(diff.new_experiment)}",
            "",
        ]
    for scheme in sorted({s.scheme for s in diff.sizes}):
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
        if not (added or removed or moved or actions_change or arms_change):
            out += [(f"### {head}" if md else head) + " - unchanged", ""]
            continue
        out += [f"### {head}" if md else head, ""]
        rows = [
            (s.segment, f"{s.before:,}", f"{s.after:,}", f"{s.after - s.before:+,}")
            for s in diff.sizes
            if s.scheme == scheme
        ]
        out += _table(["segment", "before", "after", "change"], rows, md, right=(1, 2, 3))
        out += [""]
        if added or removed:  # the sizes say it all (and, in an experiment, the sizes per arm)
            out += _arm_sizes(diff, scheme, md) if experiments else []
            continue
        if md:
            out += [*_matrix(scheme, migrations, md), ""]
        else:  # a terminal is too narrow for the matrix: the moves, largest first
            moves = [m for m in migrations if m.from_segment != m.to_segment]
            rows = [(_name(m.from_segment), _name(m.to_segment), f"{m.entities:,}") for m in moves]
            if rows:
                out += [*_table(["moves from", "to", "entities"], rows, md, right=(2,)), ""]
            elif actions_change:
                out += ["No entity changes segment; the next actions do (below).", ""]
            else:
                out += ["No entity changes segment or next action; their experiment arms do (below).", ""]
        if experiments:
            out += [*_arm_sizes(diff, scheme, md), *_arm_moves(diff, scheme, md)]
    out += ["### Next-action changes per owner" if md else "Next-action changes per owner", ""]
    if diff.action_changes:
        rows = [(a.owner, a.scheme, a.before, a.after, f"{a.entities:,}") for a in diff.action_changes]
        out += _table(["owner", "scheme", "before", "after", "entities"], rows, md, right=(4,))
        if any(HOLDOUT_ACTION in (a.before.split()[0], a.after.split()[0]) for a in diff.action_changes):
            out += ["", f"{HOLDOUT_ACTION}: the experiment's holdout, which gets no next action."]
    else:
        out += ["No entity gets a different next action."]
    out += ["", "### File diff" if md else "File diff", ""]
    body = diff.text_diff or "(the files are identical)\n"
    out += ["```diff", body.rstrip("\n"), "```"] if md else [body.rstrip("\n")]
    return "\n".join(out) + "\n"


def _experiment(experiment: Experiment | None) -> str:
    if experiment is None:
        return "none (every entity gets the version's own segments and actions)"
    champion = 1 - experiment.challenger_share - experiment.holdout_share
    return (
        f"{experiment.name}: {100 * champion:g} % champion, {100 * experiment.challenger_share:g} % challenger "
        f"({experiment.challenger}), {100 * experiment.holdout_share:g} % holdout (no action)"
    )


def _arm_sizes(diff: RuleDiff, scheme: str, md: bool) -> list[str]:
    rows = [
        (a.arm, f"{a.before:,}", f"{a.after:,}", f"{a.after - a.before:+,}")
        for a in diff.arm_sizes
        if a.scheme == scheme
    ]
    caption = f"Experiment arms ({scheme}): entities per arm"
    return [
        f"**{caption}**" if md else caption,
        "",
        *_table(["arm", "before", "after", "change"], rows, md, right=(1, 2, 3)),
        "",
    ]


def _arm_moves(diff: RuleDiff, scheme: str, md: bool) -> list[str]:
    """Every (arm before, arm after) pair with how many of its entities get another segment or action."""
    rows = [
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
    ]
    caption = f"Experiment arms ({scheme}): arm before -> arm after"
    header = ["arm before", "arm after", "entities", "other segment", "other next action", "what changes"]
    return [f"**{caption}**" if md else caption, "", *_table(header, rows, md, right=(2, 3, 4)), ""]


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


def _matrix(scheme: str, migrations: list[Migration], md: bool) -> list[str]:
    """From-segment rows x to-segment columns; the diagonal is the entities that stay."""
    name = _name
    froms = list(dict.fromkeys(name(m.from_segment) for m in migrations))
    tos = list(dict.fromkeys(name(m.to_segment) for m in migrations))
    cells = {(name(m.from_segment), name(m.to_segment)): m.entities for m in migrations}
    rows = [(f, *(f"{cells[(f, t)]:,}" if (f, t) in cells else "" for t in tos)) for f in froms]
    caption = f"Migration matrix ({scheme}): rows = segment before, columns = segment after"
    header = ["before \\ after", *tos]
    return [
        f"**{caption}**" if md else caption,
        "",
        *_table(header, rows, md, right=tuple(range(1, len(tos) + 1))),
    ]


def _table(header: list[str], rows: list[tuple], md: bool, right: tuple[int, ...] = ()) -> list[str]:
    if md:
        esc = lambda v: str(v).replace("|", "\\|")  # noqa: E731
        align = ["---:" if i in right else "---" for i in range(len(header))]
        return [
            "| " + " | ".join(map(esc, header)) + " |",
            "|" + "|".join(align) + "|",
            *("| " + " | ".join(map(esc, r)) + " |" for r in rows),
        ]
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows, strict=True)]
    fmt = lambda r: "  ".join(  # noqa: E731
        str(v).rjust(w) if i in right else str(v).ljust(w)
        for i, (v, w) in enumerate(zip(r, widths, strict=True))
    ).rstrip()
    return [fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)]
