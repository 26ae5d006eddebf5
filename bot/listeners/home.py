"""App Home: publish the viewer's book of business and the team view when they open the tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.deps import Deps
from bot.listeners.boundary import guarded
from bot.router import home_view

EVENTS = frozenset({"app_home_opened"})


def publish_home(body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """Build and publish the Home tab of the user who opened it."""
    event = body["event"]
    if event.get("tab", "home") != "home":
        return  # the Messages tab: nothing to publish
    user_id = str(event["user"])
    context.client.views_publish(user_id=user_id, view=home_view(user_id, deps))


def _ack() -> None:
    """Events are acknowledged by Bolt; the lazy listener does the work."""


def register(app: App, deps: Deps) -> None:
    """Register the ``app_home_opened`` listener."""

    def work(body: dict[str, Any], context: BoltContext) -> None:
        publish_home(body, context, deps)

    app.event("app_home_opened")(ack=_ack, lazy=[guarded("publish_home", work)])
