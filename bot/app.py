"""Build the Bolt app: ``create_app(settings, ...)`` wires everything; nothing happens at import.

- One ``WebClient`` (base URL from ``SLACK_API_URL``) with ``RateLimitErrorRetryHandler``, which
  Slack's SDK does not add by default; per-request clients in OAuth mode copy its handlers.
- Over HTTP every request first passes the gate (bot/gate.py: size cap, timestamp, signature,
  well-formed payload); Bolt's own ``RequestVerification`` checks the signature again, and the
  error handler acts only on requests the gate let through. Socket Mode needs no signature.
- Every outbound payload passes one boundary (bot/slack_out.py): ``CsbotApp`` gives each
  request a ``SafeWebClient`` and a ``SafeRespond`` and escapes ``ack`` bodies.
- ``process_before_response``: over HTTP the ack function runs to completion before the HTTP
  response is written, so what ``ack()`` says is what Slack gets and nothing races the response;
  slow work goes to lazy listeners, which run in Bolt's thread pool after the ack. In Socket
  Mode Bolt sends the ack over the socket as soon as ``ack()`` is called (False).
- One organisation (bot/tenancy.py): a middleware refuses requests from any other team before
  every listener. OAuth (``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``) installs only into the
  configured team/org, with tokens Fernet-encrypted (``TOKEN_ENCRYPTION_KEY``) in slack_sdk's
  SQLAlchemy tables, created here (migration 0011 encrypts rows written before).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from anthropic import Anthropic
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import Engine

from bot.agent import Agent
from bot.config import Settings
from bot.deps import Deps
from bot.listeners import register_listeners
from bot.listeners.boundary import make_error_handler
from bot.narrator import anthropic_client as make_anthropic_client
from bot.slack_out import (
    SafeRespond,
    SafeWebClient,
    safe_client,
    sanitize_arguments,
    use_settings_key,
)
from bot.tenancy import Tenant, tenant_guard, token_cipher
from tools.db import SessionFactory
from tools.models import utcnow
from tools.scoring_config import ScoringConfig, load_config

logger = logging.getLogger(__name__)

# Keep in step with oauth_config.scopes.bot in manifest.yml (tests/bot/test_app_setup.py checks).
BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "reactions:write",
    "usergroups:read",
    "users:read",
    "users:read.email",
)
OAUTH_STATE_SECONDS = 600
RATE_LIMIT_RETRIES = 3


class CsbotApp(App):
    """Bolt's App with the output boundary in every request (bot/slack_out.py): the request's
    client is a ``SafeWebClient``, ``respond()`` a ``SafeRespond``, and every ``ack`` body is
    escaped before it leaves."""

    def _init_context(self, req: BoltRequest) -> None:
        super()._init_context(req)
        req.context["client"] = safe_client(req.context.client)
        req.context["respond"] = SafeRespond(
            response_url=req.context.response_url,
            proxy=self._client.proxy,
            ssl=self._client.ssl,
        )

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        """Bolt's dispatch, with the acknowledgement's message (if any) escaped."""
        response = super().dispatch(req)
        return escape_ack(response)


def escape_ack(response: BoltResponse) -> BoltResponse:
    """``response`` with the display text of a JSON ack body escaped."""
    content_type = "".join(response.headers.get("content-type", []))
    if not isinstance(response.body, str) or "json" not in content_type:
        return response
    try:
        data = json.loads(response.body)
    except ValueError:
        return response
    if isinstance(data, dict):
        response.body = json.dumps(sanitize_arguments(data))
    return response


class SlackSetupError(ValueError):
    """The settings cannot run the Slack app; the message says which variable to set."""


def create_app(
    settings: Settings,
    *,
    session_factory: SessionFactory,
    clock: Callable[[], datetime] = utcnow,
    client: WebClient | None = None,
    config: ScoringConfig | None = None,
    socket_mode: bool = False,
    notion: Callable[[], Any] | None = None,
    anthropic_client: Anthropic | None = None,
) -> App:
    """The Bolt app with every listener registered (HTTP mode unless ``socket_mode``).

    Claude answers conversations when ``ANTHROPIC_API_KEY`` is set (or ``anthropic_client`` is
    injected, as the tests do); otherwise the deterministic router answers them.
    """
    use_settings_key(settings)
    oauth = oauth_settings(settings, engine_of(session_factory))
    _check_credentials(settings, oauth=oauth is not None, socket_mode=socket_mode)
    deps = Deps(
        settings=settings,
        sessions=session_factory,
        clock=clock,
        config=config if config is not None else load_config(settings.scoring_config),
        notion=notion,
        anthropic=anthropic_client or make_anthropic_client(settings),
    )
    secret = settings.slack_signing_secret
    app = CsbotApp(
        name="cs-copilot",
        client=safe_client(
            with_rate_limit_retries(client or build_web_client(settings, oauth=oauth is not None))
        ),
        signing_secret=secret.get_secret_value() if secret else "",
        oauth_settings=oauth,
        process_before_response=not socket_mode,
        request_verification_enabled=True,
    )
    app.error(make_error_handler())
    app.use(tenant_guard(Tenant.from_settings(settings)))  # before every listener's middleware
    agent = Agent.from_deps(deps, client=deps.anthropic)
    register_listeners(app, deps, agent if agent.client is not None else None)
    return app


def build_web_client(settings: Settings, *, oauth: bool = False) -> WebClient:
    """The app's WebClient: the bot token (none in OAuth mode) and ``SLACK_API_URL``, behind
    the output boundary."""
    token = settings.slack_bot_token
    return SafeWebClient(
        token=None if oauth or token is None else token.get_secret_value(),
        base_url=settings.slack_api_url,
    )


def with_rate_limit_retries(client: WebClient) -> WebClient:
    """``client`` with a RateLimitErrorRetryHandler (429 + Retry-After), added once."""
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    return client


def engine_of(session_factory: SessionFactory) -> Engine:
    """The engine behind a session factory (for the OAuth stores)."""
    with session_factory() as session:
        bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def oauth_settings(settings: Settings, engine: Engine) -> OAuthSettings | None:
    """OAuth with installations (of this organisation only, tokens encrypted: bot/tenancy.py)
    and states in our database, or None without client id/secret."""
    if not settings.slack_client_id or settings.slack_client_secret is None:
        return None
    try:  # slack_sdk's SQLAlchemy stores import sqlalchemy.ext.asyncio, which needs greenlet
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        from bot.tenancy import EncryptedInstallationStore
    except ImportError as exc:
        raise SlackSetupError(
            "OAuth (SLACK_CLIENT_ID/SLACK_CLIENT_SECRET) stores installations in the database "
            f"with slack_sdk's SQLAlchemy stores, which need `pip install greenlet` ({exc})."
        ) from exc
    tenant = Tenant.from_settings(settings)
    if not tenant.configured:
        raise SlackSetupError(
            "OAuth installs are limited to one organisation: set SLACK_TEAM_ID (or "
            "SLACK_ENTERPRISE_ID for an Enterprise Grid org). One deployment serves one "
            "organisation; see docs/security.md."
        )
    if settings.token_encryption_key is None:
        raise SlackSetupError(
            "TOKEN_ENCRYPTION_KEY is not set: OAuth tokens are stored encrypted. Make a key with "
            '`python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`.'
        )
    try:
        cipher = token_cipher(settings.token_encryption_key.get_secret_value())
    except ValueError as exc:
        raise SlackSetupError(str(exc)) from exc
    client_id = settings.slack_client_id
    installations = EncryptedInstallationStore(
        client_id=client_id, engine=engine, cipher=cipher, tenant=tenant
    )
    states = SQLAlchemyOAuthStateStore(expiration_seconds=OAUTH_STATE_SECONDS, engine=engine)
    installations.metadata.create_all(engine)  # = create_tables(), which is untyped
    states.metadata.create_all(engine)
    return OAuthSettings(
        client_id=client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        installation_store=installations,
        state_store=states,
    )


def _check_credentials(settings: Settings, *, oauth: bool, socket_mode: bool) -> None:
    if not socket_mode and settings.slack_signing_secret is None:
        raise SlackSetupError(
            "SLACK_SIGNING_SECRET is not set: it is needed to verify requests from Slack over "
            "HTTP (Slack app settings → Basic Information → Signing Secret)."
        )
    if not oauth and settings.slack_bot_token is None:
        raise SlackSetupError(
            "SLACK_BOT_TOKEN is not set: install the app to your workspace and copy its xoxb- "
            "token (or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for multi-workspace OAuth)."
        )
