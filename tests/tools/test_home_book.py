"""App Home after a scan: the book read from the scan's stored rows (issue 12), by owner, in the
same few statements whatever the size of the book; a scan written before the terms were stored
(migration 0016) still gives the same book, from the contracts. The team figures are stored by
the scan, so the first open reads them too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, event, select, update
from sqlmodel import Session, col

from tests.utils.factories import add_usage, make_account, make_contract
from tools.facts.extract import IN_LIST_LIMIT
from tools.home_book import BookEntry, home_book, maybe_onboarding
from tools.metrics import portfolio_metrics, scan_key
from tools.models import Contract, HealthSnapshot
from tools.models_cache import PortfolioMetricsRecord
from tools.onboarding import onboarding_progress
from tools.scoring import book_reports, owned_account_ids, scan_portfolio
from tools.scoring_config import ScoringConfig

AS_OF = date(2026, 6, 30)
CONFIG = ScoringConfig()


def _customer(session: Session, owner: str, k: int) -> None:
    account = make_account(session, owner_slack_id=owner)
    make_contract(
        session,
        account=account,
        start=AS_OF - timedelta(days=30 + 7 * (k % 60)),  # some still onboarding
        end=AS_OF + timedelta(days=10 + 3 * k),  # renewals spread over the year
        arr=Decimal(50_000 + 1_234 * k) + Decimal("0.45"),
        seats=20 + k,
        plan=("starter", "pro", "enterprise")[k % 3],
    )
    if k % 2:
        add_usage(session, account=account, start=AS_OF - timedelta(days=40), days=40)


def _portfolio(session: Session) -> None:
    """A small book ("U-SMALL") and one longer than an IN list ("U-BIG"), scanned on AS_OF."""
    for k in range(3):
        _customer(session, "U-SMALL", k)
    for k in range(IN_LIST_LIMIT + 20):
        _customer(session, "U-BIG", k)
    churned = make_account(session, owner_slack_id="U-SMALL")  # not in the book
    make_contract(
        session,
        account=churned,
        start=AS_OF - timedelta(days=400),
        end=AS_OF - 1 * timedelta(days=5),
    )
    session.commit()
    scan_portfolio(session, as_of=AS_OF, config=CONFIG, workers=1)


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _open(session: Session, owner: str) -> tuple[list[BookEntry], list[str]]:
    """The book App Home shows ``owner`` (as ``bot.router.home_view`` asks for it)."""
    owned = owned_account_ids(session, owner_slack_id=owner)
    with _statements(session) as seen:
        book = home_book(
            session, as_of=AS_OF, config=CONFIG, account_ids=owned, owner_slack_id=owner
        )
    return book, seen


def _scored_now(session: Session, owner: str) -> list[BookEntry]:
    """The book scored live, as the cards are (App Home does not show seats used)."""
    owned = owned_account_ids(session, owner_slack_id=owner)
    reports = book_reports(session, as_of=AS_OF, config=CONFIG, account_ids=owned)
    return [
        replace(e, account=e.account.model_copy(update={"seats_used": None}))
        for e in map(BookEntry.of, reports)
    ]


def test_the_book_is_read_from_the_scan_in_statements_independent_of_its_size(
    session: Session,
) -> None:
    _portfolio(session)
    small, small_sql = _open(session, "U-SMALL")
    big, big_sql = _open(session, "U-BIG")

    assert len(small) == 3
    assert len(big) == IN_LIST_LIMIT + 20
    assert len(small_sql) == len(big_sql) <= 3
    assert not [s for s in big_sql if "from contract" in s]  # the stored terms, not contracts
    # The stored values are the ones the cards' scoring gives (same rounding, same stage).
    assert {e.account.account_id: e for e in big} == {
        e.account.account_id: e for e in _scored_now(session, "U-BIG")
    }
    assert {e.account.lifecycle_stage for e in big} >= {"onboarding", "renewal"}


def test_the_book_shows_the_scan_until_the_next_one(session: Session) -> None:
    _portfolio(session)
    before, _ = _open(session, "U-SMALL")
    first = before[0].account.account_id
    session.execute(
        update(Contract).where(col(Contract.account_id) == first).values(arr=Decimal("1.00"))
    )
    session.commit()

    assert _open(session, "U-SMALL")[0] == before  # what the scan stored
    scan_portfolio(session, as_of=AS_OF, config=CONFIG, workers=1)
    after, _ = _open(session, "U-SMALL")
    assert after[0].account.arr == Decimal("1.00")


def test_a_scan_without_stored_terms_still_gives_the_same_book(session: Session) -> None:
    _portfolio(session)
    stored, _ = _open(session, "U-BIG")
    session.execute(  # rows as a scan before migration 0016 left them
        update(HealthSnapshot).values(
            arr=None, seats_purchased=None, plan=None, renewal_date=None, tenure_days=None
        )
    )
    session.commit()

    fallback, sql = _open(session, "U-BIG")
    assert fallback == stored
    assert [s for s in sql if "from contract" in s]  # read from the contracts, as before
    ids = owned_account_ids(session, owner_slack_id="U-BIG")  # and by ids, without the owner
    assert home_book(session, as_of=AS_OF, config=CONFIG, account_ids=ids) == stored


def test_the_scan_stores_the_team_figures_so_the_first_open_computes_nothing(
    session: Session,
) -> None:
    _portfolio(session)
    scan_portfolio(session, as_of=AS_OF, config=CONFIG, workers=1, team_figures=True)
    stored = session.execute(select(PortfolioMetricsRecord)).scalars().all()
    assert [r.key for r in stored] == [scan_key(session, as_of=AS_OF, config=CONFIG)]

    with _statements(session) as sql:
        first = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    assert not [s for s in sql if "from contract" in s or "usage_daily" in s]
    session.execute(delete(PortfolioMetricsRecord))
    assert portfolio_metrics(session, as_of=AS_OF, config=CONFIG) == first  # computed again


def test_app_home_reads_onboarding_only_for_accounts_that_may_be_onboarding(
    session: Session,
) -> None:
    _portfolio(session)
    for owner in ("U-SMALL", "U-BIG"):
        owned = owned_account_ids(session, owner_slack_id=owner)
        book, _ = _open(session, owner)
        maybe = maybe_onboarding(book, owned, AS_OF, CONFIG.onboarding)

        def progress(ids: list[int]) -> dict[int, Any]:
            return onboarding_progress(
                session,
                as_of=AS_OF,
                config=CONFIG.onboarding,
                account_ids=ids,
                only_onboarding=True,
            )

        assert progress(maybe) == progress(owned)
        assert progress(owned)
    assert len(maybe) < len(owned) / 3  # the big book: its young accounts only
