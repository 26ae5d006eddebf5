"""File readers for the data import (see ``tools.importer``).

Readers stream a CSV or JSONL file as ``(physical line, {column: raw value})`` and report
structural problems (encoding, header, row width, quoting, JSON syntax, oversized fields, deep
nesting) to an ``ErrorLog``. No input can make them raise: every problem becomes a ``RowError``.
The limits below are documented in docs/data-format.md.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.importer.errors import ErrorLog, RowError, dump
from tools.importer.parse import MAX_FIELD_CHARS

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(file_name, bytes_read, total_bytes)`` while a file is read."""

PROGRESS_EVERY_LINES = 65_536
MAX_JSON_DEPTH = 8
"""A JSONL line may nest lists/objects at most this deep (a record is depth 1, a list in it 2)."""
MAX_LINE_CHARS = 1_048_576
"""A JSONL line may be at most this long (in characters)."""
_TOO_LONG = f"is longer than {MAX_FIELD_CHARS:,} characters (the limit for any field)"


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
        return len(dump(value))
    return 0
