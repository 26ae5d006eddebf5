"""The demo's new accounts: Vandelay is stuck in onboarding, Pied Piper and Dunder are on track,
and the tour's CSM sees Vandelay first, overdue, in the App Home's onboarding section."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.deps import Deps
from bot.router import home_view
from tools import db
from tools.demo import demo_summary, generate_demo
from tools.demo_facts import account_by_external_id
from tools.onboarding import onboarding_progress
from tools.scoring import account_report
from tools.scoring_config import load_config

TODAY = date(2026, 11, 20)
TOUR_CSM = "U0CSM001"
NEW = ("vandelay", "piedpiper", "dunder")


@pytest.fixture
def demo(sqlite_engine: Engine) -> db.SessionFactory:
    sessions = db.session_factory(sqlite_engine)
    generate_demo(session_factory=sessions, today=TODAY, accounts=24, months=3, seed=7)
    return sessions


def _ids(session: Session) -> dict[str, int]:
    found = {ext: account_by_external_id(session, ext) for ext in NEW}
    assert all(v is not None for v in found.values())
    return {ext: int(v or 0) for ext, v in found.items()}


def test_vandelay_is_stuck_in_onboarding_and_the_others_are_on_track(
    demo: db.SessionFactory,
) -> None:
    config = load_config()
    with demo() as session:
        ids = _ids(session)
        progress = onboarding_progress(
            session, as_of=TODAY, config=config.onboarding, account_ids=list(ids.values())
        )
        stuck = progress[ids["vandelay"]]
        assert stuck.in_onboarding
        assert stuck.age_days == 55
        assert stuck.owner_slack_id == TOUR_CSM
        assert [m.key for m in stuck.overdue] == ["active_users", "key_features"]
        assert stuck.milestones[0].key == "first_activity"
        assert stuck.milestones[0].status == "done"
        assert stuck.time_to_first_value_days is None
        for ext, age in (("piedpiper", 20), ("dunder", 75)):
            fine = progress[ids[ext]]
            assert fine.in_onboarding, ext
            assert fine.age_days == age, ext
            assert fine.overdue == [], ext
            assert fine.time_to_first_value_days is not None, ext

        report = account_report(session, account_id=ids["vandelay"], as_of=TODAY, config=config)
        assert report.account.lifecycle_stage == "onboarding"
        trigger = next(t for t in report.churn.triggers if t.key == "onboarding_overdue")
        assert "'5 active users' due" in trigger.evidence
        assert "'3 features adopted' due" in trigger.evidence
        # the card reads as stuck too: not GREEN, usage not rising, adoption measured (low)
        assert report.health.band != "GREEN"
        signals = {s.key: s for s in report.health.signals}
        assert signals["adoption"].score is not None
        assert signals["adoption"].score < 50
        assert signals["usage_trend"].score is not None
        assert signals["usage_trend"].score < 75
        for ext in ("piedpiper", "dunder"):
            other = account_report(session, account_id=ids[ext], as_of=TODAY, config=config)
            assert "onboarding_overdue" not in [t.key for t in other.churn.triggers], ext

        facts = {f.external_id: f.fact for f in demo_summary(session, TODAY).stories}
        assert facts["vandelay"].startswith("day 55 of onboarding, 1/4 milestones")
        assert facts["vandelay"].endswith("overdue: 5 active users, 3 features adopted")


def test_the_tour_csm_sees_vandelay_first_and_overdue_in_the_app_home(
    demo: db.SessionFactory,
) -> None:
    deps = Deps(
        settings=Settings(_env_file=None),
        sessions=demo,
        clock=lambda: datetime.combine(TODAY, time(9), tzinfo=UTC),
        config=load_config(),
    )
    blocks = home_view(TOUR_CSM, deps)["blocks"]
    texts = [str(b.get("text", {}).get("text", "")) for b in blocks]
    start = next(i for i, t in enumerate(texts) if t.startswith("Onboarding ("))
    assert "1 overdue" in texts[start]
    lines = texts[start + 1].splitlines()
    assert lines[0].startswith("• *Vandelay Industries* — day 55, 1/4 milestones")
    due = TODAY - timedelta(days=55) + timedelta(days=30)
    assert f"⚠️ overdue: 5 active users (due {due:%-d %b})" in lines[0]
    assert any("*Pied Piper*" in line and "overdue" not in line for line in lines)
    assert any("*Dunder Mifflin*" in line and "overdue" not in line for line in lines)
