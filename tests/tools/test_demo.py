"""The seeded demo portfolio: reproducible, realistic, and its named stories hold."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, SQLModel, col, select
from typer.testing import CliRunner

from bot.cli import app
from tools import db
from tools.demo import (
    STORIES,
    DemoDatabaseNotEmptyError,
    DemoError,
    DemoReport,
    demo_summary,
    generate_demo,
)
from tools.demo_facts import account_by_external_id, latest_contract, seats_used, weekly_peaks
from tools.models import (
    Account,
    Contact,
    Contract,
    Feature,
    FeatureUsage,
    Interaction,
    Invoice,
    NpsResponse,
    Ticket,
    UsageDaily,
)

TODAY = date(2026, 11, 20)
NOW = datetime.combine(TODAY, time(0), UTC)
DEMO_TABLES = (
    "account",
    "contract",
    "contact",
    "feature",
    "usage_daily",
    "feature_usage",
    "ticket",
    "nps_response",
    "invoice",
    "interaction",
)


def _generate(sessions: db.SessionFactory, **kwargs: Any) -> DemoReport:
    options: dict[str, Any] = {"accounts": 24, "months": 3, "seed": 7} | kwargs
    return generate_demo(session_factory=sessions, today=TODAY, **options)


def _dump(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every demo table without surrogate ids of its own (feature ids become keys), sorted."""
    feature_keys = dict(session.exec(select(Feature.key, Feature.id)).all())
    key_of = {fid: key for key, fid in feature_keys.items()}
    dump = {}
    for name in DEMO_TABLES:
        table = SQLModel.metadata.tables[name]
        rows = []
        for row in session.connection().execute(table.select()).mappings():
            values = dict(row)
            if name not in {"account", "contact"}:  # ids the demo does not choose
                values.pop("id")
            if "feature_id" in values:
                values["feature_id"] = key_of[values["feature_id"]]
            rows.append(tuple(sorted(values.items())))
        dump[name] = sorted(rows, key=repr)
    return dump


def test_same_seed_and_day_give_the_same_rows(sessions: db.SessionFactory) -> None:
    first = _generate(sessions)
    with sessions() as s:
        before = _dump(s)
    second = _generate(sessions, reset=True)
    with sessions() as s:
        after = _dump(s)
    assert first.rows == second.rows
    assert before == after
    assert all(before[name] for name in DEMO_TABLES)
    _generate(sessions, seed=8, reset=True)
    with sessions() as s:
        assert _dump(s)["usage_daily"] != before["usage_daily"]


def test_refuses_a_database_that_holds_accounts(sessions: db.SessionFactory) -> None:
    _generate(sessions, accounts=12, months=1)
    with pytest.raises(DemoDatabaseNotEmptyError, match="already holds 12 accounts"):
        _generate(sessions, accounts=12, months=1)


def test_refuses_fewer_accounts_than_stories(sessions: db.SessionFactory) -> None:
    with pytest.raises(DemoError, match="at least"):
        _generate(sessions, accounts=len(STORIES) - 1)


def _account(session: Session, external_id: str) -> int:
    account_id = account_by_external_id(session, external_id)
    assert account_id is not None, external_id
    return account_id


def test_named_stories_hold_their_facts(sessions: db.SessionFactory) -> None:
    _generate(sessions)
    with sessions() as s:
        acme = _account(s, "acme")
        contract = latest_contract(s, acme)
        assert 40 <= (contract.end_date - TODAY).days <= 50
        assert seats_used(s, acme, TODAY) < 0.5 * contract.seats_purchased
        assert Decimal(150_000) <= contract.arr <= Decimal(210_000)
        assert s.exec(select(Account.segment).where(Account.id == acme)).one() == "enterprise"

        globex = _account(s, "globex")
        champion = s.exec(
            select(Contact).where(Contact.account_id == globex, Contact.role == "champion")
        ).one()
        assert champion.left_on is not None
        assert 28 <= (TODAY - champion.left_on).days <= 42
        since = s.exec(
            select(Interaction).where(
                Interaction.account_id == globex,
                Interaction.occurred_at >= NOW - timedelta(days=35),
                col(Interaction.meaningful).is_(True),
            )
        ).all()
        assert since == []

        initech = _account(s, "initech")
        cap = latest_contract(s, initech).seats_purchased
        assert sum(p > cap for p in weekly_peaks(s, initech, TODAY, 8)) >= 6
        used = set(
            s.exec(
                select(Feature.key)
                .join(FeatureUsage, col(FeatureUsage.feature_id) == Feature.id)
                .where(FeatureUsage.account_id == initech, FeatureUsage.users > 20)
            )
        )
        assert {"api", "advanced_analytics"} <= used

        umbrella = _account(s, "umbrella")
        tickets = list(s.exec(select(Ticket).where(Ticket.account_id == umbrella)))
        urgent_open = [
            t
            for t in tickets
            if t.priority == "urgent" and t.status == "open" and t.opened_at < NOW - timedelta(7)
        ]
        assert len(urgent_open) >= 3
        assert any(t.escalated for t in tickets)
        recent = [t for t in tickets if t.opened_at >= NOW - timedelta(days=30)]
        assert statistics.mean(t.sentiment or 0 for t in recent) < -0.2
        assert len(recent) > 0.15 * seats_used(s, umbrella, TODAY)

        hooli = _account(s, "hooli")
        peaks = weekly_peaks(s, hooli, TODAY, 12)
        assert peaks.count(0) >= 2
        busy = [p for p in peaks if p]
        assert statistics.pstdev(busy) / statistics.mean(busy) > 0.25

        for healthy in ("stark", "wayne", "wonka"):
            account_id = _account(s, healthy)
            contract = latest_contract(s, account_id)
            assert seats_used(s, account_id, TODAY) > 0.75 * contract.seats_purchased
            overdue = s.exec(
                select(Invoice).where(Invoice.account_id == account_id, Invoice.status == "overdue")
            ).all()
            assert overdue == []


def test_summary_counts_and_tells_every_story(sessions: db.SessionFactory) -> None:
    _generate(sessions)
    with sessions() as s:
        summary = demo_summary(s, TODAY)
    assert summary.accounts == 24
    assert sum(summary.accounts_by_segment.values()) == summary.active_accounts
    assert summary.total_arr > 0
    assert [f.external_id for f in summary.stories] == [s.external_id for s in STORIES]
    acme = summary.stories[0].fact
    assert acme.startswith("renews in 45 days")
    assert "of 500 seats unused" in acme


def _by_account(rows: list[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.account_id].append(row)
    return grouped


def test_default_portfolio_is_realistic(sessions: db.SessionFactory) -> None:
    report = generate_demo(session_factory=sessions, today=TODAY)
    assert report.accounts >= 200
    with sessions() as s:
        accounts = list(s.exec(select(Account)))
        contracts = _by_account(list(s.exec(select(Contract))))
        features = list(s.exec(select(Feature)))
        assert len(accounts) == report.accounts
        assert {a.segment for a in accounts} == {"enterprise", "mid-market", "smb"}
        assert len({a.owner_slack_id for a in accounts}) >= 4
        assert len(features) >= 10
        assert {f.key for f in features if f.is_integration} == {"api", "salesforce_sync"}
        assert {f.tier for f in features} == {"starter", "pro", "enterprise"}

        churned, upsold, renewal_months = [], [], set()
        for account in accounts:
            history = sorted(contracts[account.id or 0], key=lambda c: c.end_date)
            last = history[-1]
            assert all(isinstance(c.arr, Decimal) for c in history)
            if last.status == "churned":
                assert last.end_date < TODAY
                assert account.lifecycle_stage == "churned"
                churned.append(account.id)
            else:
                assert TODAY < last.end_date <= TODAY + timedelta(days=366)
                renewal_months.add((last.end_date.year, last.end_date.month))
            if len(history) > 1 and last.seats_purchased > history[-2].seats_purchased:
                assert last.arr > history[-2].arr
                upsold.append(account.id)
        assert len(churned) >= 0.05 * len(accounts)
        assert len(upsold) >= 0.05 * len(accounts)
        assert len(renewal_months) >= 11

        usage = list(s.exec(select(UsageDaily.account_id, UsageDaily.day, UsageDaily.logins)))
        assert _churners_decline(usage, churned, contracts)
        mondays = {d.weekday() for d in s.exec(select(FeatureUsage.day).distinct())}
        assert mondays == {0}
        stamps = [
            *(a.created_at for a in accounts),
            *s.exec(select(Ticket.opened_at)),
            *s.exec(select(NpsResponse.responded_at)),
            *s.exec(select(Interaction.occurred_at)),
            *s.exec(
                select(Contact.last_engaged_at).where(col(Contact.last_engaged_at).is_not(None))
            ),
        ]
        assert all(ts is not None and ts.utcoffset() == timedelta(0) for ts in stamps)
        assert max(ts for ts in stamps if ts is not None) < NOW
        invoices = list(s.exec(select(Invoice.status, Invoice.amount)))
        assert {status for status, _ in invoices} >= {"paid", "overdue"}
        assert all(isinstance(amount, Decimal) for _, amount in invoices)
        roles = set(s.exec(select(Contact.role).distinct()))
        assert roles == {"champion", "decision_maker", "executive_sponsor", "admin", "user"}


def _churners_decline(
    usage: list[Any], churned: list[int | None], contracts: dict[int, list[Contract]]
) -> bool:
    """Most churners log in less in the 6 weeks before churn than 3 months earlier."""
    by_account = _by_account(usage)
    declined = compared = 0
    for account_id in churned:
        assert account_id is not None
        end = max(c.end_date for c in contracts[account_id])
        rows = by_account[account_id]
        late = sum(r.logins for r in rows if end - timedelta(42) <= r.day < end)
        early = sum(r.logins for r in rows if end - timedelta(126) <= r.day < end - timedelta(84))
        if early:
            compared += 1
            declined += late < early
    return compared >= 5 and declined / compared >= 0.6


def test_csbot_demo_generates_then_reuses(tmp_path: Path) -> None:
    runner = CliRunner()
    target = str(tmp_path / "demo.db")
    first = runner.invoke(app, ["demo", "--accounts", "12", "--months", "2", "--db", target])
    assert first.exit_code == 0, first.output
    assert "Generated 12 accounts" in first.output
    assert "Acme Corp" in first.output
    assert "Total ARR" in first.output
    again = runner.invoke(app, ["demo", "--accounts", "12", "--months", "2", "--db", target])
    assert again.exit_code == 0, again.output
    assert "already holds 12 accounts" in again.output
