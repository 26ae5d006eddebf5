"""The publish outbox: a request is stored before anything is sent, then claimed, sent, settled.

States: ``queued`` → ``sending`` (claimed by one worker; attempts + 1) → ``published`` (page id
and URL kept), back to ``queued`` with ``next_attempt_at`` after a transient failure, or
``failed`` after a permanent one (a person fixes the cause and asks again, which re-queues it).
A ``sending`` row older than ``STALE_SENDING`` belongs to a worker that died; it is claimable
again, which is safe because the sender looks the page up by its idempotency key first.
No network I/O here: ``bot.notion`` does the sending.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools.models import PublishRequest, PublishStatus, QbrDraft, utcnow
from tools.qbr_draft import QbrError

STALE_SENDING = timedelta(minutes=10)
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
ERROR_MAX = 300
_SECRETS = re.compile(r"\b(secret_|ntn_|xox[abp]-)[A-Za-z0-9_-]+|Bearer\s+\S+")


def idempotency_key_for(draft: QbrDraft) -> str:
    """The key of one draft version: the same draft version always maps to the same page."""
    return f"qbr:draft-{draft.id}:v{draft.version}"


def short_error(text: str) -> str:
    """An error message fit to store and show: one line, secrets redacted, at most 300 chars."""
    clean = _SECRETS.sub("[redacted]", " ".join(str(text).split()))
    return clean if len(clean) <= ERROR_MAX else clean[: ERROR_MAX - 1] + "…"


def retry_delay(attempts: int) -> timedelta:
    """Back-off before the next run retries: 1 min, 2, 4 … capped at an hour."""
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_RETRY)


def _by_key(session: Session, key: str) -> PublishRequest | None:
    return session.exec(select(PublishRequest).where(PublishRequest.idempotency_key == key)).first()


def request_publish(
    session: Session,
    *,
    draft_id: int,
    requested_by: str | None = None,
    notify_channel: str | None = None,
    notify_thread_ts: str | None = None,
    now: datetime | None = None,
) -> PublishRequest:
    """Store (or find) the publish request of a draft version; the caller commits before sending.

    Asking twice returns the same request: a queued one becomes due now, one that failed
    permanently is re-queued, a published one is returned as it is.
    """
    draft = session.get(QbrDraft, draft_id)
    if draft is None:
        raise QbrError(f"no QBR draft with id {draft_id}")
    now = now or utcnow()
    key = idempotency_key_for(draft)
    existing = _by_key(session, key)
    if existing is None:
        request = PublishRequest(
            kind="qbr",
            draft_id=draft_id,
            idempotency_key=key,
            next_attempt_at=now,
            requested_by=requested_by,
            notify_channel=notify_channel,
            notify_thread_ts=notify_thread_ts,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(request)
        except IntegrityError:  # a concurrent click stored it first
            existing = _by_key(session, key)
            if existing is None:
                raise
        else:
            return request
    if existing.status in (PublishStatus.FAILED.value, PublishStatus.QUEUED.value):
        existing.status = PublishStatus.QUEUED.value
        existing.next_attempt_at = now
        existing.updated_at = now
        session.add(existing)
        session.flush()
    return existing


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            col(PublishRequest.status) == PublishStatus.QUEUED.value,
            or_(
                col(PublishRequest.next_attempt_at).is_(None),
                col(PublishRequest.next_attempt_at) <= now,
            ),
        ),
        and_(
            col(PublishRequest.status) == PublishStatus.SENDING.value,
            col(PublishRequest.updated_at) < now - STALE_SENDING,
        ),
    )


def due_requests(session: Session, *, now: datetime, limit: int = 20) -> list[int]:
    """Ids of requests a worker may claim now, oldest first."""
    rows = session.exec(
        select(PublishRequest.id)
        .where(_claimable(now))
        .order_by(col(PublishRequest.created_at), col(PublishRequest.id))
        .limit(limit)
    ).all()
    return [int(r) for r in rows if r is not None]


def claim(session: Session, *, request_id: int, now: datetime) -> PublishRequest | None:
    """Atomically mark a due request ``sending`` (attempts + 1); None if someone else has it."""
    result = session.execute(
        update(PublishRequest)
        .where(col(PublishRequest.id) == request_id, _claimable(now))
        .values(
            status=PublishStatus.SENDING.value,
            attempts=col(PublishRequest.attempts) + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.flush()
    request = session.get(PublishRequest, request_id, populate_existing=True)
    return request


def _settle(session: Session, request_id: int, now: datetime, **values: object) -> PublishRequest:
    request = session.get(PublishRequest, request_id, populate_existing=True)
    if request is None:
        raise QbrError(f"no publish request with id {request_id}")
    for name, value in values.items():
        setattr(request, name, value)
    request.updated_at = now
    session.add(request)
    session.flush()
    return request


def mark_published(
    session: Session, *, request_id: int, page_id: str, url: str, now: datetime
) -> PublishRequest:
    """The page exists with all its content."""
    return _settle(
        session,
        request_id,
        now,
        status=PublishStatus.PUBLISHED.value,
        notion_page_id=page_id,
        notion_url=url,
        last_error=None,
        next_attempt_at=None,
    )


def mark_retry(
    session: Session,
    *,
    request_id: int,
    error: str,
    now: datetime,
    not_before: datetime | None = None,
    page_id: str | None = None,
) -> PublishRequest:
    """A transient failure: back to ``queued``, due again after the back-off (or ``not_before``)."""
    current = session.get(PublishRequest, request_id, populate_existing=True)
    attempts = current.attempts if current else 1
    due = now + retry_delay(attempts)
    if not_before is not None:
        due = max(due, not_before)
    values: dict[str, object] = {
        "status": PublishStatus.QUEUED.value,
        "last_error": short_error(error),
        "next_attempt_at": due,
    }
    if page_id:
        values["notion_page_id"] = page_id
    return _settle(session, request_id, now, **values)


def mark_failed(session: Session, *, request_id: int, error: str, now: datetime) -> PublishRequest:
    """A permanent failure: nothing is retried until a person asks again."""
    return _settle(
        session,
        request_id,
        now,
        status=PublishStatus.FAILED.value,
        last_error=short_error(error),
        next_attempt_at=None,
    )


def pending_count(session: Session) -> int:
    """Requests not yet published or failed (for health checks and the CLI)."""
    return len(
        session.exec(
            select(PublishRequest.id).where(
                col(PublishRequest.status).in_(
                    [PublishStatus.QUEUED.value, PublishStatus.SENDING.value]
                )
            )
        ).all()
    )
