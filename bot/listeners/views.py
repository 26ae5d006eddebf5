"""Modal submissions. cs-copilot opens no modals yet (QBR editing lands with the QBR issue);
this module is where their ``view_submission`` listeners will be registered.
"""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps

VIEWS: frozenset[str] = frozenset()


def register(app: App, deps: Deps) -> None:
    """Register modal listeners (none yet)."""
