"""Slack listeners, one module per surface; each module's ``register(app, deps)`` wires it up.

Listeners only adapt: acknowledge, call the router (which calls ``tools/``), render, respond.
``REGISTERED`` lists every slash command, event subscription, action id, modal and shortcut the
code handles; tests/bot/test_manifest.py compares it with manifest.yml.
"""

from __future__ import annotations

from slack_bolt import App

from bot.agent import Agent
from bot.deps import Deps
from bot.listeners import (
    actions,
    alerts,
    commands,
    events,
    handoff,
    home,
    log,
    qbr,
    subscribe,
    tasks,
    views,
)

REGISTERED: dict[str, frozenset[str]] = {
    "commands": commands.COMMANDS | log.COMMANDS,
    "events": events.EVENTS | home.EVENTS,
    "actions": actions.ACTIONS
    | handoff.ACTIONS
    | qbr.ACTIONS
    | alerts.ACTIONS
    | subscribe.ACTIONS
    | tasks.ACTIONS,
    "views": views.VIEWS | alerts.VIEWS | log.VIEWS,
    "shortcuts": log.SHORTCUTS,
}


def register_listeners(app: App, deps: Deps, agent: Agent | None = None) -> None:
    """Register every surface: commands, events, actions, views and the App Home.

    ``agent`` (Claude) answers @mentions, DMs and ``/csbot`` questions when given; without it
    the router does.
    """
    events.register(app, deps, agent)  # first: its middleware dedupes Slack's retries
    commands.register(app, deps, agent)
    actions.register(app, deps)
    cards = handoff.CardLocations()
    handoff.register(app, deps, cards)
    qbr.register(app, deps)
    alerts.register(app, deps)
    log.register(app, deps)
    subscribe.register(app, deps)
    tasks.register(app, deps)
    views.register(app, deps, handoff_cards=cards)
    home.register(app, deps)
