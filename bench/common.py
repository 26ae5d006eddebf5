"""Helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass


@dataclass
class Measurement:
    """One number a benchmark produced."""

    name: str
    value: float
    unit: str
    notes: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100) of ``samples`` by linear interpolation."""
    if not samples:
        raise ValueError("no samples")
    if len(samples) == 1:
        return samples[0]
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: list[float]) -> float:
    return statistics.median(samples)
