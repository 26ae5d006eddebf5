"""Every number in model-written prose must come from the evidence it was given.

``numbers_in(text)`` finds the numbers a reader would see (amounts such as ``$1.2k`` or
``$1,200``, percentages, counts, decimals, multiples like ``3.2x``, scores like ``61/100``, and
dates written ``2026-09-18``, ``18 Sep 2026``, ``Sep 18, 2026``, ``September 18`` or
``9/18/2026``) and normalises each to a ``Quantity`` (a value plus how precisely it was written)
or a date. ``unsupported_numbers(text, evidence)`` returns the ones the evidence does not
contain: a written number matches an evidence number when both round to the same value at the
precision the writer used (``$1.2k`` matches 1,234; ``61`` matches 61.2; ``12%`` matches 0.12 or
12.4). Signs are ignored ("down 12 points" restates -12). A date matches the same day in the
evidence; a date written without a year matches that day in any year of the evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+(?P<y>\d{{4}}))?\b", re.I),
    re.compile(rf"\b{_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?\b", re.I),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"),
)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<cur>[$€£])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<suffix>\s?(?:k|K|m|M|bn|B)\b)?(?P<pct>\s?%)?"
)
_OUT_OF_100 = re.compile(r"/\s?100\b")
_SCALE = {"k": Decimal(1_000), "m": Decimal(1_000_000), "bn": Decimal(1_000_000_000)}


@dataclass(frozen=True)
class Quantity:
    """A number as written: its value and the step it was rounded to (1 for "61", 0.1 for
    "1.2", 100 for "$1.2k"); ``percent`` when written with %."""

    value: Decimal
    step: Decimal
    percent: bool = False
    text: str = ""


@dataclass(frozen=True)
class DateMention:
    """A date as written; ``year`` is None when the text gave none."""

    year: int | None
    month: int
    day: int
    text: str = ""


Mention = Quantity | DateMention


def _dates(text: str) -> tuple[list[DateMention], str]:
    """The dates in ``text`` and the text with them blanked out (so their digits are not
    read again as counts)."""
    found: list[DateMention] = []
    chars = list(text)
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer("".join(chars)):
            groups = match.groupdict()
            month = _MONTHS[groups["mon"].lower()] if groups.get("mon") else int(groups["m"])
            year = int(groups["y"]) if groups.get("y") else None
            day = int(groups["d"])
            try:
                date(year or 2000, month, day)
            except ValueError:
                continue
            found.append(DateMention(year, month, day, match.group(0)))
            chars[match.start() : match.end()] = " " * (match.end() - match.start())
    return found, "".join(chars)


def _quantity(match: re.Match[str]) -> Quantity | None:
    raw = match.group("num").replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern only matches digits
        return None
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    step = Decimal(1).scaleb(-decimals)
    suffix = (match.group("suffix") or "").strip().lower()
    if suffix == "b":
        suffix = "bn"
    if suffix in _SCALE:
        value *= _SCALE[suffix]
        step *= _SCALE[suffix]
    return Quantity(value, step, percent=bool(match.group("pct")), text=match.group(0).strip())


def numbers_in(text: str) -> list[Mention]:
    """Every number and date a reader sees in ``text``, normalised."""
    dates, rest = _dates(text)
    rest = _OUT_OF_100.sub(" ", rest)  # "61/100": the scale is not a claim
    mentions: list[Mention] = list(dates)
    for match in _NUMBER.finditer(rest):
        quantity = _quantity(match)
        if quantity is not None:
            mentions.append(quantity)
    return mentions


# -- the evidence side ---------------------------------------------------------------------------


@dataclass
class Evidence:
    """The numbers and dates found anywhere in an evidence structure."""

    values: set[Decimal]
    dates: set[date]

    @classmethod
    def of(cls, evidence: Any) -> Evidence:
        """Collect from any JSON-like value: numbers as they are, strings read for numbers."""
        values: set[Decimal] = set()
        dates: set[date] = set()
        for item in _walk(evidence):
            if isinstance(item, bool):
                continue
            if isinstance(item, (int, float, Decimal)):
                values.add(Decimal(str(item)))
                continue
            for mention in numbers_in(str(item)):
                if isinstance(mention, DateMention):
                    if mention.year is not None:
                        dates.add(date(mention.year, mention.month, mention.day))
                        values.add(Decimal(mention.year))
                else:
                    values.add(mention.value)
        values |= {abs(v) for v in values}
        return cls(values, dates)

    def supports(self, mention: Mention) -> bool:
        """Whether ``mention`` restates a number or date of the evidence."""
        if isinstance(mention, DateMention):
            return any(
                d.month == mention.month
                and d.day == mention.day
                and (mention.year is None or d.year == mention.year)
                for d in self.dates
            )
        candidates: Iterable[Decimal] = self.values
        if mention.percent:  # 12% restates 12, 12.3, or the fraction 0.123
            candidates = [*self.values, *(v * 100 for v in self.values if abs(v) <= 1)]
        return any(_same(mention, value) for value in candidates)


def _same(mention: Quantity, value: Decimal) -> bool:
    """Both round to the same value at the precision the writer used."""
    written = abs(mention.value)
    half = mention.step / 2
    return abs(abs(value) - written) <= half


def _walk(value: Any) -> Iterable[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item)
            del key
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, date):
        yield value.isoformat()
    elif value is not None:
        yield value


def unsupported_numbers(text: str, evidence: Any) -> list[str]:
    """The numbers and dates of ``text`` (as written) that the evidence does not contain."""
    found = evidence if isinstance(evidence, Evidence) else Evidence.of(evidence)
    bad: list[str] = []
    for mention in numbers_in(text):
        if not found.supports(mention) and mention.text not in bad:
            bad.append(mention.text)
    return bad


def canonical_json(value: Any) -> str:
    """A stable JSON text of ``value`` (sorted keys, dates and decimals as strings)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
