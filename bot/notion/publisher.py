"""Write pages to a Notion database, idempotently, with bounded retries.

``NotionPublisher`` talks to Notion (API 2025-09-03) through an injected ``notion_client.Client``:
it resolves a database's data source, finds an earlier page by its "Idempotency key" property
before creating one (and again after a create whose answer was lost), creates a QBR page with the
first 100 blocks and appends the rest 100 at a time (resuming from the page's current child
count after a lost answer), and retries: 429 after Retry-After, 5xx/529/timeouts with
exponential back-off. The SDK's own retries are turned off (``retry=False``) so that every wait
goes through the injected ``sleep`` and no non-idempotent call is repeated without a look-up
first. The same publisher on the task database writes follow-up tasks (``bot.notion.tasks``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from notion_client import Client
from notion_client.errors import HTTPResponseError, RequestTimeoutError
from pydantic import BaseModel, Field

from bot.config import Settings
from tools.qbr import QbrDocument
from tools.qbr_documents import publish_blocks
from tools.qbr_render import PROPERTY_TYPES, notion_properties, split_text

log = logging.getLogger(__name__)

T = TypeVar("T")
Block = dict[str, Any]
BATCH = 100
NOT_CONFIGURED = "Notion is not configured: set NOTION_TOKEN and NOTION_QBR_DATABASE_ID"
STATUS_PUBLISHING = "Publishing"
STATUS_PUBLISHED = "Published"
KEY_PROPERTY = "Idempotency key"
"""The rich-text property holding a page's delivery key: how a lost answer is found again."""
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
    """Creates pages in one database; see the module docstring for the guarantees."""

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
        self._schema: dict[str, Any] | None = None
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

    def schema(self) -> dict[str, Any]:
        """The data source's properties (name -> property object), looked up once."""
        if self._schema is None:
            source = self.data_source_id()
            found = self._call(lambda: _obj(self.client.data_sources.retrieve(source)))
            self._schema = dict(found.get("properties") or {})
        return self._schema

    def find_page(self, idempotency_key: str) -> dict[str, Any] | None:
        """The page already written for ``idempotency_key``, if any."""
        source = self.data_source_id()
        found = self._call(
            lambda: _obj(
                self.client.data_sources.query(
                    source,
                    filter={
                        "property": KEY_PROPERTY,
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

    def create_page(
        self, properties: dict[str, Any], children: list[Block], *, idempotency_key: str
    ) -> PublishedPage:
        """A small page (at most 100 blocks) written once under ``idempotency_key``.

        Needs the key property in the database (``KEY_PROPERTY``): without it a create whose
        answer was lost could not be found again, so it is refused rather than risk a duplicate.
        """
        if self.schema().get(KEY_PROPERTY, {}).get("type") != "rich_text":
            raise PermanentPublishError(
                f"the Notion database has no {KEY_PROPERTY!r} text property: add it so that "
                "csbot can find a page it already wrote"
            )
        page = self.find_page(idempotency_key)
        if page is not None:
            return _published(page, created=False, blocks=len(children))
        key_value = {"rich_text": [{"type": "text", "text": {"content": idempotency_key}}]}
        props = {**properties, KEY_PROPERTY: key_value}
        source = self.data_source_id()

        def create() -> dict[str, Any]:
            return _obj(
                self.client.pages.create(
                    parent={"type": "data_source_id", "data_source_id": source},
                    properties=props,
                    children=children[:BATCH],
                )
            )

        page = self._call(create, recheck=lambda: self.find_page(idempotency_key))
        return _published(page, created=True, blocks=len(children))

    def update_properties(self, page_id: str, properties: dict[str, Any]) -> None:
        """Set page properties (idempotent: the same update twice is the same page)."""
        self._call(lambda: self.client.pages.update(page_id, properties=properties))

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


def _published(page: dict[str, Any], *, created: bool, blocks: int) -> PublishedPage:
    page_id = str(page["id"])
    url = str(page.get("url") or f"https://www.notion.so/{page_id.replace('-', '')}")
    return PublishedPage(page_id=page_id, url=url, created=created, blocks=blocks)


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
