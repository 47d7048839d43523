"""What the tools' reports share: percentiles, Markdown tables, number formats, report paths.

Used by :mod:`assistant.evaluation`, :mod:`assistant.bench` and ``scripts/load_test.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple


class ReportPaths(NamedTuple):
    """The files a report wrote: Markdown, JSON and a chart (PNG)."""

    markdown: Path
    json: Path
    chart: Path


class Latency(NamedTuple):
    """p50, p95 and mean of timings, and how many there were."""

    p50: float
    p95: float
    mean: float
    n: int


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100, linear interpolation as numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(float(v) for v in values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | bool]) -> float | None:
    """The arithmetic mean; None for no values."""
    items = [float(value) for value in values]
    return sum(items) / len(items) if items else None


def latency(values: Sequence[float]) -> Latency:
    """p50, p95 and mean of ``values`` (zeros for none)."""
    if not values:
        return Latency(0.0, 0.0, 0.0, 0)
    return Latency(percentile(values, 50) or 0.0, percentile(values, 95) or 0.0, mean(values) or 0.0, len(values))


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide by."""
    return part / whole if whole else None


def number(value: float | None, digits: int = 3, thousands: bool = False) -> str:
    """A figure for a table: fixed digits, an en dash for a missing value."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if thousands else f"{value:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A Markdown table as lines; ``align`` has one letter per column, ``r`` for right-aligned (default left)."""
    rules = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rules) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines
