"""A folder of versioned rule files, and which version is in force on a given day."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from .errors import RuleError, RuleValidationError
from .loader import display_path, load_rule_file
from .model import RuleSet

RULE_FILE_SUFFIXES = (".yaml", ".yml")


def rule_files(folder: Path | str) -> list[Path]:
    """The rule files in ``folder`` (not recursive): ``*.yaml``/``*.yml``, ignoring hidden files."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in RULE_FILE_SUFFIXES and not p.name.startswith((".", "_"))
    )


def load_rule_versions(
    folder: Path | str,
    columns: Mapping[str, str] | None = None,
    *,
    required_schemes: Collection[str] = (),
) -> list[RuleSet]:
    """Load every rule file in ``folder``, sorted by ``effective_from``.

    Raises :class:`RuleValidationError` with the errors of every file, plus one error per duplicate
    ``version`` or ``effective_from`` (naming both files); :class:`RuleError` if there are no rule files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleError("rule folder does not exist", file=display_path(folder))
    paths = rule_files(folder)
    if not paths:
        raise RuleError(
            f"no rule files (*.yaml, *.yml) in this folder; add one, e.g. {display_path(folder / '2026-11-01.yaml')}",
            file=display_path(folder),
        )
    errors: list[RuleError] = []
    loaded: list[RuleSet] = []
    for path in paths:
        try:
            loaded.append(load_rule_file(path, columns, required_schemes=required_schemes))
        except RuleValidationError as exc:
            errors.extend(exc.errors)
    errors += _duplicates(loaded, "version", lambda r: r.version)
    champions = [r for r in loaded if r.role == "champion"]
    errors += _duplicates(champions, "effective_from", lambda r: r.effective_from)
    errors += _experiment_errors(loaded)
    if errors:
        raise RuleValidationError(errors)
    return sorted(loaded, key=lambda r: r.effective_from)


def _duplicates(rule_sets: list[RuleSet], key: str, value) -> list[RuleError]:
    errors: list[RuleError] = []
    first: dict[object, RuleSet] = {}
    for rule_set in rule_sets:  # in file-name order
        seen = first.setdefault(value(rule_set), rule_set)
        if seen is not rule_set:
            errors.append(
                RuleError(
                    f"{key}: {value(rule_set)} is also used by {display_path(seen.path)} "
                    f"(line {_key_line(seen.text, key)}); each rule file needs its own {key}",
                    file=display_path(rule_set.path),
                    line=_key_line(rule_set.text, key),
                    col=1,
                )
            )
    return errors


def _experiment_errors(rule_sets: list[RuleSet]) -> list[RuleError]:
    """Every experiment names a challenger file of this folder whose schemes exist in the champion."""
    by_version = {r.version: r for r in rule_sets}
    errors: list[RuleError] = []
    for champion in rule_sets:
        experiment = champion.experiment
        if experiment is None:
            continue

        def error(message: str, champion: RuleSet = champion) -> None:
            errors.append(
                RuleError(
                    f"experiment.challenger: {message}",
                    file=display_path(champion.path),
                    line=_key_line(champion.text, "  challenger"),
                    col=1,
                )
            )

        challenger = by_version.get(experiment.challenger)
        if challenger is None:
            known = ", ".join(sorted(r.version for r in rule_sets if r.role == "challenger")) or "none"
            error(f"no rule file has version {experiment.challenger!r} (challenger versions here: {known})")
        elif challenger.role != "challenger":
            error(
                f"version {experiment.challenger!r} ({display_path(challenger.path)}) is a champion file; "
                "add `role: challenger` to it so it is only used through this experiment"
            )
        else:
            if challenger.effective_from > champion.effective_from:
                error(
                    f"the challenger {experiment.challenger!r} takes effect on {challenger.effective_from}, "
                    f"after this file ({champion.effective_from}); give it the same or an earlier date"
                )
            for name, scheme in challenger.schemes.items():
                mine = champion.schemes.get(name)
                if mine is None:
                    error(f"the challenger has scheme {name}, which this file does not have")
                elif mine.entity != scheme.entity:
                    error(f"scheme {name} segments {mine.entity} here but {scheme.entity} in the challenger")
    return errors


def _key_line(text: str, key: str) -> int:
    match = re.search(rf"^{re.escape(key)}\s*:", text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def active_version(rule_sets: Sequence[RuleSet], as_of: date) -> RuleSet:
    """The rule set in force on ``as_of``: the latest ``effective_from`` on or before it."""
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    if not rule_sets:
        raise RuleError("no rule versions to choose from")
    champions = [r for r in rule_sets if r.role == "champion"]
    if not champions:
        raise RuleError("no champion rule versions: every file is a challenger")
    candidates = [r for r in champions if r.effective_from <= as_of]
    if not candidates:
        earliest = min(champions, key=lambda r: r.effective_from)
        raise RuleError(
            f"no rule version is in effect on {as_of.isoformat()}: the earliest, version {earliest.version!r}, "
            f"takes effect on {earliest.effective_from.isoformat()}",
            file=display_path(earliest.path),
            line=_key_line(earliest.text, "effective_from"),
            col=1,
        )
    latest = max(r.effective_from for r in candidates)
    chosen = [r for r in candidates if r.effective_from == latest]
    if len(chosen) > 1:
        names = " and ".join(display_path(r.path) for r in chosen)
        raise RuleError(f"{names} both take effect on {latest.isoformat()}; which one applies is ambiguous")
    return chosen[0]


def challenger_for(rule_sets: Sequence[RuleSet], champion: RuleSet) -> RuleSet | None:
    """The challenger version of ``champion``'s experiment (``load_rule_versions`` checked it exists)."""
    if champion.experiment is None:
        return None
    for rule_set in rule_sets:
        if rule_set.version == champion.experiment.challenger and rule_set.role == "challenger":
            return rule_set
    raise RuleError(
        f"experiment {champion.experiment.name}: challenger version {champion.experiment.challenger!r} "
        "is not among the loaded rule files",
        file=display_path(champion.path),
    )
