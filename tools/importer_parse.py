"""Cell parsers and file readers for the data import (see ``tools.importer``).

Parsers take a raw cell (a CSV string or a JSON value, never blank) and return the typed value,
or raise ``CellError`` whose reason completes the sentence ``column "arr": "12k" <reason>``.
Readers stream a CSV or JSONL file as ``(physical line, {column: raw value})`` and report
structural problems (encoding, header, row width, JSON syntax) to an ``ErrorLog``.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

Parser = Callable[[Any], Any]
ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(file_name, bytes_read, total_bytes)`` while a file is read."""

PROGRESS_EVERY_LINES = 65_536

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_MONEY_RE = re.compile(r"[+-]?\d+(\.\d+)?")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
MONEY_MAX = Decimal("1e12")


@dataclass(frozen=True)
class RowError:
    """One problem in the input: where it is (file, physical line, column) and why."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.column is None:
            return f"{where}: {self.reason}"
        if self.value is None:
            return f'{where}: column "{self.column}" {self.reason}'
        return f'{where}: column "{self.column}": "{self.value}" {self.reason}'


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


def is_blank(raw: Any) -> bool:
    """True for a missing cell: JSON null or an empty/whitespace-only string."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def show(raw: Any) -> str:
    """A raw cell as it should appear in an error message."""
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


# --- parsers ---------------------------------------------------------------------------------


def text(max_length: int) -> Parser:
    """A string of at most ``max_length`` characters (surrounding spaces removed)."""

    def parse(raw: Any) -> str:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise CellError("is not a string")
        value = raw.strip() if isinstance(raw, str) else str(raw)
        if "\x00" in value:
            raise CellError("contains a NUL character")
        if len(value) > max_length:
            raise CellError(f"is longer than {max_length} characters")
        return value

    return parse


def _check_range(value: float | int, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise CellError(f"is below the minimum {minimum:g}")
    if maximum is not None and value > maximum:
        raise CellError(f"is above the maximum {maximum:g}")


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Parser:
    """A whole number, optionally bounded."""

    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise CellError("is not a whole number")
        valid_text = isinstance(raw, str) and _INT_RE.fullmatch(raw.strip())
        valid_number = isinstance(raw, int | float) and float(raw).is_integer()
        if not (valid_text or valid_number):
            raise CellError("is not a whole number")
        value = int(raw)
        _check_range(value, minimum, maximum)
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
    """An amount with at most 2 decimal places, parsed to ``Decimal`` (no currency sign)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise CellError("is not a number")
    candidate = raw.strip() if isinstance(raw, str) else repr(raw)
    if not _MONEY_RE.fullmatch(candidate):
        raise CellError("is not a number")
    try:
        value = Decimal(candidate)
    except InvalidOperation:  # pragma: no cover - the regex already rules this out
        raise CellError("is not a number") from None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise CellError("has more than 2 decimal places")
    if abs(value) >= MONEY_MAX:
        raise CellError("is too large")
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
    return parsed.astimezone(UTC)


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


# --- readers ---------------------------------------------------------------------------------


def _decoded_lines(path: Path, log: ErrorLog, progress: ProgressCallback | None) -> Iterator[str]:
    """The file's lines as text; bytes that are not UTF-8 are reported and replaced."""
    name = path.name
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                log.add(
                    RowError(
                        name,
                        number,
                        None,
                        None,
                        f"is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at position "
                        f"{exc.start + 1}); save the file as UTF-8",
                    )
                )
                line = raw.decode("utf-8", errors="replace")
            if number == 1:
                line = line.removeprefix("\ufeff")
            if progress is not None and number % PROGRESS_EVERY_LINES == 0:
                progress(name, done, total)
            yield line
    if progress is not None:
        progress(name, total, total)


@dataclass
class RecordSource:
    """Rows of one file; ``present`` holds the column names the file actually provides."""

    path: Path
    present: set[str]
    rows: Iterator[tuple[int, dict[str, Any]]]


def open_records(
    path: Path,
    *,
    columns: Collection[str],
    required: Collection[str],
    log: ErrorLog,
    progress: ProgressCallback | None = None,
) -> RecordSource:
    """Stream ``path`` (CSV with a header row, or JSONL) as ``(line, record)`` pairs."""
    if path.suffix == ".jsonl":
        return _jsonl_records(path, columns, log, progress)
    return _csv_records(path, columns, required, log, progress)


def _csv_records(
    path: Path,
    columns: Collection[str],
    required: Collection[str],
    log: ErrorLog,
    progress: ProgressCallback | None,
) -> RecordSource:
    name = path.name
    reader = csv.reader(_decoded_lines(path, log, progress))
    header: list[str] | None = None
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [cell.strip() for cell in row]
            break
    source = RecordSource(path, set(), iter(()))
    if header is None:
        log.add(RowError(name, 1, None, None, "file is empty (expected a header row)"))
        return source
    header_line = reader.line_num
    problems = _header_problems(header, columns, required)
    for column, reason in problems:
        log.add(RowError(name, header_line, column, None, reason))
    if problems:
        return source
    source.present = set(header)
    source.rows = _csv_rows(name, reader, header, log)
    return source


def _header_problems(
    header: list[str], columns: Collection[str], required: Collection[str]
) -> list[tuple[str | None, str]]:
    problems: list[tuple[str | None, str]] = []
    seen: set[str] = set()
    for column in header:
        if column in seen:
            problems.append((column, "appears twice in the header"))
        elif column not in columns:
            problems.append((column, "is not a known column: " + ", ".join(columns)))
        seen.add(column)
    problems.extend(
        (column, "is missing from the header (required)")
        for column in required
        if column not in seen
    )
    return problems


def _csv_rows(
    name: str, reader: Any, header: list[str], log: ErrorLog
) -> Iterator[tuple[int, dict[str, Any]]]:
    width = len(header)
    last_line = reader.line_num
    for row in reader:
        line = last_line + 1  # a quoted field may span lines: report where the row starts
        last_line = reader.line_num
        if len(row) == width:
            yield line, dict(zip(header, row, strict=True))
        elif not any(cell.strip() for cell in row):
            continue
        else:
            log.add(
                RowError(
                    name, line, None, None, f"has {len(row)} values but the header has {width}"
                )
            )


def _jsonl_records(
    path: Path, columns: Collection[str], log: ErrorLog, progress: ProgressCallback | None
) -> RecordSource:
    source = RecordSource(path, set(), iter(()))
    source.rows = _jsonl_rows(path, tuple(columns), source.present, log, progress)
    return source


def _jsonl_rows(
    path: Path,
    columns: tuple[str, ...],
    present: set[str],
    log: ErrorLog,
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.name
    reported: set[str] = set()
    empty = True
    for line, text_line in enumerate(_decoded_lines(path, log, progress), start=1):
        if not text_line.strip():
            continue
        empty = False
        try:
            record = json.loads(text_line)
        except json.JSONDecodeError as exc:
            log.add(RowError(name, line, None, None, f"is not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            log.add(RowError(name, line, None, None, "is not a JSON object"))
            continue
        unknown = record.keys() - set(columns)
        for key in sorted(unknown - reported):
            log.add(RowError(name, line, key, None, "is not a known column: " + ", ".join(columns)))
        reported |= unknown
        if unknown:
            continue
        present.update(record)
        yield line, record
    if empty:
        log.add(RowError(name, 1, None, None, "file is empty"))
