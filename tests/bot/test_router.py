"""The deterministic router: what it recognises, and what it answers on a small demo portfolio."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.config import Settings
from bot.deps import Deps
from bot.router import Intent, IntentKind, answer, clean_text, renewal_window, route
from tools import db
from tools.demo import generate_demo
from tools.scoring_config import load_config

TODAY = date(2026, 11, 2)


@pytest.mark.parametrize(
    ("text", "kind", "account"),
    [
        ("how is acme doing", IntentKind.HEALTH, "acme"),
        ("How is Acme Corp doing?", IntentKind.HEALTH, "Acme Corp"),
        (
            "<@U0CSBOT> how\u2019s umbrella health doing today?",
            IntentKind.HEALTH,
            "umbrella health",
        ),
        ("health of globex", IntentKind.HEALTH, "globex"),
        ("what's the health score for Initech, Inc.?", IntentKind.HEALTH, "Initech, Inc"),
        ("show me hooli's health", IntentKind.HEALTH, "hooli"),
        ("tell me about stark", IntentKind.HEALTH, "stark"),
        ("who is at risk", IntentKind.AT_RISK, ""),
        ("which accounts are likely to churn?", IntentKind.AT_RISK, ""),
        ("what renews next month?", IntentKind.RENEWALS, ""),
        ("upcoming renewals in 60 days", IntentKind.RENEWALS, ""),
        ("expansion opportunities", IntentKind.EXPANSION, ""),
        ("where can we upsell?", IntentKind.EXPANSION, ""),
        ("help", IntentKind.HELP, ""),
        ("", IntentKind.HELP, ""),
        ("what's the weather in Paris", IntentKind.UNKNOWN, ""),
    ],
)
def test_route(text: str, kind: IntentKind, account: str) -> None:
    intent = route(text)
    assert intent.kind == kind
    assert intent.account == account


def test_route_details() -> None:
    assert route("which of my accounts are at risk?").mine is True
    assert route("who is at risk").mine is False
    assert route("renewals in the next 45 days").within_days == 45
    assert route("what renews this quarter").within_days == 90
    assert route("what renews next month").next_month is True
    assert clean_text("<@U0CSBOT>   hi  there") == "hi there"


def test_renewal_window() -> None:
    assert renewal_window(Intent(IntentKind.RENEWALS, next_month=True), TODAY) == (
        date(2026, 12, 1),
        date(2026, 12, 31),
    )
    dec = renewal_window(Intent(IntentKind.RENEWALS, next_month=True), date(2026, 12, 31))
    assert dec == (date(2027, 1, 1), date(2027, 1, 31))
    assert renewal_window(Intent(IntentKind.RENEWALS, within_days=10), TODAY) == (
        TODAY,
        date(2026, 11, 12),
    )


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deps]:
    path: Path = tmp_path_factory.mktemp("router") / "demo.db"
    engine: Engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    generate_demo(session_factory=sessions, today=TODAY, accounts=30)
    yield Deps(
        settings=Settings(_env_file=None),
        sessions=sessions,
        clock=lambda: datetime(2026, 11, 2, 9, tzinfo=UTC),
        config=load_config(),
    )
    engine.dispose()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how is acme doing?", "Acme Corp: health"),
        ("who is at risk?", "At-risk accounts ("),
        ("what renews next month?", "Renewals 01 Dec to 31 Dec 2026"),
        ("expansion opportunities", "expansion opportunities (~$"),
        ("help", "cs-copilot: /health"),
        ("sing me a song", "I can't answer that yet"),
    ],
)
def test_answers_the_five_questions_and_falls_back(
    deps: Deps, question: str, expected: str
) -> None:
    reply = answer(replace(route(question), user_id="U0CSM001"), deps)
    assert expected in reply.text
    assert reply.blocks


def test_health_answers_explain_misses(deps: Deps) -> None:
    missing = answer(Intent(IntentKind.HEALTH, account="zzz"), deps)
    assert missing.found is False
    assert "couldn't find" in str(missing.blocks)
    empty = answer(Intent(IntentKind.HEALTH, account=""), deps)
    assert "Which account?" in str(empty.blocks)


def test_mine_is_scoped_to_the_owner(deps: Deps) -> None:
    mine = answer(Intent(IntentKind.AT_RISK, user_id="U0CSM001", mine=True), deps)
    assert "Acme Corp" in mine.text
    assert "Globex" not in str(mine.blocks)
    nobody = answer(Intent(IntentKind.AT_RISK, user_id="U0NOBODY", mine=True), deps)
    assert "None of your accounts is at risk" in str(nobody.blocks)


def test_qbr_reply_has_a_thread(deps: Deps) -> None:
    reply = answer(Intent(IntentKind.QBR, account="acme", user_id="U1"), deps)
    assert reply.thread is not None
    assert "QBR draft v1 for Acme Corp" in reply.text
    assert "Acme Corp — Q4 2026 QBR" in reply.thread.text
    assert isinstance(reply.thread.extra.get("chart_png"), bytes)
