"""Lean waste findings: Muda, Mura, Muri on small hand-built portfolios."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from tools.db import SessionFactory
from tools.demo import generate_demo
from tools.lean import LeanConfig, lean_findings
from tools.models import Account, Contract, Feature, FeatureUsage, Ticket, UsageDaily
from tools.results import LeanFinding, Severity
from tools.scoring_config import ScoringConfig

AS_OF = date(2026, 3, 31)
CONFIG = ScoringConfig()


# -- tiny portfolio builders (shared with test_expansion and test_metrics) --------------------


def add_account(
    s: Session,
    ext: str,
    *,
    plan: str = "pro",
    arr: str = "120000",
    seats: int = 100,
    start: date = date(2025, 6, 1),
    end: date = date(2026, 12, 31),
) -> int:
    """An account with one contract; returns its id."""
    account = Account(external_id=ext, name=ext.title())
    s.add(account)
    s.flush()
    assert account.id is not None
    add_contract(s, account.id, f"{ext}-c1", plan=plan, arr=arr, seats=seats, start=start, end=end)
    return account.id


def add_contract(
    s: Session,
    account_id: int,
    ext: str,
    *,
    plan: str = "pro",
    arr: str = "120000",
    seats: int = 100,
    start: date,
    end: date,
) -> None:
    s.add(
        Contract(
            external_id=ext,
            account_id=account_id,
            plan=plan,
            arr=Decimal(arr),
            seats_purchased=seats,
            start_date=start,
            end_date=end,
        )
    )
    s.flush()


DAY = timedelta(days=1)


def days_back(n: int, *, until: date = AS_OF - timedelta(days=1)) -> list[date]:
    """The ``n`` days ending ``until`` (default: the last complete day before AS_OF), oldest
    first."""
    return [until - timedelta(days=i) for i in range(n - 1, -1, -1)]


def add_usage(
    s: Session, account_id: int, days: Iterable[date], active: int | Callable[[date], int]
) -> None:
    for day in days:
        users = active(day) if callable(active) else active
        s.add(UsageDaily(account_id=account_id, day=day, active_users=users, logins=users))
    s.flush()


_tickets = iter(range(1, 10**9))


def add_ticket(
    s: Session,
    account_id: int,
    opened: date,
    *,
    closed: date | None = None,
    priority: str = "normal",
) -> None:
    def at(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 12, tzinfo=UTC)

    s.add(
        Ticket(
            external_id=f"t{next(_tickets)}",
            account_id=account_id,
            priority=priority,
            opened_at=at(opened),
            closed_at=at(closed) if closed else None,
        )
    )
    s.flush()


def add_feature(s: Session, key: str, tier: str, *, integration: bool = False) -> int:
    feature = Feature(key=key, name=key.replace("_", " ").title(), tier=tier)
    feature.is_integration = integration
    s.add(feature)
    s.flush()
    assert feature.id is not None
    return feature.id


def add_feature_usage(
    s: Session, account_id: int, feature_id: int, days: Iterable[date], *, users: int, events: int
) -> None:
    for day in days:
        s.add(
            FeatureUsage(
                account_id=account_id, feature_id=feature_id, day=day, users=users, events=events
            )
        )
    s.flush()


def kinds(findings: list[LeanFinding]) -> dict[str, LeanFinding]:
    return {f.kind: f for f in findings}


# -- Muda -------------------------------------------------------------------------------------


def test_muda_prices_unused_seats(session: Session) -> None:
    acme = add_account(session, "acme", arr="120000", seats=100)
    add_usage(session, acme, days_back(30), lambda d: 40 if d.day % 2 else 25)

    muda = kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[acme])["muda"]

    assert muda.annual_cost == Decimal("72000")
    assert muda.title == "$72,000/year of unused capacity"
    assert muda.severity is Severity.HIGH
    assert muda.evidence[0] == "60 of 100 seats unused (60%) over the last 28 days"
    assert muda.playbook.key == "licence_optimisation"
    assert len(muda.playbook.steps) >= 3


def test_muda_rounds_cost_to_dollars(session: Session) -> None:
    account = add_account(session, "odd", arr="1000", seats=3)
    add_usage(session, account, days_back(30), 1)

    muda = kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])["muda"]

    assert muda.annual_cost == Decimal("667")  # 2 x 333.33


def test_muda_threshold_is_inclusive(session: Session) -> None:
    at_threshold = add_account(session, "at", seats=100)
    add_usage(session, at_threshold, days_back(30), 80)  # exactly 20% unused
    below = add_account(session, "below", seats=100)
    add_usage(session, below, days_back(30), 81)

    findings = lean_findings(session, as_of=AS_OF, config=CONFIG)

    assert kinds(findings[at_threshold])["muda"].severity is Severity.LOW
    assert "muda" not in kinds(findings[below])


def test_zero_seats_purchased_is_not_an_error(session: Session) -> None:
    account = add_account(session, "zero", seats=0, arr="5000")
    add_usage(session, account, days_back(90), 10)

    assert "muda" not in kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])


def test_account_without_usage_has_all_seats_unused(session: Session) -> None:
    account = add_account(session, "ghost", arr="50000", seats=50)

    found = kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])

    assert set(found) == {"muda"}
    assert found["muda"].annual_cost == Decimal("50000")
    assert found["muda"].evidence[0].startswith("50 of 50 seats unused (100%)")


# -- Mura -------------------------------------------------------------------------------------


def test_mura_flags_swinging_weekly_usage(session: Session) -> None:
    hooli = add_account(session, "hooli", seats=60)
    # Alternate busy and quiet weeks: 50 vs 5 daily active users.
    add_usage(
        session,
        hooli,
        days_back(84),
        lambda d: 50 if (AS_OF - timedelta(days=1) - d).days // 7 % 2 else 5,
    )
    steady = add_account(session, "steady", seats=60)
    add_usage(session, steady, days_back(84), lambda d: 48 + (d.day % 3))

    findings = lean_findings(session, as_of=AS_OF, config=CONFIG)

    mura = kinds(findings[hooli])["mura"]
    assert mura.severity is Severity.HIGH
    assert "coefficient of variation" in mura.evidence[0]
    assert "82%" in mura.evidence[0]  # std 22.5 / mean 27.5
    assert mura.playbook.key == "adoption_training"
    assert "mura" not in kinds(findings[steady])


def test_mura_flags_long_gaps(session: Session) -> None:
    account = add_account(session, "gappy", seats=40)
    gap = {AS_OF - timedelta(days=i) for i in range(20, 30)}  # 10 silent days
    add_usage(session, account, days_back(84), lambda d: 0 if d in gap else 35)

    mura = kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])["mura"]

    assert mura.title == "Long gaps in usage"
    assert any("10 days" in e for e in mura.evidence)
    assert mura.severity is Severity.MEDIUM


def test_mura_counts_missing_rows_and_trailing_silence(session: Session) -> None:
    account = add_account(session, "quiet", seats=40)
    add_usage(session, account, days_back(60, until=AS_OF - timedelta(days=15)), 35)

    mura = kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])["mura"]

    assert any("14 days" in e for e in mura.evidence)  # AS_OF-14 .. AS_OF-1, complete days
    assert mura.severity is Severity.HIGH


def test_new_account_is_not_erratic_for_weeks_before_it_started(session: Session) -> None:
    account = add_account(session, "new", seats=40, start=AS_OF - timedelta(days=35))
    add_usage(session, account, days_back(35), 35)

    assert "mura" not in kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])


# -- Muri -------------------------------------------------------------------------------------


def _portfolio_with_tickets(session: Session) -> tuple[int, list[int]]:
    peers = []
    for i in range(5):
        peer = add_account(session, f"peer{i}", seats=20)
        add_usage(session, peer, days_back(90), 20)
        for k in range(2):
            add_ticket(session, peer, AS_OF - timedelta(days=10 + k), closed=AS_OF - DAY)
        peers.append(peer)
    umbrella = add_account(session, "umbrella", seats=20)
    add_usage(session, umbrella, days_back(90), 20)
    for k in range(10):  # 10 / 20 = 0.5 per user vs a median of 0.1 (complete days: from AS_OF-1)
        add_ticket(session, umbrella, AS_OF - timedelta(days=5 * k + 1), closed=AS_OF - DAY)
    return umbrella, peers


def test_muri_compares_tickets_per_user_with_the_portfolio(session: Session) -> None:
    umbrella, peers = _portfolio_with_tickets(session)

    findings = lean_findings(session, as_of=AS_OF, config=CONFIG)

    muri = kinds(findings[umbrella])["muri"]
    assert muri.severity is Severity.HIGH
    assert muri.evidence[0] == (
        "10 tickets in the last 90 days for 20 active users: 0.50 per user, "
        "5.0x the portfolio median of 0.10"
    )
    assert muri.playbook.key == "qbr_support_alignment"
    assert all("muri" not in kinds(findings[p]) for p in peers)


def test_muri_median_is_portfolio_wide_even_for_one_account(session: Session) -> None:
    umbrella, _ = _portfolio_with_tickets(session)

    one = lean_findings(session, as_of=AS_OF, config=CONFIG, account_ids=[umbrella])
    everyone = lean_findings(session, as_of=AS_OF, config=CONFIG)

    assert list(one) == [umbrella]
    assert one[umbrella] == everyone[umbrella]


def test_muri_flags_urgent_tickets_open_too_long(session: Session) -> None:
    account = add_account(session, "slow", seats=20)
    add_usage(session, account, days_back(90), 20)
    add_ticket(session, account, AS_OF - timedelta(days=10), priority="urgent")
    # Closed after as_of: still open on as_of.
    add_ticket(
        session,
        account,
        AS_OF - timedelta(days=9),
        priority="urgent",
        closed=AS_OF + timedelta(days=1),
    )
    add_ticket(session, account, AS_OF - timedelta(days=3), priority="urgent")  # too recent
    add_ticket(session, account, AS_OF - timedelta(days=30), priority="urgent", closed=AS_OF - DAY)
    add_ticket(session, account, AS_OF - timedelta(days=30), priority="high")

    muri = kinds(lean_findings(session, as_of=AS_OF, config=CONFIG)[account])["muri"]

    assert muri.title == "Urgent tickets left open"
    assert muri.evidence == ["2 urgent tickets open longer than 7 days (oldest 10 days)"]
    assert muri.severity is Severity.MEDIUM


# -- scope and time ---------------------------------------------------------------------------


def test_churned_account_gets_nothing(session: Session) -> None:
    gone = add_account(session, "gone", start=date(2025, 1, 1), end=AS_OF - timedelta(days=1))
    add_usage(session, gone, days_back(90), 1)
    future = add_account(session, "future", start=AS_OF + timedelta(days=1))

    findings = lean_findings(session, as_of=AS_OF, config=CONFIG)

    assert gone not in findings
    assert future not in findings
    assert lean_findings(session, as_of=AS_OF, config=CONFIG, account_ids=[gone]) == {}


def test_no_look_ahead(session: Session) -> None:
    umbrella, _ = _portfolio_with_tickets(session)
    acme = add_account(session, "acme", seats=100)
    add_usage(session, acme, days_back(84), lambda d: 40 if (AS_OF - d).days // 7 % 2 else 5)
    before = lean_findings(session, as_of=AS_OF, config=CONFIG)

    later = [AS_OF + timedelta(days=i) for i in range(1, 40)]
    add_usage(session, acme, later, 100)
    for _ in range(30):
        add_ticket(session, umbrella, AS_OF + timedelta(days=1), priority="urgent")
    add_contract(
        session, acme, "acme-c2", seats=500, start=AS_OF + timedelta(days=1), end=date(2027, 12, 31)
    )

    assert lean_findings(session, as_of=AS_OF, config=CONFIG) == before


def test_config_rejects_unknown_keys() -> None:
    assert LeanConfig().muda_min_unused_share == 0.2
    with pytest.raises(ValueError, match="muda_min_unused_shar"):
        LeanConfig.model_validate({"muda_min_unused_shar": 0.3})


def demo_ids(sessions: SessionFactory, today: date) -> dict[str, int]:
    """Generate a small demo portfolio; its external ids mapped to account ids."""
    generate_demo(session_factory=sessions, today=today, accounts=20, months=4)
    with sessions() as s:
        return {a.external_id: a.id for a in s.exec(select(Account)) if a.id is not None}


def test_demo_stories(sessions: SessionFactory) -> None:
    """The demo's named accounts show the waste their stories describe."""
    ids = demo_ids(sessions, AS_OF)
    with sessions() as s:
        found = lean_findings(s, as_of=AS_OF, config=CONFIG)

    acme = kinds(found[ids["acme"]])["muda"]
    assert acme.annual_cost is not None
    assert acme.annual_cost > Decimal("90000")  # ~60% of 500 seats at $360
    assert "muri" in kinds(found[ids["umbrella"]])
    assert "mura" in kinds(found[ids["hooli"]])
