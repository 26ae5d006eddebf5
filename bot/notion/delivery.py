"""Send Notion deliveries from the one delivery ledger (``tools.alerts.ledger``).

A Notion write is queued in the ledger by whatever asks for it (``tools.outbox``); ``NotionSender``
takes it over (a conditional update: one sender at a time, attempts + 1), writes it and records
the outcome exactly like a Slack post: the page id and URL and ``posted``, or the error and the
next retry (``claimed`` with ``next_attempt_at``), or ``failed`` when Notion refused it or the
attempts ran out. Every write looks its page up by the delivery key before creating it, so an
attempt whose answer was lost is recorded, never written twice. An expansion hand-off's task
page is one more such delivery; its outcome is mirrored onto the proposal (``notion_status``,
shown on its cards).

The "Publish to Notion" button (``publish_draft_to_notion``) and the "Create task" / "Done"
presses send at once; the Notion job (``bot.jobs.notion_outbox``) sends whatever is due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlmodel import Session

from bot.deps import Deps
from bot.handoff_notion import write_handoff_page
from bot.jobs.delivery import default_worker
from bot.notion.publisher import (
    NOT_CONFIGURED,
    NotionPublisher,
    PermanentPublishError,
    PublishedPage,
    TransientPublishError,
)
from bot.notion.tasks import task_publisher, write_task_page, write_task_status
from tools import handoff, outbox
from tools.alert_actions import task_view
from tools.alerts import ledger
from tools.db import SessionFactory, session_scope
from tools.models import Alert, AlertKind, AlertStatus
from tools.models_followup import AccountTask
from tools.qbr import load_qbr
from tools.qbr_draft import QbrError
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)

QBR_KINDS = frozenset({AlertKind.NOTION_QBR})
TASK_KINDS = frozenset(
    {AlertKind.NOTION_TASK, AlertKind.NOTION_TASK_STATUS, AlertKind.NOTION_HANDOFF}
)
Write = Callable[[], PublishedPage]


class Delivered(BaseModel):
    """A Notion delivery's state after a send (a snapshot of its ledger row)."""

    id: int
    key: str
    kind: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    page_id: str | None
    url: str | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, row: Alert) -> Delivered:
        return cls(
            id=int(row.id or 0),
            key=row.key,
            kind=row.kind,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            page_id=row.external_id,
            url=row.external_url,
            payload=dict(row.payload),
        )


class WaitingError(TransientPublishError):
    """Something this write needs is not there yet (a task's page, for its status)."""


@dataclass
class NotionSender:
    """Sends Notion deliveries with the publishers that are configured (QBR and/or tasks)."""

    sessions: SessionFactory
    now: datetime
    qbr: NotionPublisher | None = None
    tasks: NotionPublisher | None = None
    config: ScoringConfig | None = None
    worker: str = field(default_factory=default_worker)

    def kinds(self) -> frozenset[AlertKind]:
        """The delivery kinds this sender can write."""
        return (QBR_KINDS if self.qbr else frozenset()) | (
            TASK_KINDS if self.tasks else frozenset()
        )

    def send(self, delivery_id: int) -> Delivered | None:
        """Take the delivery over and write it; None when someone else has it or it is not due."""
        with self.sessions() as session:
            mine = ledger.take_over(
                session, alert_id=delivery_id, claimed_by=self.worker, now=self.now
            )
        return self._deliver(delivery_id) if mine else None

    def send_due(self, *, limit: int = 50) -> list[Delivered]:
        """Write every due delivery of the kinds this sender can write, oldest first."""
        kinds = self.kinds()
        if not kinds:
            return []
        window = ledger.NOTION_RETRY.window
        with self.sessions() as session:
            expired = ledger.expire_claims(session, now=self.now, window=window, kinds=kinds)
            due = ledger.stale_claims(
                session, now=self.now, kinds=kinds, window=window, limit=limit
            )
            ids = [d.id for d in due if d.id is not None]
        if expired:
            log.warning("notion: %d deliveries expired before they could be written", expired)
        return [d for d in (self.send(i) for i in ids) if d is not None]

    # -- one delivery ------------------------------------------------------------------------

    def _deliver(self, delivery_id: int) -> Delivered:
        try:
            with session_scope(self.sessions) as session:
                row = session.get(Alert, delivery_id)
                assert row is not None
                write = self._writer(session, row)
            page = write()
        except TransientPublishError as exc:
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
            return self._settle(delivery_id, str(exc), permanent=False, retry_after=wait)
        except (PermanentPublishError, QbrError) as exc:
            return self._settle(delivery_id, str(exc), permanent=True)
        except Exception as exc:  # never lose a delivery to a bug: log it and retry later
            log.exception("notion: unexpected error writing delivery %s", delivery_id)
            return self._settle(delivery_id, f"unexpected error ({type(exc).__name__})", False)
        with self.sessions() as session:
            ledger.record_target(
                session, alert_id=delivery_id, external_id=page.page_id, url=page.url
            )
            ledger.mark_posted(session, alert_id=delivery_id, claimed_by=self.worker, now=self.now)
            return _mirrored(session, delivery_id)

    def _writer(self, session: Session, row: Alert) -> Write:
        """What writing ``row`` takes, read now (inside the session), run after it closes."""
        key = outbox.page_key(row)
        if row.kind == AlertKind.NOTION_QBR.value:
            if self.qbr is None:
                raise TransientPublishError("the Notion QBR database is not configured")
            document = load_qbr(session, draft_id=int(row.payload["draft_id"]), config=self.config)
            qbr = self.qbr
            return lambda: qbr.publish(document, idempotency_key=key)
        if row.kind == AlertKind.NOTION_HANDOFF.value:
            if self.tasks is None:
                raise TransientPublishError("the Notion task database is not configured")
            card = handoff.handoff_card(session, handoff_id=int(row.payload["handoff_id"]))
            publisher = self.tasks
            return lambda: write_handoff_page(publisher, card, key=key)
        task = session.get(AccountTask, int(row.payload.get("task_id") or 0))
        if task is None:
            raise PermanentPublishError("the task no longer exists")
        tasks = self.tasks
        if tasks is None:
            raise TransientPublishError("the Notion task database is not configured")
        if row.kind == AlertKind.NOTION_TASK.value:
            view = task_view(session, task)
            return lambda: write_task_page(tasks, view, key=key)
        page = outbox.task_page(session, task)
        if page is None or page.status == AlertStatus.FAILED.value:
            raise PermanentPublishError("the task has no Notion page")
        if page.external_id is None:
            raise WaitingError("waiting for the task's Notion page to be written")
        page_id, status = page.external_id, str(row.payload.get("status", ""))
        return lambda: write_task_status(tasks, page_id=page_id, status=status)

    def _settle(
        self,
        delivery_id: int,
        error: str,
        permanent: bool,
        *,
        retry_after: timedelta | None = None,
    ) -> Delivered:
        with self.sessions() as session:
            status = ledger.record_failure(
                session,
                alert_id=delivery_id,
                error=outbox.short_error(error),
                permanent=permanent,
                now=self.now,
                retry_after=retry_after,
            )
            log.warning("notion: delivery %s %s: %s", delivery_id, status, error)
            return _mirrored(session, delivery_id)


def _mirrored(session: Session, delivery_id: int) -> Delivered:
    """The delivery after a send; a hand-off's outcome is also shown on the proposal."""
    row = _fresh(session, delivery_id)
    if row.kind == AlertKind.NOTION_HANDOFF.value:
        handoff.record_notion_delivery(
            session,
            handoff_id=int(row.payload["handoff_id"]),
            status=row.status,
            page_id=row.external_id,
            error=row.last_error,
            attempts=row.attempts,
        )
        session.commit()
        row = _fresh(session, delivery_id)
    return Delivered.of(row)


def _fresh(session: Session, delivery_id: int) -> Alert:
    row = session.get(Alert, delivery_id, populate_existing=True)
    assert row is not None
    return row


# -- task pages: the "Create task" press --------------------------------------------------------


def send_task_page(deps: Deps, task_id: int) -> bool:
    """Write a just-created task's queued Notion page now; True when it is written. A failure
    stays queued in the ledger for the Notion job."""
    publisher = task_publisher(deps.settings, deps.notion, min_interval=0.0, max_retries=1)
    if publisher is None:
        return False
    with deps.sessions() as session:
        task = session.get(AccountTask, task_id)
        page = outbox.task_page(session, task) if task is not None else None
        page_id = page.id if page is not None else None
    if page_id is None:
        return False
    sender = NotionSender(deps.sessions, deps.now(), tasks=publisher, config=deps.config)
    sent = sender.send(page_id)
    return sent is not None and sent.status == AlertStatus.POSTED.value


# -- QBR pages: the "Publish to Notion" button ------------------------------------------------


class PublishOutcome(BaseModel):
    """What happened to one QBR page, in words a CSM can act on."""

    status: Literal["published", "queued", "failed", "not_configured"]
    message: str
    draft_id: int
    request_id: int | None = None
    url: str | None = None
    page_id: str | None = None
    attempts: int = 0
    notify_channel: str | None = None
    notify_thread_ts: str | None = None


def outcome_for(delivery: Delivered) -> PublishOutcome:
    """The user-facing outcome of a QBR page delivery."""
    payload = delivery.payload
    base: dict[str, Any] = {
        "draft_id": int(payload.get("draft_id") or 0),
        "request_id": delivery.id,
        "attempts": delivery.attempts,
        "page_id": delivery.page_id,
        "notify_channel": payload.get("notify_channel"),
        "notify_thread_ts": payload.get("notify_thread_ts"),
    }
    if delivery.status == AlertStatus.POSTED.value:
        return PublishOutcome(
            status="published",
            url=delivery.url,
            message=f"Published to Notion: {delivery.url}",
            **base,
        )
    if delivery.status == AlertStatus.FAILED.value:
        return PublishOutcome(
            status="failed",
            message=f"Could not publish to Notion: {delivery.last_error}. Fix it, then press "
            "Publish again.",
            **base,
        )
    when = delivery.next_attempt_at
    later = f" (next try after {when.astimezone(UTC):%H:%M} UTC)" if when else ""
    return PublishOutcome(
        status="queued",
        message=f"Notion is busy: the QBR is queued, will publish automatically{later}.",
        **base,
    )


def publish_pending(
    session_factory: SessionFactory,
    publisher: NotionPublisher,
    *,
    now: datetime,
    limit: int = 20,
    config: ScoringConfig | None = None,
) -> list[PublishOutcome]:
    """Write every due QBR page (the Notion job does this with the task pages too)."""
    sender = NotionSender(session_factory, now, qbr=publisher, config=config)
    return [outcome_for(d) for d in sender.send_due(limit=limit)]


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
    """What the "Publish to Notion" button calls: queue the page, then try to write it now."""
    if publisher is None:
        return PublishOutcome(status="not_configured", message=NOT_CONFIGURED, draft_id=draft_id)
    now = now or datetime.now(UTC)
    with session_scope(session_factory) as session:
        queued = outbox.request_publish(
            session,
            draft_id=draft_id,
            requested_by=requested_by,
            notify_channel=channel,
            notify_thread_ts=thread_ts,
            now=now,
        )
        delivery_id = int(queued.id or 0)
    sender = NotionSender(session_factory, now, qbr=publisher, config=config)
    sent = sender.send(delivery_id)
    if sent is not None:
        return outcome_for(sent)
    with session_factory() as session:  # written already, or another sender holds it
        return outcome_for(Delivered.of(_fresh(session, delivery_id)))
