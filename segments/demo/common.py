"""Time windows and small vectorised numpy/pyarrow helpers shared by the demo data builders."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from segments.ingest.schemas import COUNTRIES

DAY = 86_400
HISTORY, INTERACTION_WINDOW, CATALOGUE = 1460, 730, 2190  # days before as_of


def grouped(weights: list) -> np.ndarray:
    """Concatenated CDFs, group g spanning (g, g + 1], for pick."""
    parts = []
    for g, w in enumerate(weights):
        w = np.asarray(w, dtype=float)
        c = g + np.cumsum(w) / w.sum()
        c[np.flatnonzero(w)[-1] :] = g + 1  # exact upper edge; zero-weight tail never drawn
        parts.append(c)
    return np.concatenate(parts)


def pick(rng: np.random.Generator, cdf: np.ndarray, group: np.ndarray, width: int = 0) -> np.ndarray:
    """Weighted draw within each row's group: an index into the flattened vocabulary, or, when every group
    weighs the same ``width`` items (alternative distributions over one vocabulary), an index into it."""
    return np.searchsorted(cdf, group + rng.random(len(group)), side="right") - group * width


def zipf(n: int, s: float = 0.7) -> np.ndarray:
    return 1.0 / np.arange(1, n + 1) ** s


def uint(rng: np.random.Generator, lo, hi, size: int | None = None) -> np.ndarray:
    """Uniform integers in [lo, hi], inclusive; lo and hi may be arrays."""
    return rng.integers(lo, np.asarray(hi) + 1, size)


def take(arr: pa.Array, idx: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    if null is None:
        return arr.take(pa.array(idx))
    if len(arr) == 0:
        return pa.nulls(len(idx), arr.type)
    return arr.take(pa.array(np.where(null, 0, idx), mask=null))


def padded_ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    """Zero-padded ids start+1..start+n, e.g. 'A0000001', built as one fixed-width byte buffer (fast)."""
    nums = np.arange(start + 1, start + n + 1, dtype=np.int64)
    if n and nums[-1] >= 10**width:
        raise ValueError(f"{prefix} ids exceed {width} digits")
    chars = np.empty((n, width + 1), np.uint8)
    chars[:, 0] = ord(prefix)
    chars[:, 1:] = ord("0") + (nums[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10
    offsets = np.arange(0, n * (width + 1) + 1, width + 1, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars)])


def decimals(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Exact decimal128(18, 2) from integer hundredths (the sink narrows it to the contract precision)."""
    cents = np.asarray(cents, dtype=np.int64)
    raw = np.column_stack([cents, cents >> 63])  # little-endian 128-bit two's complement
    valid = None if null is None else pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [valid, pa.py_buffer(raw)])


def timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64), type=pa.timestamp("s"))


def time_of_day(rng: np.random.Generator, office: np.ndarray) -> np.ndarray:
    """Seconds into the day: office hours for B2B, 06-23 for consumers (always before 23:00)."""
    n = len(office)
    return np.where(office, 8 * 3600 + rng.integers(0, 9 * 3600, n), 6 * 3600 + rng.integers(0, 17 * 3600, n))


def by_country(country: np.ndarray, build: Callable[[str, np.ndarray], pa.Array]) -> pa.Array:
    """Build per-country formatted strings and scatter them back into row order."""
    order = np.argsort(country, kind="stable")
    bounds = np.searchsorted(country[order], np.arange(len(COUNTRIES) + 1))
    parts = [build(code, order[bounds[i] : bounds[i + 1]]) for i, code in enumerate(COUNTRIES)]
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return pa.concat_arrays(parts).take(pa.array(inverse))
