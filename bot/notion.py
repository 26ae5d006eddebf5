"""Publish QBR drafts to Notion, durably: outbox first, idempotent pages, bounded retries.

- ``NotionPublisher`` talks to Notion (API 2025-09-03) through an injected
  ``notion_client.Client``: it resolves the QBR database's data source, finds an earlier page
  by its "Idempotency key" property before creating one, creates the page with the first 100
  blocks and appends the rest 100 at a time (resuming from the page's current child count after
  a lost answer), and retries: 429 after Retry-After, 5xx/529/timeouts with exponential back-off.
  The SDK's own retries are turned off (``retry=False``) so that every wait goes through the
  injected ``sleep`` and no non-idempotent call is repeated without a look-up first.
- ``publish_pending`` (for the scheduler) and ``publish_draft_to_notion`` (for the Slack
  "Publish to Notion" button) drive the outbox in ``tools.outbox``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal, TypeVar

from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError
from pydantic import BaseModel, Field

from bot.config import Settings
from tools import outbox
from tools.db import SessionFactory, session_scope
from tools.models import PublishRequest, PublishStatus
from tools.qbr import QbrDocument, load_qbr
from tools.qbr_documents import publish_blocks
from tools.qbr_draft import QbrError
from tools.qbr_render import PROPERTY_TYPES, notion_properties, split_text
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
Block = dict[str, Any]
BATCH = 100
NOT_CONFIGURED = "Notion is not configured: set NOTION_TOKEN and NOTION_QBR_DATABASE_ID"
STATUS_PUBLISHING = "Publishing"
STATUS_PUBLISHED = "Published"
PROPERTY_SCHEMAS: dict[str, dict[str, Any]] = {
    "Name": {"title": {}},
    "Account": {"rich_text": {}},
    "Quarter": {"select": {}},
    "Health score": {"number": {"format": "number"}},
    "Band": {
        "select": {
            "options": [
                {"name": "GREEN", "color": "green"},
                {"name": "AMBER", "color": "orange"},
                {"name": "RED", "color": "red"},
            ]
        }
    },
    "ARR": {"number": {"format": "dollar"}},
    "Renewal date": {"date": {}},
    "Status": {
        "select": {
            "options": [
                {"name": STATUS_PUBLISHING, "color": "yellow"},
                {"name": STATUS_PUBLISHED, "color": "green"},
            ]
        }
    },
    "Idempotency key": {"rich_text": {}},
}


# -- errors ----------------------------------------------------------------------------------------


class PublishError(Exception):
    """Publishing did not complete."""


class TransientPublishError(PublishError):
    """Notion is busy or unreachable: try again later (``retry_after`` seconds when known)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentPublishError(PublishError):
    """Notion refused the request; retrying the same request cannot succeed."""


class NotionNotConfiguredError(PublishError):
    """NOTION_TOKEN or NOTION_QBR_DATABASE_ID is missing."""


def _status(exc: Exception) -> int | None:
    return exc.status if isinstance(exc, HTTPResponseError) else None


def _permanent_message(exc: HTTPResponseError) -> str:
    if exc.status == 401:
        return "Notion rejected the token (401): check NOTION_TOKEN"
    if exc.status == 403:
        return "the Notion integration lacks access (403): share the QBR database with it"
    if exc.status == 404:
        return (
            "Notion could not find the database or page (404): check NOTION_QBR_DATABASE_ID "
            "and share the database with the integration"
        )
    hint = " (run `csbot notion check --fix`)" if "propert" in str(exc).lower() else ""
    return f"Notion refused the request ({exc.status} {exc.code}): {exc}{hint}"


# -- the publisher ---------------------------------------------------------------------------------


class PublishedPage(BaseModel):
    """The Notion page of a draft version."""

    page_id: str
    url: str
    created: bool = Field(description="False when an earlier page was found by its key.")
    blocks: int


class PropertyProblem(BaseModel):
    name: str
    expected: str
    found: str | None = None


class CheckReport(BaseModel):
    """What ``csbot notion check`` found (and fixed)."""

    ok: bool
    bot_name: str | None = None
    database_title: str | None = None
    data_source_id: str | None = None
    missing: list[str] = Field(default_factory=list)
    wrong_type: list[PropertyProblem] = Field(default_factory=list)
    fixed: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class NotionPublisher:
    """Creates QBR pages in the QBR database; see the module docstring for the guarantees."""

    def __init__(
        self,
        client: Client,
        *,
        qbr_database_id: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 30.0,
        min_interval: float = 0.34,
    ) -> None:
        self.client = client
        self.database_id = qbr_database_id
        self.sleep = sleep
        self.clock = clock
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self.min_interval = min_interval
        self._data_source_id: str | None = None
        self._next_request_at = 0.0

    # -- the retry loop ------------------------------------------------------------------------

    def _throttle(self) -> None:
        """Stay under ~3 requests a second."""
        now = self.clock()
        if self._next_request_at > now:
            self.sleep(self._next_request_at - now)
            now = self._next_request_at
        self._next_request_at = now + self.min_interval

    def _wait_for(self, exc: Exception, failures: int, limited: int) -> float:
        """Seconds to wait before retrying ``exc``; raises when it must not be retried."""
        status = _status(exc)
        if status == 429:
            assert isinstance(exc, HTTPResponseError)
            wait = _retry_after(exc) or self.backoff_seconds * 2**limited
            if wait > self.max_wait_seconds or limited >= 2 * self.max_retries:
                raise TransientPublishError("Notion rate limit (429)", retry_after=wait) from exc
            return wait
        if isinstance(exc, RequestTimeoutError) or (status is not None and status >= 500):
            if failures >= self.max_retries:
                what = "timed out" if status is None else f"answered {status}"
                raise TransientPublishError(f"Notion {what} {failures + 1} times in a row") from exc
            return float(self.backoff_seconds * 2**failures)
        if status == 409:  # conflict_error: Notion asks to retry
            if failures >= self.max_retries:
                raise TransientPublishError("Notion conflict (409)") from exc
            return float(self.backoff_seconds * 2**failures)
        if isinstance(exc, HTTPResponseError):
            raise PermanentPublishError(_permanent_message(exc)) from exc
        raise exc

    def _call(self, op: Callable[[], T], *, recheck: Callable[[], T | None] | None = None) -> T:
        """Run ``op`` with retries; before retrying, ``recheck`` may find that it already worked."""
        failures = limited = 0
        while True:
            self._throttle()
            try:
                return op()
            except (HTTPResponseError, RequestTimeoutError) as exc:
                wait = self._wait_for(exc, failures, limited)
                if _status(exc) == 429:
                    limited += 1
                else:
                    failures += 1
                log.info("notion: retrying in %.1fs after %s", wait, type(exc).__name__)
            self.sleep(wait)
            if recheck is not None:
                done = recheck()
                if done is not None:
                    return done

    # -- reads --------------------------------------------------------------------------------

    def data_source_id(self) -> str:
        """The QBR database's (first) data source id, looked up once."""
        if self._data_source_id is None:
            database = self._call(lambda: _obj(self.client.databases.retrieve(self.database_id)))
            sources = database.get("data_sources") or []
            if not sources:
                raise PermanentPublishError("the Notion QBR database has no data source")
            self._data_source_id = str(sources[0]["id"])
        return self._data_source_id

    def find_page(self, idempotency_key: str) -> dict[str, Any] | None:
        """The page already written for ``idempotency_key``, if any."""
        source = self.data_source_id()
        found = self._call(
            lambda: _obj(
                self.client.data_sources.query(
                    source,
                    filter={
                        "property": "Idempotency key",
                        "rich_text": {"equals": idempotency_key},
                    },
                    page_size=1,
                )
            )
        )
        results = found.get("results") or []
        return dict(results[0]) if results else None

    def count_children(self, page_id: str) -> int:
        """How many top-level blocks the page has."""
        count, cursor = 0, None
        while True:
            kwargs: dict[str, Any] = {"page_size": BATCH}
            if cursor:
                kwargs["start_cursor"] = cursor
            page = self._call(partial(self._list_children, page_id, kwargs))
            count += len(page.get("results") or [])
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return count

    def _list_children(self, page_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        return _obj(self.client.blocks.children.list(page_id, **kwargs))

    # -- writes -------------------------------------------------------------------------------

    def publish(
        self, document: QbrDocument, *, idempotency_key: str, chart_url: str | None = None
    ) -> PublishedPage:
        """Create (or complete) the page of ``document``; safe to call again after any failure."""
        blocks = enforce_limits(publish_blocks(document, chart_url=chart_url))
        page = self.find_page(idempotency_key)
        created = page is None
        if page is None:
            page = self._create(document, idempotency_key, blocks[:BATCH])
            done = min(len(blocks), BATCH) if _is_new(page) else self.count_children(page["id"])
        else:
            done = self.count_children(page["id"])
        page_id = str(page["id"])
        self._append_from(page_id, blocks, done)
        self._call(
            lambda: self.client.pages.update(
                page_id, properties={"Status": {"select": {"name": STATUS_PUBLISHED}}}
            )
        )
        url = str(page.get("url") or f"https://www.notion.so/{page_id.replace('-', '')}")
        return PublishedPage(page_id=page_id, url=url, created=created, blocks=len(blocks))

    def _create(self, document: QbrDocument, key: str, first: list[Block]) -> dict[str, Any]:
        source = self.data_source_id()
        props = notion_properties(document, idempotency_key=key, status=STATUS_PUBLISHING)

        def create() -> dict[str, Any]:
            page = _obj(
                self.client.pages.create(
                    parent={"type": "data_source_id", "data_source_id": source},
                    properties=props,
                    children=first,
                )
            )
            return {**page, "_new": True}

        return self._call(create, recheck=lambda: self.find_page(key))

    def _append_from(self, page_id: str, blocks: list[Block], done: int) -> None:
        while done < len(blocks):
            batch = blocks[done : done + BATCH]
            target = done + len(batch)

            def appended(target: int = target) -> int | None:
                count = self.count_children(page_id)
                return count if count >= target else None

            def append(batch: list[Block] = batch, target: int = target) -> int:
                self.client.blocks.children.append(page_id, children=batch)
                return target

            done = self._call(append, recheck=appended)

    # -- setup check --------------------------------------------------------------------------

    def check(self, *, fix: bool = False) -> CheckReport:
        """Verify the token and the QBR database's properties; ``fix`` adds what is missing."""
        report = CheckReport(ok=False)
        try:
            me = self._call(lambda: _obj(self.client.users.me()))
            report.bot_name = str(me.get("name") or me.get("id"))
            database = self._call(lambda: _obj(self.client.databases.retrieve(self.database_id)))
            report.database_title = "".join(
                t.get("plain_text", "") for t in database.get("title") or []
            )
            source = self.data_source_id()
            report.data_source_id = source
            schema = self._call(lambda: _obj(self.client.data_sources.retrieve(source)))
            props = {name: p.get("type") for name, p in (schema.get("properties") or {}).items()}
            changes = self._schema_changes(props, report)
            if changes and fix:
                self._call(lambda: self.client.data_sources.update(source, properties=changes))
                report.fixed = sorted(changes)
                report.missing = []
        except PublishError as exc:
            report.problems.append(str(exc))
        report.ok = not (report.problems or report.missing or report.wrong_type)
        return report

    def _schema_changes(self, props: dict[str, Any], report: CheckReport) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for name, expected in PROPERTY_TYPES.items():
            found = props.get(name)
            if found is None:
                report.missing.append(name)
                if expected == "title":
                    title = next((n for n, t in props.items() if t == "title"), None)
                    changes[title or name] = {"name": name} if title else PROPERTY_SCHEMAS[name]
                else:
                    changes[name] = PROPERTY_SCHEMAS[name]
            elif found != expected:
                report.wrong_type.append(PropertyProblem(name=name, expected=expected, found=found))
        return changes


def _obj(value: object) -> dict[str, Any]:
    """A synchronous SDK answer as a dict (the SDK types it as ``Any | Awaitable[Any]``)."""
    if not isinstance(value, dict):
        raise PermanentPublishError(f"unexpected answer from Notion: {type(value).__name__}")
    return value


def _is_new(page: dict[str, Any]) -> bool:
    return bool(page.pop("_new", False))


def _retry_after(exc: HTTPResponseError) -> float | None:
    value = exc.headers.get("retry-after") if exc.headers else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def enforce_limits(blocks: list[Block]) -> list[Block]:
    """Re-split any rich-text item over 2,000 characters (the renderers already should)."""
    for block in blocks:
        content = block.get(block.get("type", ""), {})
        for key in ("rich_text", "caption"):
            if key in content:
                content[key] = _split_items(content[key])
        for row in content.get("children", []):
            enforce_limits([row])
        if "cells" in content:
            content["cells"] = [_split_items(cell) for cell in content["cells"]]
    return blocks


def _split_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        text = (item.get("text") or {}).get("content", "")
        if len(text) <= 2000:
            out.append(item)
            continue
        for piece in split_text(text):
            out.append({**item, "text": {**item["text"], "content": piece}})
    return out


def make_publisher(settings: Settings, **options: Any) -> NotionPublisher | None:
    """A publisher from settings, or None when NOTION_TOKEN/NOTION_QBR_DATABASE_ID are unset."""
    if settings.notion_token is None or not settings.notion_qbr_database_id:
        return None
    client = Client(
        auth=settings.notion_token.get_secret_value(),
        retry=False,
        logger=logging.getLogger("bot.notion.sdk"),  # not the SDK's own stdout handler
    )
    return NotionPublisher(client, qbr_database_id=settings.notion_qbr_database_id, **options)


def missing_settings(settings: Settings) -> list[str]:
    """The Notion settings that are unset."""
    missing = []
    if settings.notion_token is None:
        missing.append("NOTION_TOKEN")
    if not settings.notion_qbr_database_id:
        missing.append("NOTION_QBR_DATABASE_ID")
    return missing


# -- the outbox driver -----------------------------------------------------------------------------


class PublishOutcome(BaseModel):
    """What happened to one publish request, in words a CSM can act on."""

    status: Literal["published", "queued", "failed", "not_configured"]
    message: str
    draft_id: int
    request_id: int | None = None
    url: str | None = None
    page_id: str | None = None
    attempts: int = 0
    notify_channel: str | None = None
    notify_thread_ts: str | None = None


def outcome_for(request: PublishRequest) -> PublishOutcome:
    """The user-facing outcome of a stored request."""
    base = {
        "draft_id": request.draft_id,
        "request_id": request.id,
        "attempts": request.attempts,
        "page_id": request.notion_page_id,
        "notify_channel": request.notify_channel,
        "notify_thread_ts": request.notify_thread_ts,
    }
    if request.status == PublishStatus.PUBLISHED.value:
        return PublishOutcome(
            status="published",
            url=request.notion_url,
            message=f"Published to Notion: {request.notion_url}",
            **base,
        )
    if request.status == PublishStatus.FAILED.value:
        return PublishOutcome(
            status="failed",
            message=f"Could not publish to Notion: {request.last_error}. Fix it, then press "
            "Publish again.",
            **base,
        )
    when = request.next_attempt_at
    later = f" (next try after {when.astimezone(UTC):%H:%M} UTC)" if when else ""
    return PublishOutcome(
        status="queued",
        message=f"Notion is busy: the QBR is queued, will publish automatically{later}.",
        **base,
    )


def _send_one(
    sessions: SessionFactory,
    publisher: NotionPublisher,
    request_id: int,
    now: datetime,
    config: ScoringConfig | None,
) -> PublishOutcome | None:
    with session_scope(sessions) as session:
        request = outbox.claim(session, request_id=request_id, now=now)
        if request is None:
            return None
        key = request.idempotency_key
        try:
            document = load_qbr(session, draft_id=request.draft_id, config=config)
        except QbrError as exc:
            failed = outbox.mark_failed(session, request_id=request_id, error=str(exc), now=now)
            return outcome_for(failed)
    try:
        page = publisher.publish(document, idempotency_key=key)
    except TransientPublishError as exc:
        not_before = now + timedelta(seconds=exc.retry_after) if exc.retry_after else None
        return _settle(sessions, request_id, now, retry=str(exc), not_before=not_before)
    except PermanentPublishError as exc:
        return _settle(sessions, request_id, now, failed=str(exc))
    except Exception as exc:  # never lose a request to a bug: log it and keep it queued
        log.exception("notion: unexpected error publishing request %s", request_id)
        return _settle(sessions, request_id, now, retry=f"unexpected error ({type(exc).__name__})")
    with session_scope(sessions) as session:
        done = outbox.mark_published(
            session, request_id=request_id, page_id=page.page_id, url=page.url, now=now
        )
        return outcome_for(done)


def _settle(
    sessions: SessionFactory,
    request_id: int,
    now: datetime,
    *,
    retry: str | None = None,
    failed: str | None = None,
    not_before: datetime | None = None,
) -> PublishOutcome:
    with session_scope(sessions) as session:
        if failed is not None:
            request = outbox.mark_failed(session, request_id=request_id, error=failed, now=now)
        else:
            request = outbox.mark_retry(
                session, request_id=request_id, error=retry or "", now=now, not_before=not_before
            )
        log.warning("notion: request %s %s: %s", request_id, request.status, request.last_error)
        return outcome_for(request)


def publish_pending(
    session_factory: SessionFactory,
    publisher: NotionPublisher,
    *,
    now: datetime,
    limit: int = 20,
    config: ScoringConfig | None = None,
) -> list[PublishOutcome]:
    """Send every due request (the scheduler calls this every few minutes); oldest first."""
    with session_factory() as session:
        due = outbox.due_requests(session, now=now, limit=limit)
    outcomes = []
    for request_id in due:
        outcome = _send_one(session_factory, publisher, request_id, now, config)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def publish_draft_to_notion(
    session_factory: SessionFactory,
    publisher: NotionPublisher | None,
    draft_id: int,
    *,
    now: datetime | None = None,
    requested_by: str | None = None,
    channel: str | None = None,
    thread_ts: str | None = None,
    config: ScoringConfig | None = None,
) -> PublishOutcome:
    """What the "Publish to Notion" button calls: store the request, then try to send it now."""
    if publisher is None:
        return PublishOutcome(status="not_configured", message=NOT_CONFIGURED, draft_id=draft_id)
    now = now or datetime.now(UTC)
    with session_scope(session_factory) as session:
        request = outbox.request_publish(
            session,
            draft_id=draft_id,
            requested_by=requested_by,
            notify_channel=channel,
            notify_thread_ts=thread_ts,
            now=now,
        )
        request_id = request.id or 0
        if request.status in (PublishStatus.PUBLISHED.value, PublishStatus.SENDING.value):
            return outcome_for(request)
    outcome = _send_one(session_factory, publisher, request_id, now, config)
    if outcome is not None:
        return outcome
    with session_factory() as session:  # another worker holds it, or it is not due yet
        stored = session.get(PublishRequest, request_id)
        assert stored is not None
        return outcome_for(stored)
