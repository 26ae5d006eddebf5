"""The Notion outbox: Notion writes are deliveries in the one delivery ledger.

A Notion write (a QBR draft version's page, a follow-up task's page, a closed task's status, an
approved expansion hand-off's task page) is a
row of ``tools.alerts.ledger`` under its delivery key, stored *queued* (due now, owned by nobody)
in the same transaction as what asks for it. Whoever takes it over first sends it
(``bot.notion.delivery``): the "Publish to Notion" button or the "Create task" press at once, the
Notion job every few minutes after a failure. The same key is written to the page's "Idempotency
key" property, so an attempt whose answer was lost is found in Notion, not created again.

No network I/O here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session

from tools.alerts import ledger
from tools.alerts.ledger import AlertClaim
from tools.models import Alert, AlertKind, AlertStatus, QbrDraft
from tools.models_followup import AccountTask, NotionWrite
from tools.qbr_draft import QbrError

ERROR_MAX = 300
_SECRETS = re.compile(r"\b(secret_|ntn_|xox[abp]-)[A-Za-z0-9_-]+|Bearer\s+\S+")


def short_error(text: str) -> str:
    """An error message fit to store and show: one line, secrets redacted, at most 300 chars."""
    clean = _SECRETS.sub("[redacted]", " ".join(str(text).split()))
    return clean if len(clean) <= ERROR_MAX else clean[: ERROR_MAX - 1] + "…"


# -- keys ------------------------------------------------------------------------------------


def qbr_claim(draft: QbrDraft, payload: dict[str, Any] | None = None) -> AlertClaim:
    """The delivery of one draft version's page: the same version always maps to one page."""
    return AlertClaim(
        kind=AlertKind.NOTION_QBR,
        account_id=draft.account_id,
        period=f"draft-{draft.id}:v{draft.version}",
        payload={"draft_id": draft.id, **(payload or {})},
    )


def task_claim(task: AccountTask) -> AlertClaim:
    """The delivery of a task's Notion page."""
    return AlertClaim(
        kind=AlertKind.NOTION_TASK,
        account_id=task.account_id,
        period=f"task-{task.id}",
        payload={"task_id": task.id},
    )


def task_status_claim(task: AccountTask, status: str) -> AlertClaim:
    """The delivery of a task's status (``Done``) to its Notion page."""
    return AlertClaim(
        kind=AlertKind.NOTION_TASK_STATUS,
        account_id=task.account_id,
        period=f"task-{task.id}:{status.lower()}",
        payload={"task_id": task.id, "status": status},
    )


def handoff_claim(handoff_id: int, account_id: int) -> AlertClaim:
    """The delivery of an approved expansion hand-off's page in the Notion task database."""
    return AlertClaim(
        kind=AlertKind.NOTION_HANDOFF,
        account_id=account_id,
        period=f"handoff-{handoff_id}",
        payload={"handoff_id": handoff_id},
    )


def page_key(delivery: Alert) -> str:
    """The value of the page's "Idempotency key" property (rows migrated from the old outbox
    keep the key their page was written with)."""
    return str(delivery.payload.get("page_key") or delivery.key)


# -- queueing --------------------------------------------------------------------------------


def enqueue(session: Session, claim: AlertClaim, *, now: datetime) -> Alert:
    """Store the delivery due now (or find it); the caller commits, then sends it.

    Asking again for a delivery that failed, or that waits for its retry, makes it due now;
    a posted one is returned as it is.
    """
    alert_id = ledger.claim_alert(session, claim=claim, claimed_by="", now=now, queued=True)
    if alert_id is None:
        existing = ledger.by_key(session, claim.key)
        if existing is None:  # pragma: no cover - the key exists: the insert lost to it
            raise QbrError(f"delivery {claim.key} vanished")
        if ledger.requeue(session, alert_id=existing.id or 0, now=now):
            session.expire(existing)
        return existing
    found = session.get(Alert, alert_id)
    assert found is not None
    return found


def request_publish(
    session: Session,
    *,
    draft_id: int,
    requested_by: str | None = None,
    notify_channel: str | None = None,
    notify_thread_ts: str | None = None,
    now: datetime,
) -> Alert:
    """Queue (or find) the Notion page of a draft version; the caller commits before sending."""
    draft = session.get(QbrDraft, draft_id)
    if draft is None:
        raise QbrError(f"no QBR draft with id {draft_id}")
    payload = {
        "requested_by": requested_by,
        "notify_channel": notify_channel,
        "notify_thread_ts": notify_thread_ts,
    }
    return enqueue(session, qbr_claim(draft, payload), now=now)


# -- reading -----------------------------------------------------------------------------------


def task_page(session: Session, task: AccountTask) -> Alert | None:
    """The delivery of a task's Notion page, if it has one."""
    return ledger.by_key(session, task_claim(task).key)


def notion_state(delivery: Alert | None) -> NotionWrite:
    """A delivery's state in the words task surfaces use."""
    if delivery is None:
        return NotionWrite.NONE
    if delivery.status == AlertStatus.POSTED.value:
        return NotionWrite.WRITTEN
    if delivery.status == AlertStatus.FAILED.value:
        return NotionWrite.FAILED
    return NotionWrite.PENDING
