"""Account lookup: tolerant of case, punctuation, legal suffixes, partial names and typos."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert
from sqlmodel import Session

from tools import db
from tools.accounts import (
    AccountNotFound,
    AmbiguousAccount,
    example_account_names,
    find_accounts,
    normalise_name,
    resolve_account,
)
from tools.models import Account

NAMES = {
    "acme": "Acme Corp",
    "globex": "Globex GmbH",
    "umbrella": "Umbrella Health",
    "initech": "Initech, Inc.",
    "hooli": "Hooli",
    "stark": "Stark Industries Ltd",
    "wayne": "Wayne Enterprises",
    "soylent": "Soylent & Co",
}


def add_accounts(session: Session, names: dict[str, str]) -> None:
    for external_id, name in names.items():
        session.add(Account(external_id=external_id, name=name))
    session.commit()


@pytest.fixture
def portfolio(session: Session) -> Session:
    add_accounts(session, NAMES)
    return session


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ACME Corp.", "acme"),
        ("Initech, Inc.", "initech"),
        ("Globex GmbH", "globex"),
        ("Soylent & Co", "soylent"),
        ("Société Générale S.A.", "societe generale"),
        ("Inc", "inc"),
        ("  ", ""),
    ],
)
def test_normalise_name(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", "Acme Corp"),
        ("ACME corp.", "Acme Corp"),
        ("Acme Corporation", "Acme Corp"),
        ("acm", "Acme Corp"),
        ("acne corp", "Acme Corp"),
        ("globex", "Globex GmbH"),
        ("GLOBEX gmbh", "Globex GmbH"),
        ("initech inc", "Initech, Inc."),
        ("umbrela", "Umbrella Health"),
        ("health", "Umbrella Health"),
        ("stark industries", "Stark Industries Ltd"),
        ("wayne ent", "Wayne Enterprises"),
        ("soylent", "Soylent & Co"),
    ],
)
def test_resolve_is_tolerant(portfolio: Session, query: str, expected: str) -> None:
    assert resolve_account(portfolio, query=query).name == expected


def test_external_id_matches(session: Session) -> None:
    add_accounts(session, {"ACC-00042": "Blue Sky Partners", "ACC-00043": "Red Sky Partners"})
    assert resolve_account(session, query="acc-00042").name == "Blue Sky Partners"
    match = find_accounts(session, query="ACC-00043")[0]
    assert (match.name, match.reason) == ("Red Sky Partners", "external_id")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Sterling Robotics Inc", "Sterling Robotics Inc"),
        ("sterling robotics, inc.", "Sterling Robotics Inc"),
        ("sterling-robotics-inc", "Sterling Robotics Inc"),
        ("STERLING-ROBOTICS", "Sterling Robotics"),
        ("Sterling Robotics", "Sterling Robotics"),
        ("Sterling Robotics GmbH", "Sterling Robotics GmbH"),
        ("sterling-robotics-gmbh", "Sterling Robotics GmbH"),
    ],
)
def test_exact_id_or_name_resolves_before_fuzzy(
    session: Session, query: str, expected: str
) -> None:
    # Three names that normalise alike ("sterling robotics"): exact id or name still decides.
    add_accounts(
        session,
        {
            "sterling-robotics-inc": "Sterling Robotics Inc",
            "sterling-robotics": "Sterling Robotics",
            "sterling-robotics-gmbh": "Sterling Robotics GmbH",
        },
    )
    assert resolve_account(session, query=query).name == expected
    with pytest.raises(AmbiguousAccount):
        resolve_account(session, query="Sterling Robotics Corp")  # not an exact name of any


def test_not_found_carries_suggestions(portfolio: Session) -> None:
    with pytest.raises(AccountNotFound) as caught:
        resolve_account(portfolio, query="zzz")
    assert caught.value.query == "zzz"
    assert caught.value.suggestions == []
    with pytest.raises(AccountNotFound) as near:
        resolve_account(portfolio, query="hoolx plc media")
    assert "Hooli" in [s.name for s in near.value.suggestions]


@pytest.mark.parametrize("query", ["", "   ", "!!!"])
def test_empty_or_punctuation_only_is_not_found(portfolio: Session, query: str) -> None:
    with pytest.raises(AccountNotFound):
        resolve_account(portfolio, query=query)


def test_ambiguous_lists_the_candidates(portfolio: Session) -> None:
    add_accounts(portfolio, {"acme-labs": "Acme Labs Ltd"})
    with pytest.raises(AmbiguousAccount) as caught:
        resolve_account(portfolio, query="acm")
    assert {c.name for c in caught.value.candidates} == {"Acme Corp", "Acme Labs Ltd"}
    # An exact (suffix-insensitive) name still wins over a longer one sharing its prefix.
    assert resolve_account(portfolio, query="acme").name == "Acme Corp"
    assert resolve_account(portfolio, query="acme labs").name == "Acme Labs Ltd"


def test_find_ranks_best_first_and_limits(portfolio: Session) -> None:
    matches = find_accounts(portfolio, query="a", limit=3)
    assert len(matches) <= 3
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_index_sees_new_and_renamed_accounts(portfolio: Session) -> None:
    assert find_accounts(portfolio, query="cyberdyne") == []
    add_accounts(portfolio, {"cyberdyne": "Cyberdyne Systems"})
    assert resolve_account(portfolio, query="cyberdyne").name == "Cyberdyne Systems"
    hooli = resolve_account(portfolio, query="hooli")
    hooli.name = "Hooli XYZ"
    portfolio.add(hooli)
    portfolio.commit()
    assert resolve_account(portfolio, query="hooli xyz").name == "Hooli XYZ"


def test_examples_are_real_names(portfolio: Session) -> None:
    examples = example_account_names(portfolio, limit=2)
    assert len(examples) == 2
    assert set(examples) <= set(NAMES.values())


def test_resolves_at_10k_accounts_from_one_index_read(sqlite_engine: Engine) -> None:
    """At 10k accounts every kind of query resolves, and the name index is read once, not per
    lookup (the timing lives in `make bench`, not here)."""
    from sqlalchemy import event

    sessions = db.session_factory(sqlite_engine)
    rows = [
        {"external_id": f"acct-{i:05d}", "name": f"Company {i:05d} Holdings"} for i in range(10_000)
    ]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with sessions() as session:
        session.execute(insert(Account), [*rows, {"external_id": "acme", "name": "Acme Corp"}])
        session.commit()
        assert resolve_account(session, query="acme").external_id == "acme"  # builds the index
        event.listen(sqlite_engine, "before_cursor_execute", count)
        try:
            queries = ("acme", "ACME corp.", "acm", "acne corp", "company 01234", "acct-09999")
            found = {q: resolve_account(session, query=q).external_id for q in queries}
        finally:
            event.remove(sqlite_engine, "before_cursor_execute", count)
    assert found == {
        "acme": "acme",
        "ACME corp.": "acme",
        "acm": "acme",
        "acne corp": "acme",
        "company 01234": "acct-01234",
        "acct-09999": "acct-09999",
    }
    reads = [s for s in statements if "FROM account" in s and "WHERE" not in s]
    full_scans = [s for s in reads if "count(" not in s.lower()]  # a cheap freshness check is fine
    assert full_scans == [], "a lookup re-read the whole account table"
