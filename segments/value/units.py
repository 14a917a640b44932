"""The time units the value models count in. No numpy here: the CLI reads these while building its parser."""

from __future__ import annotations

DAYS_PER_UNIT = {"day": 1, "week": 7}
DAYS_PER_YEAR = 365.0


def unit_days(time_unit: str) -> int:
    if time_unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {', '.join(DAYS_PER_UNIT)}, got {time_unit!r}")
    return DAYS_PER_UNIT[time_unit]
