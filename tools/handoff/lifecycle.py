"""The hand-off lifecycle after the proposal: edit, approve, send, Sales' answer, dismiss, and
the displayed state of the Notion task (written by bot/ through the delivery ledger).

Each step is a guarded transition (``tools.handoff.store.change``): it returns whether *this*
call changed the row, so a double click or a Slack retry applies it at most once.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from tools.handoff.store import (
    EVENT_APPROVED,
    EVENT_DISMISSED,
    EVENT_DISPATCHED,
    EVENT_EDITED,
    EVENT_NOTION_FAILED,
    EVENT_NOTION_WRITTEN,
    MAX_ESTIMATED_ARR,
    MAX_TALK_TRACK,
    NOTION_FAILED,
    NOTION_NONE,
    NOTION_PENDING,
    NOTION_WRITTEN,
    InvalidHandoffEditError,
    add_event,
    change,
    get_handoff,
    transition,
)
from tools.models import HandoffStatus

_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*([km]?)$", re.IGNORECASE)


def parse_arr(text: str) -> Decimal:
    """A dollar amount typed by a person: ``24000``, ``$24,000``, ``24k``, ``1.2m``."""
    cleaned = text.replace("$", "").replace(",", "").strip()
    found = _AMOUNT.match(cleaned)
    if not found:
        raise InvalidHandoffEditError(
            "Enter the estimated ARR as a number of dollars, e.g. 24000 or 24k.", "estimated_arr"
        )
    try:
        amount = Decimal(found.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets numbers through
        raise InvalidHandoffEditError("That is not a number.", "estimated_arr") from exc
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[found.group(2).lower()]
    return check_arr(amount * scale)


def check_arr(amount: Decimal) -> Decimal:
    """``amount`` rounded to cents, if it is a plausible positive ARR."""
    if amount <= 0:
        raise InvalidHandoffEditError("The estimated ARR must be more than $0.", "estimated_arr")
    if amount > MAX_ESTIMATED_ARR:
        raise InvalidHandoffEditError("That estimated ARR is too large.", "estimated_arr")
    return amount.quantize(Decimal("0.01"))


def check_talk_track(text: str) -> str:
    """A talk track with its whitespace trimmed, if it is not empty nor too long."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidHandoffEditError("The talk track cannot be empty.", "talk_track")
    if len(cleaned) > MAX_TALK_TRACK:
        raise InvalidHandoffEditError(
            f"Keep the talk track under {MAX_TALK_TRACK:,} characters.", "talk_track"
        )
    return cleaned


def edit_handoff(
    session: Session,
    *,
    handoff_id: int,
    editor: str | None,
    estimated_arr: Decimal | None = None,
    talk_track: str | None = None,
) -> bool:
    """Change a proposed hand-off's ARR estimate and/or talk track (only while proposed)."""
    row = get_handoff(session, handoff_id=handoff_id)
    values: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    if estimated_arr is not None:
        amount = check_arr(estimated_arr)
        if amount != row.estimated_arr:
            values["estimated_arr"] = amount
            detail["estimated_arr"] = [str(row.estimated_arr), str(amount)]
    if talk_track is not None:
        track = check_talk_track(talk_track)
        if track != row.talk_track:
            values["talk_track"] = track
            detail["talk_track"] = track
    if not values:
        return False
    if "estimated_arr" in values:
        values["formula"] = f"edited by {editor or 'a person'} (was: {row.formula})"[:1000]
    return change(
        session,
        handoff_id,
        (HandoffStatus.PROPOSED.value,),
        values,
        (EVENT_EDITED, editor, detail),
    )


def approve_handoff(session: Session, *, handoff_id: int, approver: str | None) -> bool:
    """proposed -> approved. True only for the one call that approved it (then send it)."""
    return change(
        session,
        handoff_id,
        (HandoffStatus.PROPOSED.value,),
        {"status": HandoffStatus.APPROVED.value, "approved_by": approver},
        (EVENT_APPROVED, approver, {}),
    )


def mark_sent(
    session: Session,
    *,
    handoff_id: int,
    slack_channel: str,
    slack_ts: str,
    notion_page_id: str | None = None,
    notion_pending: bool = False,
) -> bool:
    """approved -> sent: the task is in the sales channel (and Notion, or queued for it)."""
    notion = NOTION_WRITTEN if notion_page_id else NOTION_PENDING if notion_pending else NOTION_NONE
    detail = {"channel": slack_channel, "ts": slack_ts, "notion_page_id": notion_page_id}
    return change(
        session,
        handoff_id,
        (HandoffStatus.APPROVED.value,),
        {
            "status": HandoffStatus.SENT.value,
            "sales_channel": slack_channel,
            "sales_ts": slack_ts,
            "notion_page_id": notion_page_id,
            "notion_status": notion,
        },
        (EVENT_DISPATCHED, None, detail),
    )


def record_sales_response(
    session: Session, *, handoff_id: int, accepted: bool, rep: str | None
) -> bool:
    """sent -> accepted | declined, by the Sales rep; closes the hand-off."""
    status = HandoffStatus.ACCEPTED if accepted else HandoffStatus.DECLINED
    return change(
        session,
        handoff_id,
        (HandoffStatus.SENT.value,),
        {"status": status.value, "sales_rep": rep, "open_key": None},
        (status.value, rep, {}),
    )


def dismiss_handoff(
    session: Session, *, handoff_id: int, actor: str | None, reason: str = ""
) -> bool:
    """proposed | approved (not yet sent) -> dismissed; closes the hand-off."""
    return change(
        session,
        handoff_id,
        (HandoffStatus.PROPOSED.value, HandoffStatus.APPROVED.value),
        {"status": HandoffStatus.DISMISSED.value, "open_key": None},
        (EVENT_DISMISSED, actor, {"reason": reason[:500]} if reason else {}),
    )


def record_notion_delivery(
    session: Session,
    *,
    handoff_id: int,
    status: str,
    page_id: str | None,
    error: str | None,
    attempts: int,
) -> None:
    """Show the outcome of the hand-off's Notion delivery (a ledger row, ``tools.outbox``) on
    the proposal: ``notion_status`` is only the displayed state, the ledger decides retries.

    ``status`` is the ledger's: posted -> written, failed -> failed, else pending (a retry is
    due). The timeline gets an event for each outcome.
    """
    row = get_handoff(session, handoff_id=handoff_id)
    values: dict[str, Any] = {"notion_attempts": attempts}
    event: tuple[str, dict[str, Any]]
    if status == "posted":
        values |= {"notion_status": NOTION_WRITTEN, "notion_page_id": page_id, "notion_error": None}
        event = (EVENT_NOTION_WRITTEN, {"page_id": page_id})
    else:
        gave_up = status == "failed"
        values |= {
            "notion_status": NOTION_FAILED if gave_up else NOTION_PENDING,
            "notion_error": (error or "unknown error")[:500],
        }
        event = (EVENT_NOTION_FAILED, {"error": values["notion_error"], "gave_up": gave_up})
    transition(session, handoff_id, (row.status,), values)
    add_event(session, row, event[0], None, event[1])


# -- what the Slack surfaces list ------------------------------------------------------------
