"""Work logged from Slack feeds the interaction-recency and stakeholder signals."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.utils.alert_world import AS_OF, OWNER, at, customer
from tools.interactions import (
    InteractionError,
    latest_interactions,
    log_command_readings,
    log_interaction,
)
from tools.scoring import account_report
from tools.scoring_config import load_config

CONFIG = load_config()


def _signal(session: Session, account_id: int, key: str) -> float | None:
    report = account_report(session, account_id=account_id, as_of=AS_OF, config=CONFIG)
    return next((s.raw for s in report.health.signals if s.key == key), None)


def test_a_logged_call_resets_interaction_recency(session: Session) -> None:
    quiet = customer(session, name="Quiet", last_touch_days=60)
    assert quiet.id is not None
    before = _signal(session, quiet.id, "interaction_recency")
    logged = log_interaction(
        session,
        account_id=quiet.id,
        kind="call",
        text="Renewal check-in",
        logged_by=OWNER,
        key="T1",
        now=at(AS_OF, 9),
    )
    assert logged.created
    assert logged.meaningful
    after = _signal(session, quiet.id, "interaction_recency")
    assert before == 60
    assert after == 0


def test_a_note_is_kept_but_does_not_count_as_meaningful(session: Session) -> None:
    quiet = customer(session, name="Quiet", last_touch_days=60)
    assert quiet.id is not None
    log_interaction(
        session, account_id=quiet.id, kind="note", text="x", logged_by=OWNER, key="N", now=at(AS_OF)
    )
    assert _signal(session, quiet.id, "interaction_recency") == 60
    (latest,) = latest_interactions(session, account_id=quiet.id, limit=1)
    assert (latest.kind, latest.logged_by, latest.meaningful) == ("note", OWNER, False)


def test_naming_the_champion_counts_as_stakeholder_engagement(session: Session) -> None:
    quiet = customer(session, name="Quiet", champion="Ana Ruiz", last_touch_days=60)
    assert quiet.id is not None
    report = account_report(session, account_id=quiet.id, as_of=AS_OF, config=CONFIG)
    engaged_before = report.health.signals
    logged = log_interaction(
        session,
        account_id=quiet.id,
        kind="meeting",
        text="Roadmap meeting with ana ruiz and her team",
        logged_by=OWNER,
        key="M1",
        now=at(AS_OF, 8),
    )
    assert logged.contact_name == "Ana Ruiz"
    after = account_report(session, account_id=quiet.id, as_of=AS_OF, config=CONFIG)
    old = next(s for s in engaged_before if s.key == "stakeholder")
    new = next(s for s in after.health.signals if s.key == "stakeholder")
    assert new.score is not None
    assert old.score is not None
    assert new.score > old.score


def test_the_same_request_logs_once(session: Session) -> None:
    acme = customer(session, name="Acme")
    assert acme.id is not None
    args = {"account_id": acme.id, "kind": "email", "text": "t", "logged_by": OWNER}
    first = log_interaction(session, key="same", now=at(AS_OF), **args)  # type: ignore[arg-type]
    second = log_interaction(session, key="same", now=at(AS_OF), **args)  # type: ignore[arg-type]
    assert (first.created, second.created) == (True, False)
    assert first.interaction_id == second.interaction_id


def test_unknown_kinds_are_refused(session: Session) -> None:
    acme = customer(session, name="Acme")
    assert acme.id is not None
    with pytest.raises(InteractionError):
        log_interaction(
            session,
            account_id=acme.id,
            kind="lunch",
            text="",
            logged_by=OWNER,
            key="k",
            now=at(AS_OF),
        )


def test_log_command_readings_try_every_kind_word() -> None:
    assert log_command_readings("Call Center Inc call Spoke to Jo") == [
        ("Call Center Inc", "call", "Spoke to Jo"),
    ]
    assert log_command_readings("acme note call later") == [
        ("acme", "note", "call later"),
        ("acme note", "call", "later"),
    ]
    assert log_command_readings("acme") == []
