"""Expansion hand-off buttons and the edit modal: adapt Slack to ``tools.handoff``.

- CSM card: Approve (-> the sales channel + Notion, once: ``bot.handoff_flow``), Edit (modal),
  Dismiss.
- Sales card: Accept / Decline by the rep; the CSM gets a DM (a ledger delivery too).
- ``/expansion`` overview: "Propose" for an opportunity not yet proposed.
Buttons carry the hand-off id; every state change is a guarded transition in ``tools.handoff``,
so double clicks and retried requests change nothing the second time. The Edit button opens its
modal in the ack phase (the trigger id expires in 3 s) and the modal's submission answers in
its ack (field errors or close); the buttons' work runs in lazy listeners.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import handoff_blocks, handoff_flow
from bot.blocks import Rendered
from bot.deps import Deps
from bot.handoff_flow import card_of
from bot.listeners.boundary import acknowledge, guarded
from bot.listeners.replies import respond_privately, user_of
from bot.policy import Action, handoff_resource, policy_for
from bot.router import Reply
from bot.slack_out import mention
from tools import handoff
from tools.db import session_scope
from tools.handoff import delivery as handoff_delivery

Handler = Callable[[str, dict[str, Any], BoltContext, Deps], None]
ACTIONS = handoff_blocks.ACTIONS
VIEWS = frozenset({handoff_blocks.VIEW_EDIT})


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value", "")) if isinstance(actions[0], dict) else ""


def _handoff_id(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _show(rendered: Rendered, body: dict[str, Any], context: BoltContext, *, replace: bool) -> None:
    respond_privately(Reply(blocks=rendered[0], text=rendered[1]), body, context, replace=replace)


def _refuse(reason: str, body: dict[str, Any], context: BoltContext) -> None:
    _show(handoff_blocks.refusal(reason), body, context, replace=False)


def _stale(body: dict[str, Any], context: BoltContext) -> None:
    _refuse("That button is out of date. Run `/expansion` again.", body, context)


# -- the CSM's card --------------------------------------------------------------------------


def _allowed(
    action: Action, handoff_id: int, body: dict[str, Any], context: BoltContext, deps: Deps
) -> bool:
    """The policy decides; a refusal is told to the person who pressed the button."""
    policy = policy_for(deps.settings, context.client)
    with session_scope(deps.sessions) as session:
        resource = handoff_resource(session, handoff_id)
    if policy.can(user_of(body), action, resource):
        return True
    _refuse(policy.refusal(action, resource), body, context)
    return False


def approve(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """Approve: the one request that wins the transition sends the task to Sales."""
    handoff_id = _handoff_id(value)
    if handoff_id is None:
        _stale(body, context)
        return
    if not _allowed(Action.HANDOFF_APPROVE, handoff_id, body, context, deps):
        return
    won, card, outcome = handoff_flow.approve(deps, context.client, handoff_id, user_of(body))
    if not won:
        note = f":information_source: Hand-off #{handoff_id} is already {card.status}."
    elif card.status == "sent" or outcome is None:
        note = handoff_blocks.sent_note(card)
    else:
        note = handoff_blocks.unsent_note(card, outcome.status == "failed", outcome.error)
    _show(handoff_blocks.proposal_card(card, note=note), body, context, replace=True)


def dismiss(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """Dismiss a proposed (or approved, unsent) hand-off."""
    handoff_id = _handoff_id(value)
    if handoff_id is None:
        _stale(body, context)
        return
    if not _allowed(Action.HANDOFF_DISMISS, handoff_id, body, context, deps):
        return
    with session_scope(deps.sessions) as session:
        changed = handoff_delivery.dismiss(session, handoff_id=handoff_id, actor=user_of(body))
    card = card_of(deps, handoff_id)
    note = None if changed else f":information_source: Hand-off #{handoff_id} is {card.status}."
    _show(handoff_blocks.proposal_card(card, note=note), body, context, replace=True)


class CardLocations:
    """Where each open Edit modal's card is: the verified ``response_url`` of the Edit press,
    kept here (never in ``private_metadata``) per (hand-off, user) for as long as Slack honours
    it, so the saved edit can redraw the card in place."""

    TTL_SECONDS = 1800.0
    MAX_ENTRIES = 1000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._urls: dict[tuple[int, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def remember(self, handoff_id: int, user: str | None, url: object) -> None:
        """Keep ``url`` for the modal ``user`` opened on ``handoff_id``."""
        if not user or not isinstance(url, str) or not url:
            return
        with self._lock:
            if len(self._urls) >= self.MAX_ENTRIES:
                self._urls.pop(next(iter(self._urls)))
            self._urls[(handoff_id, user)] = (self._clock() + self.TTL_SECONDS, url)

    def take(self, handoff_id: int, user: str | None) -> str | None:
        """The URL kept for ``user``'s modal on ``handoff_id`` (once), if still fresh."""
        with self._lock:
            entry = self._urls.pop((handoff_id, user or ""), None)
        return entry[1] if entry is not None and entry[0] > self._clock() else None


def open_editor(
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    deps: Deps,
    cards: CardLocations,
) -> None:
    """Edit: open the modal at once (ack phase: the trigger id is valid for 3 seconds)."""
    ack()
    handoff_id = _handoff_id(_value(body))
    if handoff_id is None:
        return
    if not _allowed(Action.HANDOFF_EDIT, handoff_id, body, context, deps):
        return
    card = card_of(deps, handoff_id)
    if card.status != "proposed":
        return  # the card on screen is stale; pressing it again shows the real status
    cards.remember(handoff_id, user_of(body), body.get("response_url"))
    context.client.views_open(
        trigger_id=str(body["trigger_id"]),
        view=handoff_blocks.edit_modal(
            card, private_metadata=handoff_blocks.edit_metadata(handoff_id)
        ),
    )


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view") or {}
    try:
        data = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _input(body: dict[str, Any], block_id: str, action_id: str) -> str:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return str((values.get(block_id) or {}).get(action_id, {}).get("value") or "")


def _edit_refusal(
    handoff_id: object, body: dict[str, Any], client: WebClient, deps: Deps
) -> str | None:
    """Why this submission may not edit ``handoff_id`` (None: it may)."""
    if not isinstance(handoff_id, int) or isinstance(handoff_id, bool):
        return "This form is out of date; close it and press Edit again."
    policy = policy_for(deps.settings, client)
    try:
        with session_scope(deps.sessions) as session:
            resource = handoff_resource(session, handoff_id)
    except handoff.HandoffError:
        return "This hand-off no longer exists."
    if policy.can(user_of(body), Action.HANDOFF_EDIT, resource):
        return None
    return policy.refusal(Action.HANDOFF_EDIT, resource)


def save_edit(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: Deps, cards: CardLocations
) -> None:
    """The modal's submission: validate and edit, then close it and redraw the card, or
    answer with ``response_action: errors`` on the fields."""
    handoff_id = _metadata(body).get("id")
    arr_block, track_block = handoff_blocks.BLOCK_ARR, handoff_blocks.BLOCK_TALK_TRACK
    refusal = _edit_refusal(handoff_id, body, client, deps)
    if refusal is not None:
        ack(response_action="errors", errors={arr_block: refusal})
        return
    errors: dict[str, str] = {}
    try:
        amount = handoff.parse_arr(_input(body, arr_block, handoff_blocks.INPUT_ARR))
    except handoff.InvalidHandoffEditError as exc:
        errors[arr_block] = str(exc)
    try:
        track = handoff.check_talk_track(_input(body, track_block, handoff_blocks.INPUT_TALK_TRACK))
    except handoff.InvalidHandoffEditError as exc:
        errors[track_block] = str(exc)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    assert isinstance(handoff_id, int)
    try:
        with session_scope(deps.sessions) as session:
            handoff.edit_handoff(
                session,
                handoff_id=handoff_id,
                editor=user_of(body),
                estimated_arr=amount,
                talk_track=track,
            )
            status = handoff.get_handoff(session, handoff_id=handoff_id).status
    except handoff.HandoffError as exc:
        ack(response_action="errors", errors={arr_block: str(exc)})
        return
    if status != "proposed":
        message = f"Hand-off #{handoff_id} is already {status}; it can no longer be edited."
        ack(response_action="errors", errors={arr_block: message})
        return
    ack()
    refresh_card_after_edit(handoff_id, body, client, deps, cards.take(handoff_id, user_of(body)))


def refresh_card_after_edit(
    handoff_id: int, body: dict[str, Any], client: WebClient, deps: Deps, url: str | None
) -> None:
    """After a saved edit, redraw the CSM's card (through the Edit press's response_url, kept
    server-side, else a DM)."""
    card = card_of(deps, handoff_id)
    blocks, text = handoff_blocks.proposal_card(card, note=":pencil2: Saved your changes.")
    if url:
        Respond(response_url=url)(
            text=text, blocks=blocks, replace_original=True, response_type="ephemeral"
        )
        return
    user = user_of(body)
    if user:
        client.chat_postMessage(channel=user, text=text, blocks=blocks)


# -- the Sales card --------------------------------------------------------------------------


def _sales_answer(accepted: bool) -> Handler:
    def handle(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
        handoff_id = _handoff_id(value)
        if handoff_id is None:
            _stale(body, context)
            return
        action = Action.SALES_ACCEPT if accepted else Action.SALES_DECLINE
        if not _allowed(action, handoff_id, body, context, deps):
            return
        changed, card, notice = handoff_flow.answer(
            deps, handoff_id, accepted=accepted, rep=user_of(body)
        )
        if not changed:
            who = f" by {mention(card.sales_rep)}" if card.sales_rep else ""
            _refuse(f"Hand-off #{handoff_id} is already {card.status}{who}.", body, context)
            return
        if card.sales_channel and card.sales_ts:
            blocks, text = handoff_blocks.sales_card(card)
            context.client.chat_update(
                channel=card.sales_channel, ts=card.sales_ts, text=text, blocks=blocks
            )
        handoff_flow.notify(deps, context.client, notice)

    return handle


# -- proposing -------------------------------------------------------------------------------


def propose_opportunity(value: str, body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """ "Propose" next to an opportunity in ``/expansion``: one hand-off of that type."""
    try:
        data = json.loads(value)
        account_id, kind = int(data["a"]), str(data["k"])
    except (ValueError, KeyError, TypeError):
        _stale(body, context)
        return
    try:
        with session_scope(deps.sessions) as session:
            row = handoff.propose_handoff(
                session,
                account_id=account_id,
                kind=kind,
                source="command",
                proposed_by=user_of(body),
                as_of=deps.today(),
                config=deps.config,
            )
            (card,) = handoff.handoff_cards(session, [row])
    except handoff.HandoffError as exc:
        _refuse(str(exc), body, context)
        return
    _show(handoff_blocks.proposal_card(card), body, context, replace=False)


def propose_account(
    account_id: int, body: dict[str, Any], context: BoltContext, deps: Deps
) -> None:
    """ "Propose expansion" under ``/health``: a card per opportunity type of the account."""
    try:
        with session_scope(deps.sessions) as session:
            results = handoff.propose_for_account(
                session,
                account_id=account_id,
                source="button",
                proposed_by=user_of(body),
                as_of=deps.today(),
                config=deps.config,
            )
            cards = handoff.handoff_cards(session, [row for row, _ in results])
            name = cards[0].account_name if cards else ""
    except handoff.HandoffError as exc:
        _refuse(str(exc), body, context)
        return
    pairs = list(zip(cards, (created for _, created in results), strict=True))
    _show(handoff_blocks.proposals_message(pairs, account_name=name), body, context, replace=False)


def expansion_overview(body: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    """``/expansion``: open hand-offs with their status, then opportunities not yet proposed."""
    with session_scope(deps.sessions) as session:
        cards = handoff.handoff_cards(session, handoff.open_handoffs(session))
        unproposed = handoff.unproposed_opportunities(
            session, as_of=deps.today(), config=deps.config
        )
    _show(handoff_blocks.overview(cards, unproposed), body, context, replace=False)


HANDLERS: dict[str, Handler] = {
    handoff_blocks.ACTION_APPROVE: approve,
    handoff_blocks.ACTION_DISMISS: dismiss,
    handoff_blocks.ACTION_ACCEPT: _sales_answer(True),
    handoff_blocks.ACTION_DECLINE: _sales_answer(False),
    handoff_blocks.ACTION_PROPOSE: propose_opportunity,
}


def register(app: App, deps: Deps, cards: CardLocations) -> None:
    """Register the hand-off buttons (the modal is registered by ``register_modal``)."""
    for action_id, handler in sorted(HANDLERS.items()):

        def work(body: dict[str, Any], context: BoltContext, handler: Handler = handler) -> None:
            handler(_value(body), body, context, deps)

        app.action(action_id)(ack=acknowledge, lazy=[guarded("on_" + action_id, work)])

    def edit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        open_editor(ack, body, context, deps, cards)

    app.action(handoff_blocks.ACTION_EDIT)(edit)


def register_modal(app: App, deps: Deps, cards: CardLocations) -> None:
    """Register the edit modal's ``view_submission`` (called from bot.listeners.views)."""

    def submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        save_edit(ack, body, client, deps, cards)

    app.view(handoff_blocks.VIEW_EDIT)(submit)
