"""The keyless router's everyday asks, answered on the demo with the tools' own numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import col, select

from bot.config import Settings
from bot.deps import Deps
from bot.router import IntentKind, Reply, answer, route
from tests.utils.demo_db import demo_database
from tools import db
from tools.accounts import resolve_account
from tools.health import health_score_for
from tools.metrics import portfolio_metrics
from tools.models import Ticket, UsageDaily
from tools.scoring import account_summaries, at_risk_accounts
from tools.scoring_config import load_config

TODAY = date(2026, 11, 2)
CONFIG = load_config()
OWNER = "U0CSM001"


@pytest.fixture(scope="module")
def deps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deps]:
    engines: Iterator[Engine] = demo_database(tmp_path_factory, "asks", today=TODAY, accounts=30)
    engine = next(engines)
    yield Deps(
        settings=Settings(_env_file=None),
        sessions=db.session_factory(engine),
        clock=lambda: datetime(2026, 11, 2, 9, tzinfo=UTC),
        config=CONFIG,
    )
    engine.dispose()


def ask(deps: Deps, question: str) -> Reply:
    return answer(replace(route(question), user_id=OWNER), deps)


def shown(reply: Reply) -> str:
    return reply.text + "\n" + str(reply.blocks)


@pytest.mark.parametrize(
    ("question", "kind", "account"),
    [
        ("draft a QBR for acme", IntentKind.QBR, "acme"),
        ("Draft Acme's QBR", IntentKind.QBR, "Acme"),
        ("prepare the qbr for Globex please", IntentKind.QBR, "Globex please"),
        ("why did globex drop?", IntentKind.WHY_CHANGED, "globex"),
        ("why is globex's score down", IntentKind.WHY_CHANGED, "globex"),
        ("what changed at acme?", IntentKind.WHY_CHANGED, "acme"),
        ("what's our NRR?", IntentKind.METRICS, ""),
        ("what is our gross revenue retention", IntentKind.METRICS, ""),
        ("show me accounts whose champion left", IntentKind.TRIGGER, ""),
        ("which of my accounts have an overdue invoice?", IntentKind.TRIGGER, ""),
        ("summarise umbrella's tickets", IntentKind.TICKETS, "umbrella"),
        ("summarize the tickets for Umbrella Health", IntentKind.TICKETS, "Umbrella Health"),
        ("who hasn't logged in for 30 days?", IntentKind.QUIET, ""),
        ("which enterprise accounts are dormant", IntentKind.QUIET, ""),
        ("what should I do about globex?", IntentKind.ADVICE, "globex"),
        ("how do we save acme", IntentKind.ADVICE, "acme"),
        ("enterprise accounts at risk", IntentKind.AT_RISK, ""),
        ("at-risk accounts renewing in 60 days", IntentKind.AT_RISK, ""),
    ],
)
def test_routes_the_everyday_asks(question: str, kind: IntentKind, account: str) -> None:
    intent = route(question)
    assert intent.kind == kind
    assert intent.account == account


def test_route_variants_carry_their_filters() -> None:
    assert route("which of my accounts lost their champion").mine is True
    assert route("show me accounts whose champion left").trigger == "champion_left"
    assert route("enterprise accounts at risk").segment == "enterprise"
    assert route("at-risk accounts renewing in 60 days").within_days == 60
    assert route("who hasn't logged in for 2 weeks").within_days == 14
    assert route("what's our GRR").metric == "grr"
    assert route("accounts with detractor NPS").kind == IntentKind.TRIGGER


def test_draft_a_qbr(deps: Deps) -> None:
    reply = ask(deps, "draft a QBR for acme")
    assert reply.thread is not None
    assert "QBR draft v" in reply.text
    assert "Acme Corp — Q4 2026 QBR" in reply.thread.text


def test_why_did_globex_drop_names_the_score_change_and_movers(deps: Deps) -> None:
    with deps.sessions() as session:
        globex = resolve_account(session, query="globex").id or 0
        now = health_score_for(session, account_id=globex, as_of=TODAY, config=CONFIG)
        before = health_score_for(
            session, account_id=globex, as_of=TODAY - timedelta(days=30), config=CONFIG
        )
    text = shown(ask(deps, "why did globex drop?"))
    assert f"from *{before.score:.0f}*" in text
    assert f"*{now.score:.0f}/100*" in text
    assert f"({now.score - before.score:+.1f} points)" in text
    assert "What pulled it down" in text
    assert "Usage trend" in text


def test_nrr_and_grr_come_from_the_portfolio_metrics(deps: Deps) -> None:
    with deps.sessions() as session:
        metrics = portfolio_metrics(session, as_of=TODAY, config=CONFIG)
    assert metrics.nrr is not None
    assert metrics.grr is not None
    nrr = ask(deps, "what's our NRR?")
    assert nrr.text.startswith("NRR")
    assert f"{metrics.nrr:.0%}" in nrr.text
    assert f"*{metrics.grr:.0%}*" in shown(ask(deps, "and our GRR?"))


def test_accounts_whose_champion_left(deps: Deps) -> None:
    with deps.sessions() as session:
        expected = {
            r.account.name
            for r in at_risk_accounts(session, as_of=TODAY, config=CONFIG, limit=500)
            if any(t.key == "champion_left" for t in r.churn.triggers)
        }
    assert expected  # the demo has one (Globex)
    reply = ask(deps, "show me accounts whose champion left")
    assert f"({len(expected)})" in reply.text
    for name in expected:
        assert name in reply.text
    mine = ask(deps, "which of my accounts lost their champion?")
    assert "Your accounts whose champion left" in mine.text


def test_summarise_umbrellas_tickets(deps: Deps) -> None:
    with deps.sessions() as session:
        umbrella = resolve_account(session, query="umbrella").id or 0
        # The 90 complete days before today: TODAY-90 .. TODAY-1 (today's tickets not yet).
        since = datetime.combine(TODAY - timedelta(days=90), datetime.min.time(), tzinfo=UTC)
        until = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
        opened = session.exec(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.account_id == umbrella,
                col(Ticket.opened_at) >= since,
                col(Ticket.opened_at) < until,
            )
        ).one()
    reply = ask(deps, "summarise umbrella's tickets")
    assert f"*Umbrella Health*: {opened} tickets opened in the last 90 days" in reply.text
    assert "Most recent subjects" in shown(reply)


def test_who_has_not_logged_in(deps: Deps) -> None:
    for days in (30, 3):
        cutoff = TODAY - timedelta(days=days)  # the complete days cutoff .. TODAY - 1
        with deps.sessions() as session:
            active = {
                a for a, s in account_summaries(session, as_of=TODAY).items() if not s.churned
            }
            seen = set(
                session.exec(
                    select(UsageDaily.account_id).where(
                        (col(UsageDaily.logins) > 0) | (col(UsageDaily.active_users) > 0),
                        col(UsageDaily.day) >= cutoff,
                        col(UsageDaily.day) < TODAY,
                    )
                ).all()
            )
        quiet = active - seen
        reply = ask(deps, f"who hasn't logged in for {days} days?")
        if quiet:
            assert f"({len(quiet)})" in reply.text
        else:
            assert "none" in reply.text


def test_what_should_i_do_about_globex(deps: Deps) -> None:
    text = shown(ask(deps, "what should I do about globex?"))
    assert "What to do about Globex" in text
    assert "Champion left" in text
    assert "1. *" in text  # a numbered playbook


def test_segment_and_renewal_window_filter_the_at_risk_list(deps: Deps) -> None:
    with deps.sessions() as session:
        risky = at_risk_accounts(session, as_of=TODAY, config=CONFIG, limit=500)
    enterprise = [r for r in risky if r.account.segment == "enterprise"]
    reply = ask(deps, "enterprise accounts at risk")
    assert f"At-risk accounts (enterprise) ({len(enterprise)})" in reply.text
    soon = [r for r in risky if r.churn.days_to_renewal is not None]
    soon = [r for r in soon if 0 <= (r.churn.days_to_renewal or 0) <= 60]
    window = ask(deps, "at-risk accounts renewing in 60 days")
    assert f"renewing within 60 days ({len(soon)})" in window.text


def test_unknown_asks_say_what_can_be_answered(deps: Deps) -> None:
    text = shown(ask(deps, "sing me a song"))
    for example in ("why did globex drop?", "what's our NRR?", "summarise umbrella's tickets"):
        assert example in text


def test_claudes_tools_give_the_routers_numbers(deps: Deps) -> None:
    from tools.agent_tools import default_registry
    from tools.registry import ToolContext

    ctx = ToolContext(sessions=deps.sessions, as_of=TODAY, config=CONFIG)
    registry = default_registry()
    moved = json.loads(registry.call("score_movers", {"account": "globex"}, ctx).content)
    assert f"from *{moved['before_score']:.0f}*" in shown(ask(deps, "why did globex drop?"))
    tickets = json.loads(registry.call("account_tickets", {"account": "umbrella"}, ctx).content)
    assert f"{tickets['opened']} tickets opened" in ask(deps, "summarise umbrella's tickets").text
    assert tickets["recent"][0]["untrusted_text"]
    quiet = json.loads(registry.call("quiet_accounts_list", {"days": 30}, ctx).content)
    assert quiet["count"] == len(quiet["accounts"])
