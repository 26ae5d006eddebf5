"""An account with too few comments for themes of its own gets the portfolio's themes."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from tests.tools.voc.test_report import AS_OF, planted_group, seed
from tests.utils.factories import make_account, make_nps, make_ticket
from tools.voc import reference as voc_reference
from tools.voc import voice_of_customer
from tools.voc.themes import MIN_TEXTS

FEW = [
    ("The price per seat is too high for a team like ours.", 4),
    ("Support answers within minutes, great support.", 10),
    ("Quarterly planning happens in spreadsheets anyway.", 7),
]


def small_account(session: Session) -> int:
    account = make_account(session, name="Small Co", external_id="small")
    for n, (text, score) in enumerate(FEW):
        make_nps(
            session, account=account, day=AS_OF - timedelta(days=2 + n), score=score, comment=text
        )
    make_ticket(
        session, account=account, opened=AS_OF - timedelta(days=3), subject="Bugs in exports"
    )
    return account.id or 0


def test_few_comments_are_assigned_to_the_portfolio_themes(session: Session) -> None:
    seed(session)
    small = small_account(session)
    assert len(FEW) < MIN_TEXTS
    portfolio = {t.key: t for t in voice_of_customer(session, as_of=AS_OF, window_days=90).themes}
    report = voice_of_customer(session, as_of=AS_OF, window_days=90, account_ids=[small])
    # the portfolio's theme (same key and label), with this account's own count and quotes
    assert all(portfolio[t.key].label == t.label for t in report.themes)
    group = {t.key: planted_group(portfolio[t.key]) for t in report.themes}
    comments = [t for t in report.themes if t.family == "comments"]
    assert {group[t.key] for t in comments} == {"price", "support"}
    assert all(t.basis == "portfolio" for t in comments)
    assert all(t.count == 1 for t in comments)
    assert all(t.accounts == 1 for t in comments)
    assert all(q.external_id == "small" for t in report.themes for q in t.quotes)
    price = next(t for t in comments if group[t.key] == "price")
    assert (price.sentiment, price.tone) == (-1.0, "negative")
    # a comment that uses none of a portfolio theme's label words stays unthemed, not forced in
    assert report.themed == 3  # two comments and the ticket
    assert FEW[2][0] not in {q.untrusted_text for t in report.themes for q in t.quotes}
    (ticket,) = [t for t in report.themes if t.family == "tickets"]
    assert (group[ticket.key], ticket.basis, ticket.count) == ("bugs", "portfolio", 1)


def test_the_assignment_is_stable_and_refitted_when_the_texts_change(session: Session) -> None:
    seed(session)
    small = small_account(session)
    voc_reference.clear()

    def themes() -> list[tuple[str, str, int]]:
        report = voice_of_customer(session, as_of=AS_OF, window_days=90, account_ids=[small])
        return [(t.key, t.label, t.count) for t in report.themes]

    first = themes()
    assert len(voc_reference._cache) == 2  # one fitted reference per family
    assert themes() == first
    assert len(voc_reference._cache) == 2  # reused, not refitted
    voc_reference.clear()
    assert themes() == first  # refitted from scratch: the same answer
    make_nps(
        session,
        account=make_account(session),
        day=AS_OF - timedelta(days=1),
        score=9,
        comment="Price is fine",
    )
    session.flush()
    themes()
    assert len(voc_reference._cache) == 3  # a changed comment window is a new reference


def test_the_portfolio_itself_and_large_accounts_find_their_own_themes(session: Session) -> None:
    unhappy, _ = seed(session)
    report = voice_of_customer(session, as_of=AS_OF, window_days=90, account_ids=[unhappy.id or 0])
    assert report.themes
    assert all(t.basis == "own" for t in report.themes)
    portfolio = voice_of_customer(session, as_of=AS_OF, window_days=90)
    assert all(t.basis == "own" for t in portfolio.themes)
