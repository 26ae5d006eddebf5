"""Problems found in an import: where they are and why (``RowError``), and how they are collected.

No input makes the importer raise anything but ``ImportValidationError``: every problem becomes
a ``RowError`` in an ``ErrorLog``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_SHOWN_CHARS = 80


@dataclass(frozen=True)
class RowError:
    """One problem in the input: where it is (file, physical line, column) and why."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    reason: str
    position: int | None = None
    """The character on the line where a structural problem starts (1-based), when known."""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.line is not None and self.position is not None:
            where += f":{self.position}"
        if self.column is None:
            return f"{where}: {self.reason}"
        column = show(self.column)
        if self.value is None:
            return f'{where}: column "{column}" {self.reason}'
        return f'{where}: column "{column}": "{self.value}" {self.reason}'


class CellError(ValueError):
    """A cell that does not parse; ``reason`` reads like 'is not a number'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ErrorLog:
    """Collects row errors, keeping the first ``limit`` and counting all."""

    limit: int = 50
    errors: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, error: RowError) -> None:
        self.total += 1
        if len(self.errors) < self.limit:
            self.errors.append(error)


class ImportValidationError(Exception):
    """The input has problems; ``errors`` holds the first ones, ``total`` counts all of them."""

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        self.errors = errors
        self.total = len(errors) if total is None else total
        super().__init__(f"{self.total} problem(s) found in the import; nothing was written")


def is_blank(raw: Any) -> bool:
    """True for a missing cell: JSON null or an empty/whitespace-only string."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def show(raw: Any) -> str:
    """A raw cell as it should appear in an error message: short, control characters escaped."""
    text = raw if isinstance(raw, str) else dump(raw)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def dump(raw: Any) -> str:
    """``raw`` as JSON text, or its type name when it cannot be written as JSON."""
    try:
        return json.dumps(raw, default=str)
    except (ValueError, RecursionError):  # huge integers, cycles: never fail to show a value
        return f"<{type(raw).__name__}>"


def raise_if_errors(log: ErrorLog) -> None:
    """Stop the import (nothing is written) when ``log`` holds any problem."""
    if log.total:
        raise ImportValidationError(log.errors, log.total)
