"""End-to-end fixtures for the bot tests: one fake Slack per module (reset before every test),
one seeded demo database per module, the real app served once per module, a fake Claude."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.harness import FakeSlack, SlackDriver
from bot.harness.fake_anthropic import FakeMessagesAPI
from tests.utils.demo_db import demo_database
from tests.utils.slack_e2e import TODAY, driving
from tests.utils.tiny_slack_app import TOKEN
from tools import db


@pytest.fixture(scope="module")
def slack_server() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def fake(slack_server: FakeSlack) -> FakeSlack:
    """The module's fake Slack Web API, with no calls, errors or pending failures recorded."""
    slack_server.reset()
    return slack_server


@pytest.fixture(scope="module")
def demo_engine(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """A seeded demo portfolio as of TODAY, one per test module (``DEMO_ACCOUNTS`` in the module
    sets its size; 30 by default)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    accounts = getattr(request.module, "DEMO_ACCOUNTS", 30)
    yield from demo_database(tmp_path_factory, name, today=TODAY, accounts=accounts)


@pytest.fixture(scope="module")
def driver(slack_server: FakeSlack, demo_engine: Engine) -> Iterator[SlackDriver]:
    """The real app on the demo database, served once per module (no Claude, no Notion)."""
    with driving(slack_server, demo_engine) as served:
        yield served


@pytest.fixture
def claude() -> FakeMessagesAPI:
    return FakeMessagesAPI()


@pytest.fixture
def sqlite_sessions(sqlite_engine: Engine) -> db.SessionFactory:
    """Sessions on a fresh SQLite database (tests that need no PostgreSQL run)."""
    return db.session_factory(sqlite_engine)


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """A Web API client pointed at the fake Slack."""
    return WebClient(token=TOKEN, base_url=fake.url)
