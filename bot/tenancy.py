"""One deployment serves one Slack organisation; its OAuth tokens are encrypted at rest.

- ``Tenant``: the team (``SLACK_TEAM_ID``) and/or Enterprise Grid org (``SLACK_ENTERPRISE_ID``)
  this deployment's database belongs to. With a single bot token and neither set, the token's
  own team (``auth.test``) is the tenant. OAuth needs one of them set.
- ``tenant_guard``: a Bolt middleware that refuses every request from another team before any
  listener runs: slash commands get a one-line explanation, everything else an empty 200, and
  nothing is read from the database or posted.
- ``EncryptedInstallationStore``: slack_sdk's SQLAlchemy installation store that refuses installs
  from another organisation and keeps bot/user (refresh) tokens Fernet-encrypted
  (``TOKEN_ENCRYPTION_KEY``; several comma-separated keys rotate: the first encrypts, all
  decrypt). The migration ``0011`` encrypts rows written before.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.error import BoltError
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, Text

from bot.config import Settings

logger = logging.getLogger(__name__)

TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
FERNET_PREFIX = "gAAAAA"
OTHER_ORG_MESSAGE = (
    "This cs-copilot deployment belongs to another Slack organisation, so it cannot answer "
    "here. Ask your admin to run your own deployment (one per organisation)."
)


Entity = TypeVar("Entity", Installation, Bot)


class TenantError(BoltError):
    """An install or request from an organisation this deployment does not serve."""


@dataclass(frozen=True)
class Tenant:
    """The one Slack organisation this deployment serves."""

    team_id: str | None = None
    enterprise_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Tenant:
        """The tenant from ``SLACK_TEAM_ID`` / ``SLACK_ENTERPRISE_ID``."""
        return cls(
            team_id=(settings.slack_team_id or "").strip() or None,
            enterprise_id=(settings.slack_enterprise_id or "").strip() or None,
        )

    @property
    def configured(self) -> bool:
        """Whether a team or an org is set."""
        return bool(self.team_id or self.enterprise_id)

    def admits(self, *, team_id: str | None, enterprise_id: str | None) -> bool:
        """Whether a request or install from ``team_id``/``enterprise_id`` is ours."""
        if self.enterprise_id and enterprise_id == self.enterprise_id:
            return True
        return bool(self.team_id) and team_id == self.team_id


def tenant_guard(tenant: Tenant) -> Callable[..., BoltResponse | None]:
    """The Bolt middleware refusing requests from any other organisation (see the module)."""

    def guard(
        request: BoltRequest, context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        ours = tenant if tenant.configured else _token_tenant(context)
        if ours.admits(team_id=context.team_id, enterprise_id=context.enterprise_id):
            return next()
        logger.warning(
            "refused a request from another organisation team=%s enterprise=%s",
            context.team_id,
            context.enterprise_id,
        )
        if request.body.get("command"):
            reply = {"response_type": "ephemeral", "text": OTHER_ORG_MESSAGE}
            return BoltResponse(
                status=200, body=json.dumps(reply), headers={"content-type": "application/json"}
            )
        return BoltResponse(status=200, body="")

    return guard


def _token_tenant(context: BoltContext) -> Tenant:
    """Without settings: the team (and org) of the bot token that authorised the request."""
    result = context.authorize_result
    if result is None:
        return Tenant()
    return Tenant(team_id=result.team_id, enterprise_id=result.enterprise_id)


# -- tokens at rest ----------------------------------------------------------------------------


def token_cipher(keys: str) -> MultiFernet:
    """A cipher over comma-separated Fernet keys (the first encrypts; all decrypt)."""
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ValueError("TOKEN_ENCRYPTION_KEY is empty")
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "TOKEN_ENCRYPTION_KEY must be Fernet keys (make one with `python -c "
            '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`)'
        ) from exc


def seal(cipher: MultiFernet, value: str | None) -> str | None:
    """``value`` encrypted (left as it is when None or already encrypted)."""
    if value is None or value.startswith(FERNET_PREFIX):
        return value
    return cipher.encrypt(value.encode()).decode()


def unseal(cipher: MultiFernet, value: str | None) -> str | None:
    """``value`` decrypted; a plain-text token left from before the migration raises."""
    if value is None:
        return None
    try:
        return cipher.decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise TenantError(
            "an OAuth token in the database is not encrypted with TOKEN_ENCRYPTION_KEY "
            "(run `csbot db upgrade` with the key set, or reinstall the app)"
        ) from exc


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """Installations of this organisation only, with their tokens Fernet-encrypted."""

    def __init__(
        self, *, client_id: str, engine: Engine, cipher: MultiFernet, tenant: Tenant
    ) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self._cipher = cipher
        self._tenant = tenant
        for table in (self.installations, self.bots):
            for name in TOKEN_FIELDS:
                if name in table.c:
                    table.c[name].type = Text()  # an encrypted token outgrows String(200)

    def save(self, installation: Installation) -> None:
        """Refuse another organisation's install; store this one's tokens encrypted."""
        self._check(installation.team_id, installation.enterprise_id)
        super().save(self._sealed(installation))

    def save_bot(self, bot: Bot) -> None:
        """Store a bot with its tokens encrypted (already-encrypted ones are kept)."""
        self._check(bot.team_id, bot.enterprise_id)
        super().save_bot(self._sealed(bot))

    def build_installation_entity(self, row: Any) -> Installation:  # type: ignore[override]
        """An installation read back, its tokens decrypted."""
        return self._unsealed(SQLAlchemyInstallationStore.build_installation_entity(row))

    def build_bot_entity(self, row: Any) -> Bot:  # type: ignore[override]
        """A bot read back, its tokens decrypted."""
        return self._unsealed(SQLAlchemyInstallationStore.build_bot_entity(row))

    def _check(self, team_id: str | None, enterprise_id: str | None) -> None:
        if not self._tenant.admits(team_id=team_id, enterprise_id=enterprise_id):
            logger.warning("refused an install from team=%s enterprise=%s", team_id, enterprise_id)
            raise TenantError(OTHER_ORG_MESSAGE)

    def _sealed(self, entity: Entity) -> Entity:
        sealed = copy.copy(entity)
        for name in TOKEN_FIELDS:
            if hasattr(sealed, name):
                setattr(sealed, name, seal(self._cipher, getattr(sealed, name)))
        return sealed

    def _unsealed(self, entity: Entity) -> Entity:
        for name in TOKEN_FIELDS:
            if hasattr(entity, name):
                setattr(entity, name, unseal(self._cipher, getattr(entity, name)))
        return entity
