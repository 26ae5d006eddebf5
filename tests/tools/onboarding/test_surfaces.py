"""Onboarding where people see it: the churn trigger in reports, the App Home, the stage."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session

from bot.onboarding_blocks import onboarding_home, time_to_value_lines
from tests.tools.onboarding.test_progress import CONFIG, START, features, new_account
from tests.utils.factories import add_feature_usage, add_usage
from tools import db
from tools.agent_tools import default_registry
from tools.onboarding import onboarding_progress, time_to_value_by_cohort
from tools.registry import ToolContext
from tools.scoring import account_report, account_summaries
from tools.scoring_config import load_config

AS_OF = START + timedelta(days=60)


def stuck_and_fine(session: Session) -> tuple[int, int]:
    stuck = new_account(session, "Stuck <Ltd>")
    fine = new_account(session, "fine")
    made = features(session, 3)
    for account in (stuck, fine):
        add_usage(session, account=account, start=START + timedelta(days=1), days=59)
    for feature in made:
        add_feature_usage(session, account=fine, feature=feature, day=START + timedelta(days=7))
    return stuck.id or 0, fine.id or 0


def test_account_report_carries_the_onboarding_trigger(session: Session) -> None:
    stuck, fine = stuck_and_fine(session)
    config = load_config(None)
    report = account_report(session, account_id=stuck, as_of=AS_OF, config=config)
    keys = [t.key for t in report.churn.triggers]
    assert "onboarding_overdue" in keys
    trigger = next(t for t in report.churn.triggers if t.key == "onboarding_overdue")
    assert "'3 features adopted' due 2026-02-19" in trigger.evidence
    assert report.account.lifecycle_stage == "onboarding"
    healthy = account_report(session, account_id=fine, as_of=AS_OF, config=config)
    assert "onboarding_overdue" not in [t.key for t in healthy.churn.triggers]


def test_the_reported_stage_follows_the_configured_windows(session: Session) -> None:
    """Day 60 of a contract renewing in 305 days: onboarding by default; past a 30-day window
    it is "adoption", and "renewal" once the renewal stage starts 320 days out."""
    _, fine = stuck_and_fine(session)
    config = load_config(None)

    def stage(**onboarding: int) -> tuple[str, str]:
        changed = config.model_copy(
            update={"onboarding": config.onboarding.model_copy(update=onboarding)}
        )
        report = account_report(session, account_id=fine, as_of=AS_OF, config=changed)
        summary = account_summaries(session, as_of=AS_OF, account_ids=[fine], config=changed)
        return report.account.lifecycle_stage, summary[fine].lifecycle_stage

    assert stage() == ("onboarding", "onboarding")
    assert stage(window_days=30) == ("adoption", "adoption")
    assert stage(window_days=30, renewal_stage_days=320) == ("renewal", "renewal")


def test_trigger_respects_the_clock(session: Session) -> None:
    stuck, _ = stuck_and_fine(session)
    config = load_config(None)
    early = account_report(
        session, account_id=stuck, as_of=START + timedelta(days=40), config=config
    )
    assert "onboarding_overdue" not in [t.key for t in early.churn.triggers]


def test_home_section_lists_overdue_first_and_escapes_names(session: Session) -> None:
    stuck, fine = stuck_and_fine(session)
    progress = onboarding_progress(
        session, as_of=AS_OF, config=CONFIG, account_ids=[fine, stuck], only_onboarding=True
    )
    blocks = onboarding_home(list(progress.values()))
    assert blocks[0]["text"]["text"] == "Onboarding (2 new accounts, 1 overdue)"
    body = blocks[1]["text"]["text"]
    assert body.index("Stuck &lt;Ltd&gt;") < body.index("*fine*")
    assert "overdue: 3 features adopted (due 19 Feb)" in body
    assert "day 60, 3/4 milestones" in body
    assert onboarding_home([]) == []


def test_team_view_line_shows_the_median_per_cohort(session: Session) -> None:
    stuck_and_fine(session)
    rows = time_to_value_by_cohort(session, as_of=AS_OF, config=CONFIG)
    (block,) = time_to_value_lines(rows)
    assert block["elements"][0]["text"].endswith("2026-01: 1 d (2/2)")


def test_onboarding_status_tool_through_the_registry(
    session: Session, sessions: db.SessionFactory
) -> None:
    stuck_and_fine(session)
    session.commit()
    ctx = ToolContext(sessions=sessions, as_of=AS_OF, config=load_config(None))
    registry = default_registry()
    everyone = json.loads(registry.call("onboarding_status", {}, ctx).content)
    assert (everyone["count"], everyone["overdue"]) == (2, 1)
    assert everyone["accounts"][0]["account"] == "Stuck <Ltd>"
    one = json.loads(registry.call("onboarding_status", {"account": "fine"}, ctx).content)
    assert one["count"] == 1
    assert one["accounts"][0]["time_to_first_value_days"] == 1
    assert registry.call("onboarding_status", {"limit": 0}, ctx).is_error
