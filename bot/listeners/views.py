"""Modal submissions: each modal's ``view_submission`` listener is registered here.

- ``handoff_edit_modal``: adjust an expansion hand-off's ARR estimate and talk track
  (bot/listeners/handoff.py validates, edits and answers with field errors or closes it).
"""

from __future__ import annotations

from slack_bolt import App

from bot.deps import Deps
from bot.handoff_blocks import VIEW_EDIT
from bot.listeners import handoff

VIEWS: frozenset[str] = frozenset({VIEW_EDIT})


def register(app: App, deps: Deps, *, handoff_cards: handoff.CardLocations | None = None) -> None:
    """Register every modal's submission listener (``handoff_cards``: shared with the Edit
    button, which remembers where each modal's card is)."""
    handoff.register_modal(app, deps, handoff_cards or handoff.CardLocations())
