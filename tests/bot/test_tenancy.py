"""One deployment serves one organisation; OAuth tokens are encrypted at rest (bot/tenancy.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, text

from bot.app import SlackSetupError, create_app
from bot.harness import FakeSlack, SlackDriver
from bot.tenancy import (
    OTHER_ORG_MESSAGE,
    EncryptedInstallationStore,
    Tenant,
    TenantError,
    token_cipher,
)
from tests.utils.slack_e2e import driving, e2e_settings
from tools import db

KEY = Fernet.generate_key().decode()
OURS, THEIRS = "T0TEST", "T0OTHER"  # T0TEST: the fake Slack's auth.test team


@pytest.fixture(scope="module")
def other_team(slack_server: FakeSlack, demo_engine: Engine) -> Iterator[SlackDriver]:
    with driving(slack_server, demo_engine) as ours:
        yield SlackDriver(ours.url, "e2e-signing-secret", fake=slack_server, team_id=THEIRS)


def quiet(fake: FakeSlack) -> None:
    time.sleep(0.3)  # lazy listeners of a request that got through would have posted by now


def test_a_request_from_another_team_gets_no_account_data(
    other_team: SlackDriver, fake: FakeSlack
) -> None:
    answer = other_team.command("/health", "acme")
    assert answer.status == 200
    assert answer.json()["text"] == OTHER_ORG_MESSAGE
    other_team.event({"type": "app_home_opened", "user": "U0CSM001", "tab": "home"})
    other_team.action("health_propose_expansion", "1")
    quiet(fake)
    assert [c.method for c in fake.calls] == []


def test_the_configured_team_is_served_and_others_are_not(
    slack_server: FakeSlack, demo_engine: Engine
) -> None:
    settings = e2e_settings(slack_server, slack_team_id="T0ELSEWHERE")
    with driving(slack_server, demo_engine, settings=settings) as ours:
        refused = ours.command("/health", "acme")  # T0TEST is not T0ELSEWHERE
    assert refused.json()["text"] == OTHER_ORG_MESSAGE
    assert Tenant(enterprise_id="E1").admits(team_id="T9", enterprise_id="E1")
    assert not Tenant(team_id="T1").admits(team_id="T2", enterprise_id=None)
    assert not Tenant().admits(team_id=None, enterprise_id=None)


def installation(team: str, token: str = "xoxb-secret-token-1") -> Installation:
    return Installation(
        app_id="A1", team_id=team, user_id="U1", bot_token=token, bot_id="B1",
        bot_user_id="U0BOT", bot_scopes=["chat:write"], user_token="xoxp-secret-user-1",
        bot_refresh_token="xoxe-1-refresh-secret", installed_at=time.time(),
    )  # fmt: skip


def test_tokens_are_encrypted_at_rest_and_other_orgs_cannot_install(
    sqlite_engine: Engine,
) -> None:
    store = EncryptedInstallationStore(
        client_id="111.222", engine=sqlite_engine, cipher=token_cipher(KEY), tenant=Tenant(OURS)
    )
    store.metadata.create_all(sqlite_engine)
    store.save(installation(OURS))
    with pytest.raises(TenantError):
        store.save(installation(THEIRS))
    with sqlite_engine.connect() as conn:
        stored = [
            json.dumps([str(v) for v in row])
            for table in ("slack_installations", "slack_bots")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ]
    assert stored
    assert all("secret" not in row for row in stored)
    assert all("xoxb-" not in row and "xoxp-" not in row for row in stored)
    bot = store.find_bot(enterprise_id=None, team_id=OURS)
    assert bot is not None
    assert bot.bot_token == "xoxb-secret-token-1"
    found = store.find_installation(enterprise_id=None, team_id=OURS)
    assert found is not None
    assert found.user_token == "xoxp-secret-user-1"
    assert store.find_bot(enterprise_id=None, team_id=THEIRS) is None


def test_oauth_needs_a_team_and_a_key(sqlite_engine: Engine, slack_server: FakeSlack) -> None:
    base = {"slack_client_id": "111.222", "slack_client_secret": "s3cr3t-client"}
    factory = db.session_factory(sqlite_engine)
    with pytest.raises(SlackSetupError, match="SLACK_TEAM_ID"):
        create_app(e2e_settings(slack_server, token_encryption_key=KEY, **base),
                   session_factory=factory)  # fmt: skip
    with pytest.raises(SlackSetupError, match="TOKEN_ENCRYPTION_KEY"):
        create_app(e2e_settings(slack_server, slack_team_id=OURS, **base), session_factory=factory)


def test_the_migration_encrypts_plain_tokens_left_from_before(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path}/old.db")
    plain = EncryptedInstallationStore(
        client_id="111.222", engine=engine, cipher=token_cipher(KEY), tenant=Tenant(OURS)
    )
    plain.metadata.create_all(engine)
    SQLAlchemyInstallationStore(client_id="111.222", engine=engine).save(  # as version 1 did
        installation(OURS, token="xoxb-plain-old")
    )
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", KEY)
    db.upgrade(engine)
    with engine.connect() as conn:
        tokens = [
            *conn.execute(text("SELECT bot_token FROM slack_bots")).scalars(),
            *conn.execute(text("SELECT user_token FROM slack_installations")).scalars(),
        ]
    assert tokens
    assert all(t.startswith("gAAAAA") for t in tokens)
    bot = plain.find_bot(enterprise_id=None, team_id=OURS)
    assert bot is not None
    assert bot.bot_token == "xoxb-plain-old"
    engine.dispose()
