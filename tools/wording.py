"""Counting words for every surface: "1 day", "2 days", "in 3 days", "1 day ago"."""

from __future__ import annotations


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``count`` and the noun in the right number: ``plural(1, "day")`` -> "1 day"."""
    word = singular if abs(count) == 1 else (many or singular + "s")
    return f"{count:,} {word}"


def days_from_now(days: int | None) -> str:
    """Say "today", "in 1 day", "in 12 days", "1 day ago" or "3 days ago" (None: unknown)."""
    if days is None:
        return "date unknown"
    if days == 0:
        return "today"
    return f"in {plural(days, 'day')}" if days > 0 else f"{plural(-days, 'day')} ago"
