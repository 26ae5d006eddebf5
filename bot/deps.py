"""What listeners and the router need, built once by ``create_app`` and passed explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from tools.db import SessionFactory
from tools.scoring_config import ScoringConfig


@dataclass(frozen=True)
class Deps:
    """Settings, the database, the clock and the scoring config: everything but Slack itself."""

    settings: Settings
    sessions: SessionFactory
    clock: Callable[[], datetime]
    config: ScoringConfig
    notion: Callable[[], Any] | None = None
    """Builds a ``notion_client.Client`` (tests inject one on an httpx.MockTransport); None:
    one from NOTION_TOKEN (see bot/notion/tasks.py)."""
    anthropic: Any = None
    """The ``anthropic.Anthropic`` client when ``ANTHROPIC_API_KEY`` is set (tests inject one on
    the fake API); None: no Claude, the templates and the router answer."""

    def now(self) -> datetime:
        """The injected clock's current time."""
        return self.clock()

    def today(self) -> date:
        """Today's date in the team's timezone (``TIMEZONE``)."""
        return self.clock().astimezone(ZoneInfo(self.settings.timezone)).date()
