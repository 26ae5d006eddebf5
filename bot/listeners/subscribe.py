"""``/csbot subscribe mine|segment:<name>|all [dm|channel]``, ``/csbot unsubscribe <scope>`` and
``/csbot subscriptions``: who gets which churn alerts (``tools.subscriptions``)."""

from __future__ import annotations

from bot import alert_action_blocks as ab
from bot import blocks
from bot.deps import Deps
from bot.router import Reply
from tools import subscriptions
from tools.db import session_scope
from tools.subscriptions import SubscriptionError

WORDS = frozenset({"subscribe", "unsubscribe", "subscriptions"})
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
