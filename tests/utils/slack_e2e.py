"""The end-to-end Slack kit shared by the test modules: one signing secret, token and clock, the
real app served on loopback behind a signed driver, and helpers that read what FakeSlack got."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlalchemy import Engine
from sqlmodel import select

from bot.app import create_app
from bot.config import Settings
from bot.harness import FakeSlack, SlackCall, SlackDriver, serve_app
from tools import db
from tools.models import Account

SECRET = "e2e-signing-secret"
TOKEN = "xoxb-e2e-test"
TODAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def e2e_settings(fake: FakeSlack, **overrides: Any) -> Settings:
    """Settings for an app that talks to ``fake`` and verifies requests signed with SECRET."""
    return Settings(
        _env_file=None,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.url,
        **overrides,
    )


@contextmanager
def driving(
    fake: FakeSlack,
    engine: Engine,
    *,
    settings: Settings | None = None,
    clock: Callable[[], datetime] = lambda: NOW,
    **app_options: Any,
) -> Iterator[SlackDriver]:
    """Serve the real Bolt app on ``engine`` (clock at NOW unless given) and yield a signed
    driver for it."""
    app = create_app(
        settings or e2e_settings(fake),
        session_factory=db.session_factory(engine),
        clock=clock,
        client=WebClient(token=TOKEN, base_url=fake.url),
        **app_options,
    )
    with serve_app(app) as served:
        yield SlackDriver(served.url, SECRET, fake=fake)


def account_id(engine: Engine, external_id: str) -> int:
    with db.session_factory(engine)() as session:
        account = session.exec(select(Account).where(Account.external_id == external_id)).one()
        assert account.id is not None
        return account.id


def all_text(call: SlackCall) -> str:
    """Every string inside the call's blocks, plus its fallback text."""
    found: list[str] = [call.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(call.blocks)
    return "\n".join(found)


def assert_valid(call: SlackCall, max_blocks: int = 50) -> None:
    assert call.blocks, f"{call.method} carried no blocks"
    assert len(call.blocks) <= max_blocks
    for block in call.blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.to_dict()


def button_values(call: SlackCall) -> dict[str, str]:
    return {
        e["action_id"]: e.get("value", "")
        for b in call.blocks
        for e in ([b["accessory"]] if "accessory" in b else b.get("elements", []))
        if isinstance(e, dict) and e.get("type") == "button"
    }
