"""What the rules audit shows, as plain dataclasses: rule versions, their runs, impact and segment sizes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

IN_USE = "in use"
USED_BEFORE = "used before"
NOT_USED_YET = "not used yet"
CHALLENGER = "challenger"

ABSENT = "(absent)"  # label of a NULL segment in the impact matrix: the scheme is missing in that version


@dataclass(frozen=True)
class RunRef:
    run_id: str
    as_of: date


@dataclass(frozen=True)
class ImpactMatrix:
    """Entities of one scheme by the previous version's segment (rows) and the new version's (columns),
    measured on the data of the version's first run. ``None`` stands for "scheme absent in that version"."""

    scheme: str
    previous_version: str
    run: RunRef
    cells: dict[tuple[str | None, str | None], int]

    @property
    def from_segments(self) -> list[str | None]:
        return _segment_order({f for f, _ in self.cells})

    @property
    def to_segments(self) -> list[str | None]:
        return _segment_order({t for _, t in self.cells})

    def cell(self, from_segment: str | None, to_segment: str | None) -> int:
        return self.cells.get((from_segment, to_segment), 0)

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    @property
    def changed(self) -> int:
        """Entities whose segment differs between the two versions."""
        return sum(n for (f, t), n in self.cells.items() if f != t)

    @property
    def has_absent(self) -> bool:
        """The scheme is missing in one of the versions."""
        return any(None in key for key in self.cells)

    def row_total(self, from_segment: str | None) -> int:
        return sum(n for (f, _), n in self.cells.items() if f == from_segment)

    def column_total(self, to_segment: str | None) -> int:
        return sum(n for (_, t), n in self.cells.items() if t == to_segment)


@dataclass(frozen=True)
class VersionAudit:
    version: str
    file_name: str
    author: str | None
    effective_from: date
    description: str | None
    sha256: str
    role: str  # champion | challenger
    status: str  # IN_USE | USED_BEFORE | NOT_USED_YET | CHALLENGER
    status_note: str  # one sentence explaining the status
    recorded_at: datetime | None
    first_run: RunRef | None
    last_run: RunRef | None
    runs: int  # published runs that used it (as champion, or as challenger for a challenger)
    experiment: str | None  # the experiment of its latest run, if that run had one
    diff_base: str | None  # version the diff is against; None: the first version
    diff: str  # unified diff against diff_base ("" if the texts are equal or there is no base)
    impact: list[ImpactMatrix] = field(default_factory=list)


@dataclass(frozen=True)
class SizeSeries:
    """Segment sizes of one scheme over the published runs (all arms together)."""

    scheme: str
    entity: str  # what the scheme segments (customer, account, contact; comma-separated if it changed)
    runs: list[RunRef]
    rule_versions: list[str | None]  # champion version of each run
    segments: list[str]  # largest in the latest run first
    entities: dict[str, list[int]]  # segment -> entities per run (aligned with ``runs``; 0 if absent)

    def run_total(self, index: int) -> int:
        """Entities of the scheme in run ``runs[index]``."""
        return sum(values[index] for values in self.entities.values())


@dataclass(frozen=True)
class RulesAudit:
    generated_at: datetime
    today: date
    versions: list[VersionAudit]
    sizes: list[SizeSeries]
    published_runs: int
    failed_runs: int
    latest_run: RunRef | None


def _segment_order(segments: set[str | None]) -> list[str | None]:
    return sorted(segments, key=lambda s: (s is None, s or ""))
