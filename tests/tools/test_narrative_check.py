"""The number check: every number and date in prose must restate one of the evidence."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tools.narrative_check import DateMention, Quantity, numbers_in, unsupported_numbers

EVIDENCE = {
    "account": "Acme Corp",
    "arr": "120000.00",
    "arr_at_risk": "45000",
    "health_score_exact": 41.6,
    "logins_change": -0.384,
    "renewal_date": "2026-12-18",
    "days_to_renewal": 27,
    "drivers": [{"text": "logins down 38% vs the prior 4 weeks", "impact": -12.4}],
    "unused": "$1,234/year of unused capacity",
}


def test_numbers_are_normalised_across_formats() -> None:
    found = numbers_in("$1.2k, $1,200, 12%, 3.5x, 61/100 and 18 Sep 2026, Sep 18, 9/18/2026")
    quantities = [m for m in found if isinstance(m, Quantity)]
    dates = [m for m in found if isinstance(m, DateMention)]
    assert [q.value for q in quantities] == [
        Decimal("1200"),
        Decimal("1200"),
        Decimal("12"),
        Decimal("3.5"),
        Decimal("61"),
    ]
    assert quantities[0].step == Decimal("100")
    assert quantities[2].percent
    assert {(d.year, d.month, d.day) for d in dates} == {(2026, 9, 18), (None, 9, 18)}
    assert len(dates) == 3


@pytest.mark.parametrize(
    "text",
    [
        "Acme scores 42/100 with $120,000 ARR and $45k at stake.",
        "Logins fell 38% and the contract renews on 18 Dec 2026, in 27 days.",
        "Renewal is on December 18; $120k ARR.",
        "Health 41.6, down 12.4 points; about $1.2k a year of unused seats.",
        "It renews 12/18/2026 with $120.0k ARR.",
    ],
)
def test_restated_numbers_pass(text: str) -> None:
    assert unsupported_numbers(text, EVIDENCE) == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Acme scores 48/100.", ["48"]),
        ("Logins fell 45%.", ["45%"]),
        ("It renews on 2026-12-19.", ["2026-12-19"]),
        ("It renews on 19 December.", ["19 December"]),
        ("About $1.3k a year of unused seats and $90,000 at stake.", ["$1.3k", "$90,000"]),
        ("Three tickets in 14 days.", ["14"]),
    ],
)
def test_invented_numbers_are_named(text: str, bad: list[str]) -> None:
    assert unsupported_numbers(text, EVIDENCE) == bad


def test_dates_in_evidence_may_be_date_objects() -> None:
    assert unsupported_numbers("Renews 18 Dec 2026.", {"renewal": date(2026, 12, 18)}) == []
