"""Cell parsers for the data import (see ``tools.importer``).

Parsers take a raw cell (a CSV string or a JSON value, never blank) and return the typed value,
or raise ``CellError`` whose reason completes the sentence ``column "arr": "12k" <reason>``.
The limits below are documented in docs/data-format.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from tools.importer.errors import CellError

Parser = Callable[[Any], Any]

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_MONEY_RE = re.compile(r"[+-]?\d+(\.\d+)?")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
MONEY_MAX = Decimal("1e12")
"""Money amounts are below this (the database stores 12 digits before the point)."""
INT_MAX = 2_147_483_647
"""Whole numbers fit the database's INTEGER columns (32-bit on PostgreSQL)."""
MAX_FIELD_CHARS = 65_536
"""No field (CSV cell or JSONL value) may be longer than this many characters."""
_MAX_DIGITS = 40


def text(max_length: int, *, multiline: bool = False) -> Parser:
    """A string of at most ``max_length`` characters (surrounding spaces removed); line breaks
    only where ``multiline`` (free text such as ticket subjects and comments)."""

    def parse(raw: Any) -> str:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise CellError("is not a string")
        value = raw.strip() if isinstance(raw, str) else _number_text(raw)
        if "\x00" in value:
            raise CellError("contains a NUL character")
        if not multiline and ("\n" in value or "\r" in value):
            raise CellError(
                "contains a line break (not allowed in this column; is a quote left open?)"
            )
        if len(value) > max_length:
            raise CellError(f"is longer than {max_length} characters")
        return value

    return parse


def _number_text(raw: int | float) -> str:
    if isinstance(raw, int) and abs(raw) >= 10**_MAX_DIGITS:
        raise CellError(f"is a number with more than {_MAX_DIGITS} digits")
    return str(raw)


def _check_range(value: float | int, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise CellError(f"is below the minimum {minimum:g}")
    if maximum is not None and value > maximum:
        raise CellError(f"is above the maximum {maximum:g}")


def integer(*, minimum: int = -INT_MAX - 1, maximum: int = INT_MAX) -> Parser:
    """A whole number within ``minimum``..``maximum`` (by default what an INTEGER column holds)."""

    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise CellError("is not a whole number")
        valid_text = isinstance(raw, str) and _INT_RE.fullmatch(raw.strip())
        valid_number = isinstance(raw, int) or (
            isinstance(raw, float) and math.isfinite(raw) and raw.is_integer()
        )
        if not (valid_text or valid_number):
            raise CellError("is not a whole number")
        if isinstance(raw, str) and len(raw.strip()) > _MAX_DIGITS:
            raise CellError(f"has more than {_MAX_DIGITS} digits (range {minimum} to {maximum})")
        value = int(raw)
        if value < 0 <= minimum:
            raise CellError(f"is negative (must be {minimum} or more)")
        if value < minimum:
            raise CellError(f"is below the minimum {minimum}")
        if value > maximum:
            raise CellError(f"is above the maximum {maximum}")
        return value

    return parse


def number(*, minimum: float | None = None, maximum: float | None = None) -> Parser:
    """A finite decimal number (stored as float), optionally bounded."""

    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise CellError("is not a number")
        valid_text = isinstance(raw, str) and _FLOAT_RE.fullmatch(raw.strip())
        if not (valid_text or isinstance(raw, int | float)):
            raise CellError("is not a number")
        value = float(raw)
        if not math.isfinite(value):
            raise CellError("is not a finite number")
        _check_range(value, minimum, maximum)
        return value

    return parse


def money(raw: Any) -> Decimal:
    """A non-negative amount below MONEY_MAX with at most 2 decimal places, parsed to
    ``Decimal`` (no currency sign)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise CellError("is not a number")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise CellError("is not a finite number")
    candidate = raw.strip() if isinstance(raw, str) else repr(raw)
    if isinstance(raw, str) and not _MONEY_RE.fullmatch(candidate):
        raise CellError("is not a number")
    try:
        value = Decimal(candidate)
    except InvalidOperation:  # pragma: no cover - the regex already rules this out
        raise CellError("is not a number") from None
    if value < 0:
        raise CellError("is negative (amounts must be 0 or more)")
    if value >= MONEY_MAX:
        raise CellError(f"is too large (at most {MONEY_MAX - Decimal('0.01'):,})")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise CellError("has more than 2 decimal places")
    return value.quantize(Decimal("0.01"))


def boolean(raw: Any) -> bool:
    """true/false, 1/0 or yes/no (any case); JSON booleans too."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower() if isinstance(raw, str | int) else ""
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellError("is not a boolean (use true/false, 1/0 or yes/no)")


def day(raw: Any) -> date:
    """A calendar date written YYYY-MM-DD."""
    value = raw.strip() if isinstance(raw, str) else ""
    if not _DATE_RE.fullmatch(value):
        raise CellError("is not a date (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CellError("is not a valid calendar date") from None


def timestamp(raw: Any) -> datetime:
    """An ISO 8601 timestamp with an offset or Z, returned in UTC."""
    value = raw.strip() if isinstance(raw, str) else ""
    if len(value) < 16 or not _DATE_RE.fullmatch(value[:10]) or value[10] not in "Tt ":
        raise CellError("is not a timestamp (expected e.g. 2024-05-01T09:30:00Z)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CellError("is not a valid timestamp (e.g. 2024-05-01T09:30:00Z)") from None
    if parsed.utcoffset() is None:
        raise CellError("has no UTC offset (add Z or +HH:MM)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise CellError("is out of range (years 0001 to 9999 in UTC)") from None


def choice(enum: type[StrEnum]) -> Parser:
    """One of the values of ``enum`` (case-insensitive)."""
    allowed = {member.value: member.value for member in enum}

    def parse(raw: Any) -> str:
        key = raw.strip().lower() if isinstance(raw, str) else None
        if key is None or key not in allowed:
            raise CellError("is not one of: " + ", ".join(allowed))
        return allowed[key]

    return parse


def string_list(raw: Any) -> list[str]:
    """A JSON list of strings, or one string of ``|``-separated names."""
    if isinstance(raw, str):
        items = raw.split("|")
    elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        items = raw
    else:
        raise CellError('is not a list of names (use "a|b" in CSV, ["a", "b"] in JSONL)')
    return [item.strip() for item in items if item.strip()]
