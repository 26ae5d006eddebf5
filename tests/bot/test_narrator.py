"""Narratives written by Claude (the real SDK against the fake API), checked, retried, cached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.narrator import ClaudeWriter, alert_narrative
from tests.utils.demo_db import demo_database
from tools import db
from tools.accounts import resolve_account
from tools.alerts import template_narrative
from tools.models import NarrativeRecord
from tools.narrative_check import unsupported_numbers
from tools.narrative_kinds import alert_evidence
from tools.qbr import build_qbr
from tools.results import AccountReport
from tools.scoring import account_report, at_risk_accounts
from tools.scoring_config import load_config

TODAY = date(2026, 11, 2)
CONFIG = load_config(None)


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "narrator", today=TODAY, accounts=20)


@pytest.fixture
def sessions(demo_engine: Engine) -> Iterator[db.SessionFactory]:
    factory = db.session_factory(demo_engine)
    yield factory
    with db.session_scope(factory) as session:  # each test starts with an empty cache
        for record in session.exec(select(NarrativeRecord)).all():
            session.delete(record)


def _risky(session: db.Session) -> AccountReport:
    return at_risk_accounts(session, as_of=TODAY, config=CONFIG, limit=1)[0]


def _writer(fake: FakeMessagesAPI) -> ClaudeWriter:
    return ClaudeWriter(client=fake.client(), model="claude-sonnet-5-5")


def _true_text(report: AccountReport) -> str:
    health = round(report.health.score)
    return (
        f"{report.account.name} has slipped to {health}/100 ({report.health.band.value}). "
        "Reach the sponsor this week."
    )


def test_claude_narrative_with_checked_numbers_is_used_and_cached(
    sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    with db.session_scope(sessions) as session:
        report = _risky(session)
        fake.enqueue_text(json.dumps({"narrative": _true_text(report)}))
        template = template_narrative(report, as_of=TODAY)
        first = alert_narrative(session, report, day=TODAY, template=template, writer=_writer(fake))
    assert first.texts["narrative"] == _true_text(report)
    assert first.label == "written by Claude · numbers checked"
    assert first.model_calls == 1
    request = fake.requests[0]
    assert "tools" not in request
    assert "temperature" not in request
    assert "<evidence>" in request["messages"][0]["content"]

    with db.session_scope(sessions) as session:  # same evidence, same day: no model call
        again = alert_narrative(
            session, _risky(session), day=TODAY, template=template, writer=_writer(fake)
        )
    assert again.cached
    assert again.texts == first.texts
    assert again.model_calls == 0
    assert len(fake.requests) == 1
    assert fake.unscripted_calls == 0


def test_invented_number_is_rejected_regenerated_then_the_template_answers(
    sessions: db.SessionFactory,
) -> None:
    fake = FakeMessagesAPI()
    with db.session_scope(sessions) as session:
        report = _risky(session)
        invented = f"{report.account.name} lost 987 users and $4,321,987 is at stake."
        fake.enqueue_text(json.dumps({"narrative": invented}))
        fake.enqueue_text(json.dumps({"narrative": invented.replace("987 users", "all users")}))
        template = template_narrative(report, as_of=TODAY)
        result = alert_narrative(
            session, report, day=TODAY, template=template, writer=_writer(fake)
        )
        stored = session.exec(select(NarrativeRecord)).one()
    assert result.model_calls == 2 == len(fake.requests)
    retry = fake.requests[1]["messages"][0]["content"]
    assert "987" in retry
    assert "$4,321,987" in retry
    assert "rejected by the number check" in retry
    assert result.texts["narrative"] == template
    assert result.label == "template"
    assert stored.sources == {"narrative": "template"}
    assert "$4,321,987" in stored.rejected


def test_regenerated_text_that_passes_is_kept(sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    with db.session_scope(sessions) as session:
        report = _risky(session)
        fake.enqueue_text(json.dumps({"narrative": "It lost 987 users."}))
        fake.enqueue_text(json.dumps({"narrative": _true_text(report)}))
        result = alert_narrative(
            session,
            report,
            day=TODAY,
            template=template_narrative(report, as_of=TODAY),
            writer=_writer(fake),
        )
    assert result.texts["narrative"] == _true_text(report)
    assert result.source == "claude"
    assert result.rejected == ["987"]


def test_unavailable_claude_falls_back_without_caching(sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    fake.enqueue_error(529)
    fake.enqueue_text("not json at all")
    with db.session_scope(sessions) as session:
        report = _risky(session)
        template = template_narrative(report, as_of=TODAY)
        for _ in range(2):
            result = alert_narrative(
                session, report, day=TODAY, template=template, writer=_writer(fake)
            )
            assert result.texts["narrative"] == template
            assert result.label == "template"
        assert session.exec(select(NarrativeRecord)).all() == []


def test_the_template_passes_its_own_number_check(sessions: db.SessionFactory) -> None:
    """The templates use only evidence numbers too (so Claude restating them passes)."""
    with db.session_scope(sessions) as session:
        for report in at_risk_accounts(session, as_of=TODAY, config=CONFIG, limit=5):
            text = template_narrative(report, as_of=TODAY)
            assert unsupported_numbers(text, alert_evidence(report, as_of=TODAY)) == []


def test_qbr_narratives_in_one_call_with_per_part_fallback(sessions: db.SessionFactory) -> None:
    fake = FakeMessagesAPI()
    with db.session_scope(sessions) as session:
        acme = resolve_account(session, query="acme").id or 0
        base = build_qbr(session, account_id=acme, as_of=TODAY, config=CONFIG)
        parts = {
            "executive_summary": f"{base.account.name} closes {base.quarter} at "
            f"{base.health.score:.0f}/100.",
            "health_summary": "Health is steady.",
            "roi_impact": f"The team logged {base.roi.events:,} product actions.",
            "adoption_scorecard": "Adoption grew 777%.",  # invented
            "expansion_next_steps": "Agree the renewal plan.",
        }
        fake.enqueue_text(json.dumps(parts))
        fake.enqueue_text(json.dumps({"adoption_scorecard": "Adoption grew 778%."}))
        doc = build_qbr(session, account_id=acme, as_of=TODAY, config=CONFIG, writer=_writer(fake))
        report = account_report(session, account_id=acme, as_of=TODAY, config=CONFIG)
    assert len(fake.requests) == 2
    assert doc.executive_summary == parts["executive_summary"]
    assert doc.roi.narrative == parts["roi_impact"]
    assert doc.adoption.narrative == base.adoption.narrative  # the template
    assert "some parts from the template" in doc.narratives_by
    assert report.account.name in doc.executive_summary


def test_daily_scan_alerts_carry_claudes_checked_narrative(sessions: db.SessionFactory) -> None:
    from bot.config import Settings
    from bot.jobs.churn_alerts import plan_churn_alerts
    from bot.narrator import make_alert_narrator

    fake = FakeMessagesAPI()

    def reply(body: dict[str, object]) -> dict[str, object]:
        evidence = str(body["messages"][0]["content"])  # type: ignore[index]
        name = json.loads(evidence.split("<evidence>\n")[1].split("\n</evidence>")[0])["account"]
        return {"content": [{"type": "text", "text": json.dumps({"narrative": f"{name} slid."})}]}

    for _ in range(40):
        fake.enqueue_responder(reply)
    settings = Settings(_env_file=None)
    narrator = make_alert_narrator(sessions, _writer(fake))
    with sessions() as session:
        claims = plan_churn_alerts(
            session, settings=settings, config=CONFIG, day=TODAY, narrator=narrator
        )
    assert claims
    assert len(fake.requests) == len(claims)
    shown = json.dumps(claims[0].payload["blocks"], ensure_ascii=False)
    assert "slid." in shown
    assert "written by Claude · numbers checked" in shown

    keyless = make_alert_narrator(sessions, None)
    with sessions() as session:
        plain = plan_churn_alerts(
            session, settings=settings, config=CONFIG, day=TODAY, narrator=keyless
        )
    assert "_template_" in json.dumps(plain[0].payload["blocks"])
