"""Work logged from Slack end to end: ``/log``, the "Log to account" shortcut and its modal,
``/health``'s latest interactions, and ``/csbot subscribe`` — signed requests, real app."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from bot import alert_action_blocks as ab
from bot.harness import FakeSlack, SlackDriver
from tests.utils.alert_world import AS_OF, OWNER, at, customer
from tests.utils.slack_e2e import all_text, driving, e2e_settings
from tools import db
from tools.models import Interaction
from tools.models_followup import AlertSubscription
from tools.scoring import account_report
from tools.scoring_config import load_config

CONFIG = load_config()


@pytest.fixture
def quiet_id(sqlite_engine: Engine) -> int:
    with db.session_factory(sqlite_engine)() as session:
        quiet = customer(session, name="Quiet Co", segment="enterprise", last_touch_days=45)
        customer(session, name="Other")
        session.commit()
        assert quiet.id is not None
        return quiet.id


@pytest.fixture
def drv(fake: FakeSlack, sqlite_engine: Engine, quiet_id: int) -> Iterator[SlackDriver]:
    with driving(
        fake, sqlite_engine, settings=e2e_settings(fake), clock=lambda: at(AS_OF, 11)
    ) as d:
        yield d


def _recency(engine: Engine, account_id: int) -> float | None:
    with db.session_factory(engine)() as session:
        report = account_report(session, account_id=account_id, as_of=AS_OF, config=CONFIG)
    return next(s.raw for s in report.health.signals if s.key == "interaction_recency")


def test_log_command_records_a_call_that_moves_the_signal(
    drv: SlackDriver, fake: FakeSlack, sqlite_engine: Engine, quiet_id: int
) -> None:
    assert _recency(sqlite_engine, quiet_id) == 45
    response = drv.command("/log", "Quiet Co call Renewal call with Jo Champion <!here>")
    assert response.status == 200
    (reply,) = fake.wait_for("response_url")
    text = all_text(reply)
    assert "Logged a *call* with Jo Champion on *Quiet Co*" in text
    assert "<!here>" not in text
    assert "&lt;!here&gt;" in text
    assert _recency(sqlite_engine, quiet_id) == 0
    drv.command("/health", "Quiet Co")
    (card,) = fake.wait_for("response_url", 2)[1:]
    assert "Latest interactions" in all_text(card)
    assert f"<@{OWNER}>" in all_text(card)


def test_log_command_explains_what_it_needs(drv: SlackDriver, fake: FakeSlack) -> None:
    drv.command("/log", "Quiet Co lunch")
    (first,) = fake.wait_for("response_url")
    drv.command("/log", "Nowhere Inc call x")
    second = fake.wait_for("response_url", 2)[-1]
    assert "/log &lt;account&gt;" in all_text(first)  # escaped by the output boundary
    assert "couldn't find an account" in all_text(second)


def test_the_shortcut_opens_a_modal_and_logs_the_message(
    drv: SlackDriver, fake: FakeSlack, sqlite_engine: Engine, quiet_id: int
) -> None:
    drv.message_shortcut(ab.SHORTCUT_LOG, "Customer says: renewal is on track")
    (opened,) = fake.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == ab.VIEW_LOG
    assert "renewal is on track" in json.dumps(view["blocks"])
    values = {
        ab.BLOCK_ACCOUNT: {ab.INPUT_ACCOUNT: {"type": "plain_text_input", "value": "quiet co"}},
        ab.BLOCK_KIND: {
            ab.INPUT_KIND: {"type": "static_select", "selected_option": {"value": "email"}}
        },
        ab.BLOCK_TEXT: {ab.INPUT_TEXT: {"type": "plain_text_input", "value": "renewal on track"}},
    }
    for _ in range(2):  # the same view submitted twice logs once
        assert (
            drv.view_submission(ab.VIEW_LOG, values, view["private_metadata"], view_id="V1").status
            == 200
        )
    receipt, again = fake.wait_for("chat.postEphemeral", 2)
    assert "Logged an *email*" in all_text(receipt)
    assert "Already logged" in all_text(again)
    with db.session_factory(sqlite_engine)() as session:
        logged = session.exec(select(Interaction).where(Interaction.logged_by == OWNER)).all()
    assert [(i.kind, i.summary) for i in logged] == [("email", "renewal on track")]
    assert _recency(sqlite_engine, quiet_id) == 0


def test_the_modal_names_an_unknown_account(drv: SlackDriver) -> None:
    values = {
        ab.BLOCK_ACCOUNT: {ab.INPUT_ACCOUNT: {"type": "plain_text_input", "value": "zzz"}},
        ab.BLOCK_KIND: {ab.INPUT_KIND: {"selected_option": {"value": "call"}}},
        ab.BLOCK_TEXT: {ab.INPUT_TEXT: {"value": ""}},
    }
    answer = drv.view_submission(ab.VIEW_LOG, values, "{}").json()
    assert answer["response_action"] == "errors"
    assert ab.BLOCK_ACCOUNT in answer["errors"]


def test_csbot_subscribe_stores_and_lists(
    drv: SlackDriver, fake: FakeSlack, sqlite_engine: Engine
) -> None:
    replies = []
    for n, text in enumerate(("mine dm", "segment:enterprise", "segment:nowhere"), start=1):
        drv.command("/csbot", f"subscribe {text}")  # one at a time: lazy replies race
        replies.append(fake.wait_for("response_url", n)[-1])
    ok_mine, ok_segment, refused = replies
    assert "Subscribed to `mine` by dm" in all_text(ok_mine)
    assert "segment:enterprise" in all_text(ok_segment)
    assert "no segment called" in all_text(refused)
    with db.session_factory(sqlite_engine)() as session:
        rows = session.exec(select(AlertSubscription)).all()
    assert sorted((r.scope, r.delivery) for r in rows) == [
        ("mine", "dm"),
        ("segment:enterprise", "dm"),
    ]


def test_someone_else_cannot_log_work_on_an_owned_account(
    drv: SlackDriver, fake: FakeSlack, sqlite_engine: Engine, quiet_id: int
) -> None:
    drv.command("/log", "Quiet Co call pretend we talked", user_id="U0STRANGER")
    (reply,) = fake.wait_for("response_url")
    assert "Only the account's owner" in all_text(reply)
    assert _recency(sqlite_engine, quiet_id) == 45


def test_app_home_sends_my_alerts_by_dm(
    drv: SlackDriver, fake: FakeSlack, sqlite_engine: Engine
) -> None:
    drv.action(ab.ACTION_MINE_DM, "dm", view={"id": "V0HOME", "type": "home"})
    (published,) = fake.wait_for("views.publish")
    assert "`mine` by dm" in json.dumps(published.params.get("view"))
    with db.session_factory(sqlite_engine)() as session:
        (row,) = session.exec(select(AlertSubscription)).all()
    assert (row.user_id, row.scope, row.delivery) == (OWNER, "mine", "dm")
