"""Delivery, exactly once: claim in the ledger, post with the key in the metadata, reconcile.

Every scheduled message (churn alerts, QBR and proposal DMs, the book messages, the digest) goes
through ``claim_and_deliver``: the claim is committed in ``tools.alerts.ledger`` before anything
is posted, and ``Poster.deliver`` posts it. Each message carries Slack message metadata with its
delivery key (``metadata={"event_type": "csbot_delivery", "event_payload": {"key": ...}}``).

When the outcome of an earlier attempt is unknown (a crash, a timeout, or Slack accepted the post
and the response was lost), the poster first looks for the key in the target conversation's
recent history (``conversations.history`` with ``include_all_metadata``; ``conversations.replies``
for a thread reply; for a DM it opens the IM first) and records the ``ts`` it finds instead of
posting again. The client never retries a post by itself (no connection-error retry handler):
a lost response is only ever repaired through this reconciliation.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from sqlmodel import Session

from bot.config import Settings
from bot.slack_out import SafeWebClient, safe_client, use_settings_key
from tools.alerts import ledger
from tools.db import SessionFactory
from tools.handoff import delivery as handoff_delivery
from tools.models import Alert, AlertKind

log = logging.getLogger(__name__)

EVENT_TYPE = "csbot_delivery"
"""The ``event_type`` of the metadata every scheduled message carries."""
REPLY_SUFFIX = "#reply"
RECONCILE_SCOPES = frozenset(
    {
        "chat:write",
        "channels:history",  # conversations.history / replies in public channels
        "groups:history",  # ... in private channels
        "im:history",  # ... in the DMs we open
        "im:write",  # conversations.open for a DM
        "channels:read",  # conversations.list: "#cs-alerts" -> its id
        "groups:read",
    }
)
"""The bot scopes posting and reconciling need (``manifest.yml`` must grant them)."""
HISTORY_PAGES = 5
HISTORY_PAGE_SIZE = 200
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "users_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "restricted_action",
    }
)


def scheduler_client(settings: Settings) -> WebClient:
    """A WebClient for scheduled posts: the bot token, ``SLACK_API_URL``, retries on 429 only.

    No connection-error retry: a post whose response was lost may have landed, and re-sending it
    blindly would post it twice (the poster reconciles instead).
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    use_settings_key(settings)
    return SafeWebClient(  # the output boundary: bot/slack_out.py
        token=token,
        base_url=settings.slack_api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )


def default_worker() -> str:
    """Who is claiming: host, process and a random run id (threads in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def local_day(now: datetime, settings: Settings) -> date:
    """The calendar day of ``now`` in the team's timezone."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def delivery_metadata(key: str) -> dict[str, Any]:
    """The Slack message metadata that carries a delivery key."""
    return {"event_type": EVENT_TYPE, "event_payload": {"key": key}}


def metadata_key(message: dict[str, Any]) -> str | None:
    """The delivery key a message carries, if it is one of ours."""
    meta = message.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
        return None
    payload = meta.get("event_payload")
    key = payload.get("key") if isinstance(payload, dict) else None
    return str(key) if key else None


# -- reports ---------------------------------------------------------------------------------


class PlannedAlert(BaseModel):
    """A message a job decided to post (or, in a dry run, would post)."""

    key: str
    kind: str
    account_id: int | None
    account_name: str
    channel: str
    reason: str
    text: str


class DeliveryCounts(BaseModel):
    """What happened to the claims a job handled."""

    claimed: int = 0
    already_claimed: int = Field(default=0, description="Keys another run had claimed first.")
    posted: int = 0
    retried: int = Field(default=0, description="Stale claims taken over and posted again.")
    reconciled: int = Field(
        default=0, description="Claims found already posted in Slack (a lost response)."
    )
    failed: int = 0
    pending: int = Field(default=0, description="Left claimed after a transient error.")


def planned(claim: ledger.AlertClaim) -> PlannedAlert:
    """A claim as the dry-run plan and the job reports show it."""
    payload = claim.payload
    return PlannedAlert(
        key=claim.key,
        kind=claim.kind.value,
        account_id=claim.account_id,
        account_name=str(payload.get("account_name", "")),
        channel=f"DM {payload['dm_user']}" if payload.get("dm_user") else str(payload["channel"]),
        reason=str(payload.get("reason", "")),
        text=str(payload.get("text", "")),
    )


# -- posting ---------------------------------------------------------------------------------


AFTER_POSTED: dict[str, Callable[..., None]] = {
    AlertKind.HANDOFF_SALES.value: handoff_delivery.card_posted,
}
"""What else changes, in the transaction that marks a delivery of a kind posted."""


class UnknownOutcomeError(Exception):
    """The post may or may not have landed (the response was lost)."""


@dataclass
class Poster:
    """Posts claimed payloads with one WebClient and records every outcome."""

    sessions: SessionFactory
    client: WebClient
    worker: str
    now: datetime
    _channel_ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A connection-error retry re-sends a post whose response was lost: a double post.
        # Lost responses are repaired by reconciliation here, never by a blind re-send.
        self.client.retry_handlers[:] = [
            h for h in self.client.retry_handlers if not isinstance(h, ConnectionErrorRetryHandler)
        ]

    def deliver(self, alert_id: int, counts: DeliveryCounts) -> None:
        """Post the claimed alert ``alert_id`` (message, then thread reply); then mark it."""
        with self.sessions() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                return
            unsure = alert.attempts > 1 or bool(alert.last_error)
            after = AFTER_POSTED.get(alert.kind)
            try:
                found = self._post(session, alert, unsure=unsure)
            except UnknownOutcomeError as exc:
                self._failed(session, alert_id, exc, counts, "response lost")
                return
            except SlackApiError as exc:
                self._failed(session, alert_id, exc, counts, str(exc.response.get("error", "")))
                return
            except (SlackClientError, OSError) as exc:
                self._failed(session, alert_id, exc, counts, "")
                return
            then = None if after is None else partial(after, delivery_id=alert_id, now=self.now)
            if ledger.mark_posted(
                session, alert_id=alert_id, claimed_by=self.worker, now=self.now, then=then
            ):
                counts.posted += 1
                counts.reconciled += found
            else:
                log.warning("alert %s was taken over while it was being posted", alert_id)

    def _post(self, session: Session, alert: Alert, *, unsure: bool) -> int:
        """Post what is missing of ``alert``; how many parts were found already posted."""
        alert_id, key = alert.id or 0, alert.key
        payload = dict(alert.payload)
        channel, ts, reply_ts = alert.channel, alert.message_ts, alert.reply_ts
        found = 0
        if ts is None:
            target = self._target(payload)
            if unsure:
                ts = self._find(target, key)
            if ts is not None:
                found += 1
                channel = target
            else:
                channel, ts, lost = self._send(
                    target, key, text=payload["text"], blocks=payload["blocks"], top=True
                )
                found += lost
            ledger.record_message(session, alert_id=alert_id, channel=channel, ts=ts)
        thread = payload.get("thread")
        if thread and reply_ts is None and channel is not None:
            reply_key = key + REPLY_SUFFIX
            reply = self._find_reply(channel, ts, reply_key) if unsure or found else None
            if reply is not None:
                found += 1
            else:
                _, reply, lost = self._send(
                    channel, reply_key, text=thread["text"], blocks=thread["blocks"], thread_ts=ts
                )
                found += lost
            ledger.record_message(session, alert_id=alert_id, channel=channel, ts=reply, reply=True)
        return found

    def _send(
        self,
        channel: str,
        key: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        thread_ts: str | None = None,
        top: bool = False,
    ) -> tuple[str, str, bool]:
        """One chat.postMessage carrying ``key``: (channel, ts, whether its response was lost).

        A lost response is looked up in the history at once; still unknown, it raises
        ``UnknownOutcomeError`` and the claim waits for the lease (then it is looked up again).
        """
        options: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False} if top else {}
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=delivery_metadata(key),
                **options,
            )
        except SlackApiError:
            raise
        except (SlackClientError, OSError) as exc:
            # Sent, but no (readable) answer: Slack may have posted it. Look before giving up.
            try:
                ts = (
                    self._find_reply(channel, thread_ts, key)
                    if thread_ts
                    else self._find(channel, key)
                )
            except (SlackClientError, OSError):
                ts = None
            if ts is None:
                raise UnknownOutcomeError(f"{type(exc).__name__}: {exc}") from exc
            log.info("found %s in Slack after a lost response", key)
            return self._resolve(channel) or channel, ts, True
        posted_channel = str(response["channel"])
        if not _CONVERSATION_ID.match(channel):
            self._channel_ids[channel] = posted_channel  # learn "#name" -> id for lookups
        return posted_channel, str(response["ts"]), False

    def _target(self, payload: dict[str, Any]) -> str:
        """Where the message goes: the IM with ``dm_user`` (opened), else ``channel``."""
        user = payload.get("dm_user")
        if not user:
            return str(payload["channel"])
        opened = self.client.conversations_open(users=str(user))
        channel = opened.get("channel") or {}
        return str(channel.get("id") if isinstance(channel, dict) else payload["channel"])

    # -- reconciliation ----------------------------------------------------------------------

    def _resolve(self, channel: str) -> str | None:
        """The conversation id of ``channel`` (an id already, a ``#name``, or a learnt name)."""
        if _CONVERSATION_ID.match(channel):
            return channel
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        with self.sessions() as session:
            known = ledger.channel_id_for(session, channel)
        if known is None:
            known = self._lookup_name(channel.lstrip("#"))
        if known is not None:
            self._channel_ids[channel] = known
        return known

    def _lookup_name(self, name: str) -> str | None:
        cursor = None
        for _ in range(HISTORY_PAGES):
            try:
                page = self.client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=HISTORY_PAGE_SIZE,
                    cursor=cursor,
                )
            except SlackApiError as exc:
                log.warning("cannot list channels to find #%s: %s", name, exc.response.get("error"))
                return None
            for conv in page.get("channels") or []:
                if isinstance(conv, dict) and conv.get("name") == name:
                    return str(conv.get("id"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def _find(self, channel: str, key: str) -> str | None:
        """The ts of our message carrying ``key`` in ``channel``'s recent history, if any."""
        conversation = self._resolve(channel) or channel
        # No ``oldest``: ``now`` may be a test's or a replica's clock, not Slack's; the newest
        # pages are where a message posted during the retry window is.
        for message in self._pages(
            lambda cursor: self.client.conversations_history(
                channel=conversation,
                include_all_metadata=True,
                limit=HISTORY_PAGE_SIZE,
                cursor=cursor,
            )
        ):
            if metadata_key(message) == key:
                return str(message["ts"])
        return None

    def _find_reply(self, channel: str, thread_ts: str | None, key: str) -> str | None:
        """The ts of our reply carrying ``key`` in the thread of ``thread_ts``, if any."""
        if thread_ts is None:
            return None
        conversation = self._resolve(channel) or channel
        for message in self._pages(
            lambda cursor: self.client.conversations_replies(
                channel=conversation,
                ts=thread_ts,
                include_all_metadata=True,
                limit=HISTORY_PAGE_SIZE,
                cursor=cursor,
            )
        ):
            if metadata_key(message) == key:
                return str(message["ts"])
        return None

    @staticmethod
    def _pages(fetch: Callable[[str | None], Any]) -> Iterator[dict[str, Any]]:
        cursor = None
        for _ in range(HISTORY_PAGES):
            page = fetch(cursor)
            for message in page.get("messages") or []:
                if isinstance(message, dict):
                    yield message
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not page.get("has_more", True):
                return

    def _failed(
        self,
        session: Session,
        alert_id: int,
        exc: Exception,
        counts: DeliveryCounts,
        error: str,
    ) -> None:
        session.rollback()
        permanent = error in PERMANENT_ERRORS
        status = ledger.record_failure(
            session,
            alert_id=alert_id,
            error=f"{type(exc).__name__}: {error or exc}",
            permanent=permanent,
            now=self.now,
        )
        log.warning(
            "posting alert %s failed (%s, %s): %s",
            alert_id,
            "permanent" if permanent else "will retry",
            status,
            error or type(exc).__name__,
        )
        if status == "failed":
            counts.failed += 1
        else:
            counts.pending += 1


def require_client(client: WebClient | None, *, dry_run: bool) -> None:
    """A job that posts needs a Slack client; a dry run does not."""
    if client is None and not dry_run:
        raise ValueError("a scheduled job needs a Slack client unless dry_run is set")


def poster_for(
    session_factory: SessionFactory,
    client: WebClient | None,
    *,
    now: datetime,
    dry_run: bool,
    worker: str | None,
) -> Poster | None:
    """Who posts this run's claims: nobody on a dry run (plans only, claims nothing)."""
    if dry_run or client is None:
        return None
    return Poster(session_factory, safe_client(client), worker or default_worker(), now)


def claim_and_deliver(
    poster: Poster | None,
    claim: ledger.AlertClaim,
    counts: DeliveryCounts,
    *,
    prepare: Callable[[Session, int], None] | None = None,
) -> bool:
    """Claim ``claim`` (and run ``prepare`` in the same transaction), then post it."""
    if poster is None:
        return False
    with poster.sessions() as session:
        alert_id = ledger.claim_alert(
            session, claim=claim, claimed_by=poster.worker, now=poster.now
        )
        if alert_id is None:
            session.rollback()
            counts.already_claimed += 1
            return False
        if prepare is not None:
            prepare(session, alert_id)
        session.commit()
    counts.claimed += 1
    poster.deliver(alert_id, counts)
    return True


def retry_stale_claims(
    *,
    session_factory: SessionFactory,
    client: WebClient,
    now: datetime,
    worker: str | None = None,
    kinds: Iterable[AlertKind] = ledger.SLACK_KINDS,
) -> DeliveryCounts:
    """Finish the claims a run left unposted (older than the lease): reconcile, then post."""
    counts = DeliveryCounts()
    poster = Poster(session_factory, safe_client(client), worker or default_worker(), now)
    kinds = frozenset(kinds)
    with session_factory() as session:
        expired = ledger.expire_claims(session, now=now, kinds=kinds)
        stale = [
            a.id for a in ledger.stale_claims(session, now=now, kinds=kinds) if a.id is not None
        ]
    if expired:
        log.warning("%d claimed alerts expired before they could be posted", expired)
        counts.failed += expired
    for alert_id in stale:
        with session_factory() as session:
            mine = ledger.take_over(session, alert_id=alert_id, claimed_by=poster.worker, now=now)
        if mine:
            counts.retried += 1
            poster.deliver(alert_id, counts)
    return counts
