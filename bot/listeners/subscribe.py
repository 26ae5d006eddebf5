"""``/csbot subscribe mine|segment:<name>|all [dm|channel]``, ``/csbot unsubscribe <scope>`` and
``/csbot subscriptions``: who gets which churn alerts (``tools.subscriptions``)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot import alert_action_blocks as ab
from bot import blocks
from bot.deps import Deps
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import user_of
from bot.router import Reply, home_view
from tools import subscriptions
from tools.db import session_scope
from tools.subscriptions import SubscriptionError

WORDS = frozenset({"subscribe", "unsubscribe", "subscriptions"})
ACTIONS = ab.HOME_ACTIONS
EXAMPLES = ("subscribe mine dm", "subscribe segment:enterprise", "unsubscribe all")


def wants_subscriptions(text: str) -> bool:
    """Whether ``/csbot`` text is about subscriptions."""
    words = text.split()
    return bool(words) and words[0].lower() in WORDS


def _usage(problem: str) -> Reply:
    rendered = blocks.usage_message("/csbot", blocks.esc(problem), examples=EXAMPLES)
    return Reply(blocks=rendered[0], text=rendered[1], found=False)


def subscription_reply(text: str, user_id: str, deps: Deps) -> Reply:
    """Subscribe, unsubscribe or list, for ``user_id``; the answer lists what they now have."""
    verb, *rest = text.split()
    verb = verb.lower()
    try:
        with session_scope(deps.sessions) as session:
            if verb == "subscribe":
                if not rest or len(rest) > 2:
                    raise SubscriptionError("subscribe to `mine`, `segment:<name>` or `all`")
                scope = subscriptions.parse_scope(session, rest[0])
                delivery = subscriptions.parse_delivery(
                    rest[1] if len(rest) > 1 else None, scope=scope
                )
                _, changed = subscriptions.subscribe(
                    session, user_id=user_id, scope=scope, delivery=delivery, now=deps.now()
                )
                said = f"Subscribed to `{scope}` by {delivery}." if changed else "No change."
            elif verb == "unsubscribe":
                if len(rest) != 1:
                    raise SubscriptionError("unsubscribe from `mine`, `segment:<name>` or `all`")
                scope = " ".join(rest).lower()
                gone = subscriptions.unsubscribe(session, user_id=user_id, scope=scope)
                said = (
                    f"Unsubscribed from `{scope}`."
                    if gone
                    else f"You had no `{scope}` subscription."
                )
            else:
                said = "Your churn-alert subscriptions."
            current = subscriptions.subscriptions_of(session, user_id=user_id)
    except SubscriptionError as exc:
        return _usage(str(exc))
    rendered = ab.subscriptions_reply(blocks.esc(said), current)
    return Reply(blocks=rendered[0], text=rendered[1])


def choose_delivery(delivery: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """App Home: alerts on my accounts by DM or in the channel; then the Home is redrawn."""
    user = user_of(body)
    if not user or delivery not in ("dm", "channel"):
        return
    with session_scope(deps.sessions) as session:
        subscriptions.subscribe(
            session, user_id=user, scope=subscriptions.MINE, delivery=delivery, now=deps.now()
        )
    context.client.views_publish(user_id=user, view=home_view(user, deps))


def register(app: App, deps: Deps) -> None:
    """Register the App Home subscription buttons."""
    for action_id, delivery in ((ab.ACTION_MINE_DM, "dm"), (ab.ACTION_MINE_CHANNEL, "channel")):

        def work(body: dict[str, Any], context: BoltContext, delivery: str = delivery) -> None:
            choose_delivery(delivery, body, context, deps)

        app.action(action_id)(ack=acknowledge, lazy=[guarded("on_" + action_id, work)])
