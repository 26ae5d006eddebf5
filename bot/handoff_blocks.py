"""Block Kit for expansion hand-offs: the CSM's proposal card, the edit modal, the Sales card.

Buttons carry the hand-off id only; the listeners re-read the record, so a stale card can never
apply an old state. Everything is clipped by ``bot.blocks.fit_blocks``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bot.blocks import (
    MAX_LIST_ITEMS,
    MAX_VIEW_BLOCKS,
    Block,
    Rendered,
    actions,
    bullets,
    button,
    context,
    divider,
    esc,
    fit_blocks,
    header,
    message,
    plain,
    section,
)
from bot.slack_out import channel_link, mention
from tools.facts import money_text
from tools.handoff import HandoffCard, UnproposedOpportunity

ACTION_APPROVE = "handoff_approve"
ACTION_EDIT = "handoff_edit"
ACTION_DISMISS = "handoff_dismiss"
ACTION_ACCEPT = "handoff_accept"
ACTION_DECLINE = "handoff_decline"
ACTION_PROPOSE = "handoff_propose"
ACTIONS = frozenset(
    {ACTION_APPROVE, ACTION_EDIT, ACTION_DISMISS, ACTION_ACCEPT, ACTION_DECLINE, ACTION_PROPOSE}
)

VIEW_EDIT = "handoff_edit_modal"
BLOCK_ARR = "handoff_arr"
BLOCK_TALK_TRACK = "handoff_talk_track"
INPUT_ARR = "arr"
INPUT_TALK_TRACK = "talk_track"

STATUS_LABEL = {
    "proposed": ":memo: Proposed, waiting for your approval",
    "approved": ":hourglass_flowing_sand: Approved, being sent to Sales",
    "sent": ":outbox_tray: Sent to Sales, waiting for a rep",
    "accepted": ":white_check_mark: Accepted by Sales",
    "declined": ":x: Declined by Sales",
    "dismissed": ":wastebasket: Dismissed",
}
KIND_LABEL = {
    "seats": "More seats",
    "module": "Module / tier upgrade",
    "integration": "Integration",
}


def status_label(card: HandoffCard) -> str:
    """The hand-off's status in words, with who moved it there."""
    label = STATUS_LABEL.get(card.status, card.status)
    if card.status in ("accepted", "declined") and card.sales_rep:
        label += f" ({mention(card.sales_rep)})"
    if card.status == "sent" and card.sales_channel:
        label += f" in {channel_link(card.sales_channel)}"
    return label


def _summary(card: HandoffCard) -> list[Block]:
    kind = KIND_LABEL.get(card.kind, card.kind)
    return [
        section(
            f"*{esc(card.account_name)}* · {esc(kind)} · *~{money_text(card.estimated_arr)}/yr*\n"
            f"{esc(card.title)}",
        ),
        section("*Evidence*\n" + bullets((esc(e) for e in card.evidence), limit=5, empty="_none_")),
        context(f"_Estimate: {esc(card.formula)}_" if card.formula else "_Estimate: —_"),
        section(f"*Talk track*\n>{esc(card.talk_track)}"),
    ]


def proposal_card(card: HandoffCard, *, note: str | None = None) -> Rendered:
    """The CSM's card: the evidence, estimate and talk track, with Approve / Edit / Dismiss
    while proposed (its status, without buttons, once it has moved on)."""
    blocks: list[Block] = [header(f"Expansion hand-off #{card.handoff_id}: {card.account_name}")]
    if note:
        blocks.append(section(note))
    blocks.extend(_summary(card))
    blocks.append(context(status_label(card), f"Owner {_owner(card)} · source {card.source}"))
    if card.status == "proposed":
        value = str(card.handoff_id)
        blocks.append(
            actions(
                button("Approve & send to Sales", ACTION_APPROVE, value, style="primary"),
                button("Edit", ACTION_EDIT, value),
                button("Dismiss", ACTION_DISMISS, value, style="danger"),
                block_id=f"handoff_{card.handoff_id}",
            )
        )
    text = (
        f"Expansion hand-off #{card.handoff_id} for {esc(card.account_name)}: "
        f"{esc(card.title)} (~{money_text(card.estimated_arr)}/yr) · {card.status}"
    )
    return message(blocks, text)


def proposals_message(cards: Sequence[tuple[HandoffCard, bool]], *, account_name: str) -> Rendered:
    """The answer to "Propose expansion" under /health: one card per opportunity type."""
    blocks: list[Block] = [
        header(f"{account_name} · expansion opportunities"),
        context("Review each hand-off: nothing reaches Sales until you press Approve."),
    ]
    for card, created in cards:
        blocks.append(divider())
        if not created:
            blocks.append(
                section(
                    f":information_source: Already open as hand-off #{card.handoff_id} "
                    f"({card.status}); not proposed again."
                )
            )
        rendered, _ = proposal_card(card)
        blocks.extend(rendered[1:])
    new = sum(1 for _, created in cards if created)
    return message(blocks, f"{esc(account_name)}: {new} new expansion hand-off proposals")


def _owner(card: HandoffCard) -> str:
    return f"{mention(card.owner_slack_id)}" if card.owner_slack_id else "unassigned"


def edit_modal(card: HandoffCard, *, private_metadata: str) -> dict[str, Any]:
    """The modal to adjust the ARR estimate and the talk track before approving."""
    blocks: list[Block] = [
        section(f"*{esc(card.account_name)}* · {esc(card.title)}"),
        context(f"_Current estimate: {esc(card.formula)}_"),
        {
            "type": "input",
            "block_id": BLOCK_ARR,
            "label": plain("Estimated ARR impact ($/year)", 2000),
            "hint": plain("A number of dollars, e.g. 24000 or 24k.", 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": INPUT_ARR,
                "initial_value": f"{card.estimated_arr:.2f}".removesuffix(".00"),
            },
        },
        {
            "type": "input",
            "block_id": BLOCK_TALK_TRACK,
            "label": plain("Talk track for the Sales rep", 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": INPUT_TALK_TRACK,
                "multiline": True,
                "max_length": 3000,
                "initial_value": card.talk_track[:3000],
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": VIEW_EDIT,
        "private_metadata": private_metadata[:3000],
        "title": plain(f"Edit hand-off #{card.handoff_id}", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": fit_blocks(blocks, max_blocks=MAX_VIEW_BLOCKS),
    }


def edit_metadata(handoff_id: int) -> str:
    """What the modal remembers: the hand-off's id, nothing else (everything is re-read)."""
    return json.dumps({"id": handoff_id})


def sales_card(card: HandoffCard) -> Rendered:
    """The task posted to the sales channel; Accept / Decline while it waits for a rep."""
    blocks: list[Block] = [header(f"Expansion hand-off: {card.account_name}")]
    blocks.extend(_summary(card))
    approver = f"{mention(card.approved_by)}" if card.approved_by else "a CSM"
    blocks.append(context(f"Approved by {approver} · CSM {_owner(card)} · #{card.handoff_id}"))
    if card.status == "sent":
        value = str(card.handoff_id)
        blocks.append(
            actions(
                button("Accept", ACTION_ACCEPT, value, style="primary"),
                button("Decline", ACTION_DECLINE, value),
                block_id=f"handoff_sales_{card.handoff_id}",
            )
        )
    else:
        blocks.append(section(status_label(card)))
    text = (
        f"Expansion hand-off for {esc(card.account_name)}: {esc(card.title)} "
        f"(~{money_text(card.estimated_arr)}/yr)"
    )
    return message(blocks, text)


def csm_notice(card: HandoffCard) -> Rendered:
    """What the CSM is told when Sales answers."""
    verb = "accepted" if card.status == "accepted" else "declined"
    rep = f"{mention(card.sales_rep)}" if card.sales_rep else "Sales"
    text = (
        f"{rep} {verb} expansion hand-off #{card.handoff_id} for *{esc(card.account_name)}* "
        f"({esc(card.title)}, ~{money_text(card.estimated_arr)}/yr)."
    )
    return message([section(text)], text)


def sent_note(card: HandoffCard) -> str:
    """The line on the CSM's card once the task is with Sales."""
    where = f"{channel_link(card.sales_channel)}" if card.sales_channel else "the sales channel"
    notion = {
        "written": " and written to Notion",
        "pending": "; the Notion task will be written shortly",
    }.get(card.notion_status, "")
    return f":outbox_tray: Sent to Sales in {where}{notion}."


def unsent_note(card: HandoffCard, gave_up: bool, error: str | None) -> str:
    """The line on the CSM's card when Slack did not take the Sales card at once."""
    where = f"{channel_link(card.sales_channel or '')}" if card.sales_channel else "Sales"
    if gave_up:
        return (
            f":warning: Approved, but the card could not be posted to {where}: "
            f"{esc(error or 'unknown error')}. Dismiss it and propose it again once fixed."
        )
    return (
        ":hourglass_flowing_sand: Approved. Slack did not take the card yet; "
        "it will be posted to Sales shortly (once)."
    )


def overview(cards: Sequence[HandoffCard], unproposed: Sequence[UnproposedOpportunity]) -> Rendered:
    """``/expansion``: open hand-offs and their status, then opportunities not yet proposed."""
    blocks: list[Block] = [header("Expansion hand-offs")]
    if cards:
        total = sum((c.estimated_arr for c in cards), Decimal("0"))
        blocks.append(context(f"{len(cards)} open · ~{money_text(total)}/yr in the pipeline"))
    else:
        blocks.append(section("_No open hand-offs._"))
    for card in cards[:MAX_LIST_ITEMS]:
        blocks.append(
            section(
                f"*#{card.handoff_id} {esc(card.account_name)}* · {esc(card.title)} · "
                f"~{money_text(card.estimated_arr)}/yr\n{status_label(card)} · owner {_owner(card)}"
            )
        )
    if len(cards) > MAX_LIST_ITEMS:
        blocks.append(context(f"…and {len(cards) - MAX_LIST_ITEMS} more open hand-offs"))
    blocks.extend([divider(), header("Expansion opportunities not yet proposed")])
    if not unproposed:
        blocks.append(section("_Every current opportunity has a hand-off._"))
    for item in unproposed[:MAX_LIST_ITEMS]:
        opp = item.opportunity
        value = json.dumps({"a": item.account_id, "k": opp.kind})
        blocks.append(
            section(
                f"*{esc(item.account_name)}* · {esc(opp.title)} · "
                f"~{money_text(opp.estimated_arr)}/yr\n"
                + "; ".join(esc(e) for e in opp.evidence[:2]),
                accessory=button("Propose", ACTION_PROPOSE, value),
            )
        )
    if len(unproposed) > MAX_LIST_ITEMS:
        blocks.append(context(f"…and {len(unproposed) - MAX_LIST_ITEMS} more opportunities"))
    text = f"Expansion: {len(cards)} open hand-offs, {len(unproposed)} opportunities not proposed"
    return message(blocks, text)


def refusal(reason: str) -> Rendered:
    """A hand-off request that was refused, with the reason (a domain error's message)."""
    return message([section(f":no_entry: {esc(reason)}")], reason)
