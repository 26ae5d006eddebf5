"""The one error boundary: log with context, tell the user something short and useful.

Bolt routes exceptions from ack functions and middleware to ``@app.error``; exceptions in lazy
listeners never reach it (Bolt only logs them), so every lazy function is wrapped by ``guarded``,
which calls the same ``report_error``. Users never see exception text; the log line carries a
short reference they can quote, the request's kind, ids and the traceback, never the body (it
holds a verification token) nor any secret.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DBAPIError

from bot import blocks
from bot.gate import is_verified
from tools.accounts import AccountLookupError
from tools.scoring_config import ConfigError

logger = logging.getLogger("bot.listeners")

Work = Callable[[dict[str, Any], BoltContext], None]
LazyFunction = Callable[[dict[str, Any], BoltContext], None]

CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


def user_message(error: BaseException, ref: str) -> str:
    """What to tell the user about ``error`` (never its text)."""
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error", "")) if error.response is not None else ""
        if code in CHANNEL_ERRORS:
            return (
                "I can't post in this conversation. Invite me with `/invite @csbot`, "
                "or ask me in a DM."
            )
        if code == "ratelimited":
            return "Slack is rate-limiting me right now. Please try again in a minute."
        return f"Slack refused my reply (ref `{ref}`). Please try again in a moment."
    if isinstance(error, DBAPIError):
        return (
            "I can't reach the account database right now. Please try again in a minute; "
            f"if it keeps happening, tell your admin (ref `{ref}`)."
        )
    if isinstance(error, ConfigError):
        return f"The scoring configuration is invalid, so I can't score accounts (ref `{ref}`)."
    if isinstance(error, AccountLookupError):
        return "I couldn't tell which account you meant. Try `/health <account name>`."
    return (
        f"Something went wrong while I was working on that (ref `{ref}`). "
        "Please try again, or see `/csbot help`."
    )


def describe(body: dict[str, Any]) -> dict[str, Any]:
    """The identifying fields of a request, safe to log (no tokens, no free text)."""
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    action = (body.get("actions") or [{}])[0] if isinstance(body.get("actions"), list) else {}
    user = body.get("user")
    return {
        "type": body.get("type") or ("slash_command" if body.get("command") else None),
        "command": body.get("command"),
        "action_id": action.get("action_id") if isinstance(action, dict) else None,
        "event": event.get("type") if isinstance(event, dict) else None,
        "event_id": body.get("event_id"),
        "user": body.get("user_id")
        or (user.get("id") if isinstance(user, dict) else user)
        or (event.get("user") if isinstance(event, dict) else None),
        "channel": body.get("channel_id") or (event or {}).get("channel"),
        "team": body.get("team_id") or (body.get("team") or {}).get("id"),
    }


def report_error(error: BaseException, body: dict[str, Any], context: BoltContext) -> str:
    """Log ``error`` with the request's context and tell the user; returns the reference."""
    ref = uuid.uuid4().hex[:8]
    fields = describe(body)
    logger.error(
        "request failed ref=%s %s",
        ref,
        " ".join(f"{k}={v}" for k, v in fields.items() if v),
        exc_info=(type(error), error, error.__traceback__),
    )
    text = user_message(error, ref)
    try:
        _tell_user(text, body, context, fields)
    except Exception:  # the user can't be told; the original error is logged above
        logger.warning("could not deliver the error message ref=%s", ref, exc_info=True)
    return ref


def _tell_user(
    text: str, body: dict[str, Any], context: BoltContext, fields: dict[str, Any]
) -> None:
    rendered_blocks, fallback = blocks.error_message(text)
    if body.get("response_url") and context.respond is not None:
        context.respond(text=fallback, blocks=rendered_blocks, response_type="ephemeral")
        return
    user, channel = fields.get("user"), fields.get("channel")
    if fields.get("event") == "app_home_opened" and user:
        context.client.views_publish(user_id=user, view=blocks.home_error_view(text))
        return
    if user and channel:
        context.client.chat_postEphemeral(
            channel=channel, user=user, text=fallback, blocks=rendered_blocks
        )
        return
    if user:
        context.client.chat_postMessage(channel=user, text=fallback, blocks=rendered_blocks)


def trusted(request: BoltRequest) -> bool:
    """Whether ``request`` passed the gate (HTTP) or came over Socket Mode (app token)."""
    return request.mode == "socket_mode" or is_verified(request.headers)


def make_error_handler() -> Callable[..., BoltResponse]:
    """The ``@app.error`` handler: report, then answer Slack 200 (the user was told).

    A request that did not pass the gate gets 401 and nothing else: no reply, no call to Slack,
    no use of its ``response_url`` or ids, no log of its body.
    """

    def handle_error(
        error: Exception, body: dict[str, Any], context: BoltContext, request: BoltRequest
    ) -> BoltResponse:
        if not trusted(request):
            logger.warning("refused an unverified request (%s)", type(error).__name__)
            return BoltResponse(status=401, body="")
        ref = report_error(error, body, context)
        if body.get("command"):
            # An ack-phase failure of a slash command: answer in the HTTP response itself.
            reply = {"response_type": "ephemeral", "text": user_message(error, ref)}
            return BoltResponse(
                status=200, body=json.dumps(reply), headers={"content-type": "application/json"}
            )
        return BoltResponse(status=200, body="")

    return handle_error


def guarded(name: str, work: Work) -> LazyFunction:
    """A lazy listener running ``work`` inside the error boundary; ``name`` must be unique."""

    def lazy(body: dict[str, Any], context: BoltContext) -> None:
        try:
            work(body, context)
        except Exception as error:
            report_error(error, body, context)

    lazy.__name__ = lazy.__qualname__ = name
    return lazy


def acknowledge(ack: Callable[..., Any]) -> None:
    """The ack function of lazy listeners: answer Slack at once, the lazy part does the work."""
    ack()
