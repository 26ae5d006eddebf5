"""The fast paths give exactly what the plain paths give.

- a portfolio scan stores, for every account, the score, band, drivers and triggers that the
  single-account calls (``health_score_for``, ``account_report``) compute;
- Lean findings for one account (with the cached portfolio median) equal the portfolio's.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlmodel import col

from tools import db
from tools.db import SessionFactory
from tools.demo import generate_demo
from tools.facts import Caches, MedianCache
from tools.health import health_score_for
from tools.lean import lean_findings
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot
from tools.scoring import account_report, book_reports, scan_portfolio
from tools.scoring_config import load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()


@pytest.fixture
def demo(sessions: SessionFactory) -> list[int]:
    generate_demo(session_factory=sessions, today=TODAY, accounts=40, months=5)
    with sessions() as s:
        return sorted(int(a) for a in s.execute(select(col(Account.id))).scalars())


def test_scan_matches_single_account_calls(sessions: SessionFactory, demo: list[int]) -> None:
    with sessions() as s:
        scan_portfolio(s, as_of=TODAY, config=CONFIG)
    with sessions() as s:
        snapshots = {
            snap.account_id: snap
            for snap in s.execute(
                select(HealthSnapshot).where(col(HealthSnapshot.day) == TODAY)
            ).scalars()
        }
        stored = {
            (t.account_id, t.key, t.severity, t.evidence)
            for t in s.execute(
                select(ChurnTriggerRecord).where(col(ChurnTriggerRecord.day) == TODAY)
            ).scalars()
        }
        assert snapshots
        fired = set()
        for account_id, snap in snapshots.items():
            health = health_score_for(s, account_id=account_id, as_of=TODAY, config=CONFIG)
            assert health.score == snap.score
            assert health.band.value == snap.band
            assert [(d.signal, d.text, d.impact) for d in health.drivers] == [
                (d["signal"], d["text"], d["impact"]) for d in snap.drivers
            ]
            assert [(sig.key, sig.raw, sig.score, sig.contribution) for sig in health.signals] == [
                (d["key"], d["raw"], d["score"], d["contribution"]) for d in snap.signals
            ]
            report = account_report(s, account_id=account_id, as_of=TODAY, config=CONFIG)
            assert report.churn.level.value == snap.churn_level
            fired |= {
                (account_id, t.key, t.severity.value, t.evidence) for t in report.churn.triggers
            }
        assert fired == stored


def test_lean_for_one_account_equals_the_portfolio(engine: Engine, demo: list[int]) -> None:
    cached = MedianCache()
    warm = db.session_factory(engine, caches=Caches(cached))
    with warm() as s:
        everyone = lean_findings(s, as_of=TODAY, config=CONFIG)
        for account_id in demo:
            one = lean_findings(s, as_of=TODAY, config=CONFIG, account_ids=[account_id])
            assert one.get(account_id) == everyone.get(account_id)
    assert len(cached) == 1, "the portfolio median was cached for the single-account calls"
    cold = db.session_factory(engine)
    with cold() as s:  # cold cache: the single-account call computes the median itself
        for account_id in demo[:5]:
            one = lean_findings(s, as_of=TODAY, config=CONFIG, account_ids=[account_id])
            assert one.get(account_id) == everyone.get(account_id)
    assert any(f.kind == "muri" for fs in everyone.values() for f in fs)


def test_book_reports_match_the_single_account_report(
    sessions: SessionFactory, demo: list[int]
) -> None:
    with sessions() as session:
        book = book_reports(session, as_of=TODAY, config=CONFIG, account_ids=demo)
        assert book, "the demo has active accounts"
        assert [r.account.account_id for r in book] == [
            a for a in demo if a in {r.account.account_id for r in book}
        ], "the caller's order is kept"
        for light in book[:8]:
            full = account_report(
                session, account_id=light.account.account_id, as_of=TODAY, config=CONFIG
            )
            assert (light.health.score, light.health.band) == (full.health.score, full.health.band)
            assert light.churn == full.churn
            assert light.account == full.account
