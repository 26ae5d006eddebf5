"""Block Kit primitives: Slack's limits, escaping, the building blocks and ``fit_blocks``.

Each renderer takes typed results from ``tools/`` and returns ``(blocks, fallback_text)``; none
re-computes a number. Blocks are plain dicts. ``fit_blocks`` enforces Slack's limits centrally
(block count, section/field/header lengths, button values, action ids), so a huge input degrades
to a clipped text or an "…and N more" line instead of an ``invalid_blocks`` error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from bot.slack_out import escape_data, mention
from tools.results import (
    AccountSummary,
    Band,
    RiskLevel,
)
from tools.wording import days_from_now

Block = dict[str, Any]
Rendered = tuple[list[Block], str]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 3000
MAX_LIST_ITEMS = 15

# Action ids: the listeners register exactly these (see bot.listeners.REGISTERED).
ACTION_QBR = "health_draft_qbr"
ACTION_HISTORY = "health_show_history"
ACTION_EXPANSION = "health_propose_expansion"
ACTION_SHARE = "health_share"
ACTION_OPEN_HEALTH = "health_open"
ACTION_MORE_AT_RISK = "churn_show_more"
ACTION_MORE_EXPANSION = "expansion_show_more"
ACTION_QBR_PUBLISH = "qbr_publish_notion"
ACTION_QBR_DISCARD = "qbr_discard"
ACTION_EXPLAIN = "health_explain"
ACTIONS = frozenset(
    {
        ACTION_QBR,
        ACTION_EXPLAIN,
        ACTION_HISTORY,
        ACTION_EXPANSION,
        ACTION_SHARE,
        ACTION_OPEN_HEALTH,
        ACTION_MORE_AT_RISK,
        ACTION_MORE_EXPANSION,
        ACTION_QBR_PUBLISH,
        ACTION_QBR_DISCARD,
    }
)

BAND_EMOJI = {Band.GREEN: ":large_green_circle:", Band.AMBER: ":large_yellow_circle:"}
BAND_EMOJI[Band.RED] = ":red_circle:"
RISK_EMOJI = {RiskLevel.HIGH: ":rotating_light:", RiskLevel.MEDIUM: ":warning:"}
RISK_EMOJI[RiskLevel.LOW] = ":white_check_mark:"

# -- primitives -----------------------------------------------------------------------------


def esc(text: object) -> str:
    """Escape user data for mrkdwn (``&``, ``<``, ``>``); keeps mentions and links made by
    ``bot.slack_out``'s helpers. (The output boundary escapes again, so a miss is harmless.)"""
    return escape_data(text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def section(
    text: str | None = None, *, fields: Sequence[str] = (), accessory: Block | None = None
) -> Block:
    block: Block = {"type": "section"}
    if text is not None:
        block["text"] = mrkdwn(text)
    if fields:
        block["fields"] = [mrkdwn(f, MAX_FIELD_TEXT) for f in fields[:MAX_FIELDS]]
    if accessory is not None:
        block["accessory"] = accessory
    if "text" not in block and "fields" not in block:
        block["text"] = mrkdwn(" ")
    return block


def context(*texts: str) -> Block:
    elements = [mrkdwn(t, MAX_CONTEXT_TEXT) for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [mrkdwn(" ")]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id[:MAX_ACTION_ID],
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style in ("primary", "danger"):
        element["style"] = style
    return element


def actions(*buttons: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(buttons[:MAX_ACTION_ELEMENTS])}
    if block_id:
        block["block_id"] = block_id[:MAX_BLOCK_ID]
    return block


def fit_blocks(
    blocks: Sequence[Block], *, max_blocks: int = MAX_MESSAGE_BLOCKS, more: Block | None = None
) -> list[Block]:
    """``blocks`` within Slack's limits; overflow becomes "…and N more" (plus ``more``)."""
    fitted = [_fit_block(b) for b in blocks]
    if len(fitted) <= max_blocks:
        return fitted
    tail: list[Block] = [more] if more is not None else []
    keep = max_blocks - 1 - len(tail)
    hidden = len(fitted) - keep
    return [*fitted[:keep], context(f"…and {hidden} more not shown"), *tail]


def fit_text(text: str) -> str:
    """The fallback ``text`` of a message, non-empty and clipped."""
    return clip(text.strip() or "cs-copilot", MAX_FALLBACK_TEXT)


def _fit_block(block: Block) -> Block:
    out = dict(block)
    kind = out.get("type")
    if isinstance(out.get("block_id"), str):
        out["block_id"] = out["block_id"][:MAX_BLOCK_ID]
    if kind == "header":
        out["text"] = plain(str(out.get("text", {}).get("text", "")), MAX_HEADER_TEXT)
    if kind == "section":
        if isinstance(out.get("text"), dict):
            out["text"] = _fit_text_object(out["text"], MAX_SECTION_TEXT)
        if out.get("fields"):
            out["fields"] = [_fit_text_object(f, MAX_FIELD_TEXT) for f in out["fields"]][
                :MAX_FIELDS
            ]
        if isinstance(out.get("accessory"), dict):
            out["accessory"] = _fit_element(out["accessory"])
    if kind == "context":
        out["elements"] = [
            _fit_text_object(e, MAX_CONTEXT_TEXT)
            if e.get("type") in ("mrkdwn", "plain_text")
            else e
            for e in out.get("elements", [])
        ][:MAX_CONTEXT_ELEMENTS]
    if kind == "actions":
        out["elements"] = [_fit_element(e) for e in out.get("elements", [])][:MAX_ACTION_ELEMENTS]
    return out


def _fit_text_object(obj: dict[str, Any], limit: int) -> dict[str, Any]:
    return {**obj, "text": clip(str(obj.get("text", "")), limit) or " "}


def _fit_element(element: Block) -> Block:
    out = dict(element)
    if "action_id" in out:
        out["action_id"] = str(out["action_id"])[:MAX_ACTION_ID]
    if out.get("type") == "button":
        out["value"] = str(out.get("value", ""))[:MAX_BUTTON_VALUE]
        out["text"] = _fit_text_object(out.get("text", plain(" ", 1)), MAX_BUTTON_TEXT)
    return out


def message(blocks: Sequence[Block], text: str, *, more: Block | None = None) -> Rendered:
    """A message within limits: (blocks, fallback text)."""
    return fit_blocks(blocks, more=more), fit_text(text)


# -- formatting -----------------------------------------------------------------------------


def signed(value: float | None, unit: str = "") -> str:
    """``+4.2``/``-3.0`` with an arrow, or ``—`` when unknown."""
    if value is None:
        return "—"
    arrow = (
        ":arrow_up:" if value > 0.5 else ":arrow_down:" if value < -0.5 else ":left_right_arrow:"
    )
    return f"{arrow} {value:+.1f}{unit}"


def band_label(band: Band) -> str:
    return f"{BAND_EMOJI[band]} {band.value}"


def owner_label(summary: AccountSummary) -> str:
    if summary.owner_slack_id:
        return f"{mention(summary.owner_slack_id)}"
    return esc(summary.owner_email) if summary.owner_email else "unassigned"


def renewal_label(summary: AccountSummary, as_of: date) -> str:
    if summary.renewal_date is None:
        return "no active contract"
    days = (summary.renewal_date - as_of).days
    when = days_from_now(days)
    return f"{summary.renewal_date.isoformat()} ({when})"


def bullets(lines: Iterable[str], *, limit: int, empty: str) -> str:
    items = list(lines)
    if not items:
        return empty
    shown = [f"• {line}" for line in items[:limit]]
    if len(items) > limit:
        shown.append(f"_…and {len(items) - limit} more_")
    return "\n".join(shown)
