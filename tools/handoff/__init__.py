"""Expansion hand-offs to Sales: proposal, edit, approval, dispatch and Sales' answer.

Lifecycle: ``proposed -> approved -> sent -> accepted | declined``; ``proposed`` or ``approved``
may be ``dismissed``. Every transition is one conditional ``UPDATE ... WHERE status IN
(<expected>)``, so a double click or a Slack retry applies it at most once: each function returns
whether *this* call changed the row, and only the caller that won goes on to post to Sales.
Each transition also writes a ``HandoffEvent`` to the hand-off's timeline.

One open hand-off per account and opportunity type: ``open_key`` is ``{account_id}:{kind}``
while open (unique), cleared when closed. Nothing here talks to Slack or Notion (bot/ does).

Modules: ``store`` (states, errors, cards, reads and guarded updates), ``propose`` (from a
person, Claude or the daily scan), ``lifecycle`` (edit, approve, send, Sales' answer, dismiss,
the Notion task).
"""

from tools.handoff.lifecycle import (
    approve_handoff,
    check_arr,
    check_talk_track,
    dismiss_handoff,
    edit_handoff,
    mark_sent,
    parse_arr,
    record_notion_delivery,
    record_sales_response,
)
from tools.handoff.propose import (
    UnproposedOpportunity,
    fresh_opportunities,
    propose_for_account,
    propose_from_scan,
    propose_handoff,
    record_opportunity,
    unproposed_opportunities,
)
from tools.handoff.store import (
    KINDS,
    ChurnedAccountError,
    DuplicateHandoffError,
    HandoffCard,
    HandoffError,
    HandoffNotFoundError,
    InvalidHandoffEditError,
    NoOpportunityError,
    Source,
    expansion_pipeline,
    get_handoff,
    handoff_card,
    handoff_cards,
    open_handoff_of,
    open_handoffs,
    open_key_for,
    timeline,
)

__all__ = [
    "KINDS",
    "ChurnedAccountError",
    "DuplicateHandoffError",
    "HandoffCard",
    "HandoffError",
    "HandoffNotFoundError",
    "InvalidHandoffEditError",
    "NoOpportunityError",
    "Source",
    "UnproposedOpportunity",
    "approve_handoff",
    "check_arr",
    "check_talk_track",
    "dismiss_handoff",
    "edit_handoff",
    "expansion_pipeline",
    "fresh_opportunities",
    "get_handoff",
    "handoff_card",
    "handoff_cards",
    "mark_sent",
    "open_handoff_of",
    "open_handoffs",
    "open_key_for",
    "parse_arr",
    "propose_for_account",
    "propose_from_scan",
    "propose_handoff",
    "record_notion_delivery",
    "record_opportunity",
    "record_sales_response",
    "timeline",
    "unproposed_opportunities",
]
