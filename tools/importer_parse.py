"""Cell parsers and file readers for the data import (see ``tools.importer``).

Parsers take a raw cell (a CSV string or a JSON value, never blank) and return the typed value,
or raise ``CellError`` whose reason completes the sentence ``column "arr": "12k" <reason>``.
Readers stream a CSV or JSONL file as ``(physical line, {column: raw value})`` and report
structural problems (encoding, header, row width, quoting, JSON syntax, oversized fields, deep
nesting) to an ``ErrorLog``. No input can make them raise: every problem becomes a ``RowError``.
The limits below are documented in docs/data-format.md.
"""

from __future__ import annotations

import csv
import itertools
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
"""Money amounts are below this (the database stores 12 digits before the point)."""
INT_MAX = 2_147_483_647
"""Whole numbers fit the database's INTEGER columns (32-bit on PostgreSQL)."""
MAX_FIELD_CHARS = 65_536
"""No field (CSV cell or JSONL value) may be longer than this many characters."""
MAX_JSON_DEPTH = 8
"""A JSONL line may nest lists/objects at most this deep (a record is depth 1, a list in it 2)."""
MAX_LINE_CHARS = 1_048_576
"""A JSONL line may be at most this long (in characters)."""
_MAX_DIGITS = 40
_TOO_LONG = f"is longer than {MAX_FIELD_CHARS:,} characters (the limit for any field)"
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


def is_blank(raw: Any) -> bool:
    """True for a missing cell: JSON null or an empty/whitespace-only string."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def show(raw: Any) -> str:
    """A raw cell as it should appear in an error message: short, control characters escaped."""
    text = raw if isinstance(raw, str) else _dump(raw)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _dump(raw: Any) -> str:
    try:
        return json.dumps(raw, default=str)
    except (ValueError, RecursionError):  # huge integers, cycles: never fail to show a value
        return f"<{type(raw).__name__}>"


# --- parsers ---------------------------------------------------------------------------------


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


# --- readers ---------------------------------------------------------------------------------


def _decoded_lines(path: Path, log: ErrorLog, progress: ProgressCallback | None) -> Iterator[str]:
    """The file's lines as text; bytes that are not UTF-8 are reported and replaced."""
    name = path.name
    try:
        total = path.stat().st_size
        handle = path.open("rb")
    except OSError as exc:
        log.add(RowError(name, None, None, None, f"cannot be read ({exc.strerror or exc})"))
        return
    done = 0
    with handle:
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
    csv.field_size_limit(_CSV_FIELD_LIMIT)  # our own, documented limit is checked per cell
    reader = csv.reader(_decoded_lines(path, log, progress), strict=True)
    header: list[str] | None = None
    source = RecordSource(path, set(), iter(()))
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                header = [cell.strip() for cell in row]
                break
            start = reader.line_num + 1
    except csv.Error as exc:
        log.add(_quote_error(path, start, reader.line_num, None, exc))
        return source
    if header is None:
        log.add(RowError(name, 1, None, None, "file is empty (expected a header row)"))
        return source
    header_line = reader.line_num
    problems = _header_problems(header, columns, required)
    problems += [
        (c, f"is longer than {MAX_FIELD_CHARS:,} characters")
        for c in header
        if len(c) > MAX_FIELD_CHARS
    ]
    for column, reason in problems:
        log.add(RowError(name, header_line, column, None, reason))
    if problems:
        return source
    source.present = set(header)
    source.rows = _csv_rows(path, reader, header, log)
    return source


_CSV_FIELD_LIMIT = 2**31 - 1  # lines are read whole anyway; MAX_FIELD_CHARS is the real limit


def _physical_lines(path: Path, first: int, last: int) -> str:
    """Lines ``first``..``last`` (1-based) of ``path``, decoded leniently (to explain an error;
    the fast path never keeps lines)."""
    with path.open("rb") as handle:
        raw = list(itertools.islice(handle, first - 1, last))
    text = "".join(line.decode("utf-8", errors="replace") for line in raw)
    return text.removeprefix("\ufeff") if first == 1 else text


def _open_quote(text: str) -> tuple[int, int] | None:
    """(field index, offset in ``text``) of the last quoted field opened in ``text``."""
    field_index, opened, quoted, i = 0, None, False, 0
    at_field_start = True
    while i < len(text):
        char = text[i]
        if quoted:
            if char == '"' and text[i + 1 : i + 2] == '"':
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"' and at_field_start:
            quoted, opened = True, (field_index, i)
        elif char == ",":
            field_index += 1
            at_field_start = True
            i += 1
            continue
        at_field_start = False
        i += 1
    return opened


def _quote_error(
    path: Path, start_line: int, end_line: int, header: list[str] | None, exc: csv.Error
) -> RowError:
    """A ``csv.Error`` (strict quoting) as a RowError at the quote that opened the bad field."""
    name = path.name
    text = _physical_lines(path, start_line, max(start_line, end_line))
    found = _open_quote(text)
    if found is None:
        return RowError(
            name, start_line, None, None, f"is not valid CSV ({exc}); nothing after it was read"
        )
    index, offset = found
    before = text[:offset]
    line = start_line + before.count("\n")
    position = offset - (before.rfind("\n") + 1) + 1
    column = header[index] if header is not None and index < len(header) else f"#{index + 1}"
    if "unexpected end of data" in str(exc):
        reason = "opens a quote that is never closed"
    else:
        reason = f"has a quoted value followed by more text ({exc}); double a quote inside quotes"
    return RowError(name, line, column, None, reason + "; nothing after it was read", position)


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
    path: Path, reader: Any, header: list[str], log: ErrorLog
) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.name
    width = len(header)
    last_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            log.add(_quote_error(path, last_line + 1, reader.line_num, header, exc))
            return  # after a quoting error the rest of the file cannot be split reliably
        line = last_line + 1  # a quoted field may span lines: report where the row starts
        last_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            spans = (
                f" (the row runs on to line {last_line}: is a quote left open?)"
                if last_line > line
                else ""
            )
            log.add(
                RowError(
                    name,
                    line,
                    None,
                    None,
                    f"has {len(row)} values but the header has {width}{spans}",
                )
            )
            continue
        if max(map(len, row)) <= MAX_FIELD_CHARS:  # the common case, checked in C
            yield line, dict(zip(header, row, strict=True))
            continue
        oversized = [c for c, cell in zip(header, row, strict=True) if len(cell) > MAX_FIELD_CHARS]
        for column in oversized:
            log.add(RowError(name, line, column, None, _TOO_LONG))


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
        record = _json_record(name, line, text_line, log)
        if record is None:
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


def _too_deep(text: str) -> int | None:
    """The offset of the first bracket nested deeper than MAX_JSON_DEPTH, if any."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    depth, in_string, escaped = 0, False, False
    for offset, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return offset
        elif char in "]}":
            depth -= 1
    return None


def _json_record(name: str, line: int, text_line: str, log: ErrorLog) -> dict[str, Any] | None:
    """One JSONL line as a record, or None after logging why it is not one."""
    if len(text_line) > MAX_LINE_CHARS:
        reason = f"is longer than {MAX_LINE_CHARS:,} characters (the limit for a JSONL line)"
        log.add(RowError(name, line, None, None, reason))
        return None
    deep = _too_deep(text_line)
    if deep is not None:
        reason = f"nests lists/objects deeper than {MAX_JSON_DEPTH} levels"
        log.add(RowError(name, line, None, None, reason, deep + 1))
        return None
    try:
        record = json.loads(text_line)
    except json.JSONDecodeError as exc:
        reason = f"is not valid JSON ({exc.msg})"
        log.add(RowError(name, line, None, None, reason, exc.colno))
        return None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with thousands of digits
        log.add(RowError(name, line, None, None, f"is not valid JSON ({exc})"))
        return None
    if not isinstance(record, dict):
        log.add(RowError(name, line, None, None, "is not a JSON object"))
        return None
    oversized = [k for k, v in record.items() if _json_chars(v) > MAX_FIELD_CHARS]
    for key in oversized:
        log.add(RowError(name, line, key, None, _TOO_LONG))
    return None if oversized else record


def _json_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | dict):
        return len(_dump(value))
    return 0
