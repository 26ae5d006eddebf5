"""create_app's wiring: credentials, OAuth on our database, retries, modes, the serve command."""

from __future__ import annotations

import http.client
import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, inspect
from typer.testing import CliRunner

from bot.app import BOT_SCOPES, SlackSetupError, create_app
from bot.cli import app as cli_app
from bot.config import Settings
from bot.harness import FakeSlack, serve_app
from bot.slack_out import SafeWebClient
from tools import db

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_builds_with_rate_limit_retries_and_signature_checks(sqlite_engine: Engine) -> None:
    with FakeSlack() as fake:
        app = create_app(
            settings(slack_bot_token="xoxb-1", slack_signing_secret="s3", slack_api_url=fake.url),
            session_factory=db.session_factory(sqlite_engine),
        )
        assert fake.calls_to("auth.test")  # the token is checked once, at start-up
    assert app.client.base_url == fake.url
    assert any(isinstance(h, RateLimitErrorRetryHandler) for h in app.client.retry_handlers)
    assert app.process_before_response is True  # HTTP: ack content is the HTTP response
    assert "RequestVerification" in [type(m).__name__ for m in app._middleware_list]


def test_injected_client_gets_one_retry_handler(sqlite_engine: Engine) -> None:
    with FakeSlack() as fake:
        client = WebClient(token="xoxb-1", base_url=fake.url)
        client.retry_handlers.append(RateLimitErrorRetryHandler())
        app = create_app(
            settings(slack_bot_token="xoxb-1", slack_signing_secret="s3"),
            session_factory=db.session_factory(sqlite_engine),
            client=client,
        )
    assert app.client is client
    assert isinstance(client, SafeWebClient)  # the output boundary covers what is injected
    assert sum(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers) == 1


def test_socket_mode_needs_no_signing_secret(sqlite_engine: Engine) -> None:
    with FakeSlack() as fake:
        app = create_app(
            settings(slack_bot_token="xoxb-1", slack_api_url=fake.url),
            session_factory=db.session_factory(sqlite_engine),
            socket_mode=True,
        )
    assert app.process_before_response is False


def test_http_mode_without_signing_secret_is_a_clear_error(sqlite_engine: Engine) -> None:
    with pytest.raises(SlackSetupError, match="SLACK_SIGNING_SECRET"):
        create_app(
            settings(slack_bot_token="xoxb-1"), session_factory=db.session_factory(sqlite_engine)
        )


def test_missing_bot_token_is_a_clear_error(sqlite_engine: Engine) -> None:
    with pytest.raises(SlackSetupError, match="SLACK_BOT_TOKEN"):
        create_app(
            settings(slack_signing_secret="s3"), session_factory=db.session_factory(sqlite_engine)
        )


def _require_greenlet() -> None:
    if importlib.util.find_spec("greenlet") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("greenlet is required for slack_sdk's SQLAlchemy OAuth stores")
        pytest.skip("greenlet is not installed (slack_sdk's SQLAlchemy stores need it)")


def test_oauth_mode_keeps_installations_in_our_database(sqlite_engine: Engine) -> None:
    _require_greenlet()
    oauth = settings(
        slack_client_id="111.222",
        slack_client_secret="oauth-secret-value",
        slack_signing_secret="s3",
        slack_team_id="T0TEST",
        token_encryption_key=Fernet.generate_key().decode(),
    )
    app = create_app(oauth, session_factory=db.session_factory(sqlite_engine))
    assert app.oauth_flow is not None
    assert isinstance(app.installation_store, SQLAlchemyInstallationStore)
    assert type(app.installation_store).__name__ == "EncryptedInstallationStore"
    tables = set(inspect(sqlite_engine).get_table_names())
    assert {"slack_installations", "slack_bots", "slack_oauth_states"} <= tables
    assert app.oauth_flow.settings.scopes == list(BOT_SCOPES)

    with serve_app(app) as served:
        conn = http.client.HTTPConnection(served.host, served.port, timeout=5)
        conn.request("GET", "/slack/install")
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
    assert resp.status == 200
    assert "client_id=111.222" in body
    with sqlite_engine.connect() as c:
        states = c.exec_driver_sql("select count(*) from slack_oauth_states").scalar()
    assert states == 1
    assert "oauth-secret-value" not in body


def test_scopes_match_the_manifest() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)


def test_serve_without_app_token_explains_what_to_set(tmp_path: Path) -> None:
    env = {"SLACK_APP_TOKEN": "", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3"}
    result = CliRunner().invoke(cli_app, ["serve", "--db", str(tmp_path / "x.db")], env=env)
    assert result.exit_code == 1
    assert "SLACK_APP_TOKEN" in result.output
    assert "--http" in result.output


def test_serve_http_without_signing_secret_explains_what_to_set(tmp_path: Path) -> None:
    env = {"SLACK_SIGNING_SECRET": "", "SLACK_BOT_TOKEN": "xoxb-1"}
    args = ["serve", "--http", "--port", "0", "--db", str(tmp_path / "x.db")]
    result = CliRunner().invoke(cli_app, args, env=env)
    assert result.exit_code == 1
    assert "SLACK_SIGNING_SECRET" in result.output


def test_serve_runs_the_scheduled_jobs_and_stops_them(tmp_path: Path) -> None:
    from bot.serve import scheduled_jobs
    from tools import db as tools_db

    settings = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s3")
    engine = tools_db.make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    tools_db.upgrade(engine)
    sessions = tools_db.session_factory(engine)
    with scheduled_jobs(settings, session_factory=sessions, enabled=True) as scheduler:
        assert scheduler is not None
        assert scheduler.running
        ids = {job.id for job in scheduler.get_jobs()}
        assert {"daily_scan", "weekly_digest", "quarterly_qbr"} <= ids
    assert not scheduler.running
    with scheduled_jobs(settings, session_factory=sessions, enabled=False) as none:
        assert none is None


def test_serve_freezes_the_startup_heap_before_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full collections skip what startup allocated, so they do not stall requests (issue 12)."""
    import gc

    from bot import serve
    from tools import db as tools_db

    frozen_when_serving: list[int] = []

    class Server:
        server_address = ("127.0.0.1", 0)

        def serve_forever(self) -> None:
            frozen_when_serving.append(gc.get_freeze_count())

        def server_close(self) -> None:
            pass

    monkeypatch.setattr(serve, "create_app", lambda settings, session_factory: object())
    monkeypatch.setattr(serve, "make_server", lambda app, host, port: Server())
    settings = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s3")
    engine = tools_db.make_engine(f"sqlite:///{tmp_path / 'serve.db'}")
    tools_db.upgrade(engine)
    gc.unfreeze()
    try:
        serve.serve_http(
            settings,
            session_factory=tools_db.session_factory(engine),
            host="127.0.0.1",
            port=0,
            with_jobs=False,
        )
    finally:
        gc.unfreeze()
    assert len(frozen_when_serving) == 1
    assert frozen_when_serving[0] > 0
