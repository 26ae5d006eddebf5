"""The keyless router's everyday asks beyond health/risk/renewals/expansion.

Each ask is a rule (text -> ``Intent`` or None) and an answer (``Intent`` -> ``Reply``) over the
same ``tools/`` functions Claude's tools use:

- "draft a QBR for acme" -> a QBR draft thread (``IntentKind.QBR``)
- "why did globex drop" -> the score now vs 30 days ago and the signals that moved it
- "what's our NRR" / GRR / logo churn / NPS -> portfolio metrics
- "show me accounts whose champion left" (overdue invoice, ticket spike, detractor...) -> at-risk
  accounts filtered by that churn trigger, optionally "my", a segment, a renewal window
- "summarise umbrella's tickets" -> the last 90 days of tickets
- "who hasn't logged in for 30 days" -> active accounts with no product activity in that window
- "what should I do about globex" -> the playbook and next actions

``rules`` holds the rules (tried by ``bot/router.py`` in ``RULES`` order), ``answers`` the answers.
"""

from bot.asks.answers import ANSWERS
from bot.asks.rules import RULES, SEGMENTS, segment_in

__all__ = ["ANSWERS", "RULES", "SEGMENTS", "segment_in"]
