"""Lean waste: Muda (unused licences), Mura (erratic usage), Muri (support overload).

Definitions (complete days before ``as_of``, from the metric layer ``tools.facts``; accounts
without a contract in force get nothing; thresholds in ``LeanConfig``):
- Muda: seats used = the metric layer's seats used, the *peak* daily active users over the
  usage window (``health.normalise.usage_window_days``, a conservative choice: it never
  overstates waste), the same figure every surface shows; unused = purchased - used; a
  finding when the unused share >= 20%; annual cost = unused x ARR / seats purchased, rounded
  to dollars. No seats purchased, no finding. No usage rows at all means no seat was used.
- Mura: weekly active users = mean daily active users of each of the last 12 weeks (missing
  days count as zero, weeks before the first active week are dropped, >= 4 weeks needed);
  erratic when std / mean >= 0.35. A gap = consecutive days without active users, counted from
  the first active day in the window, including the run up to ``as_of`` - 1; >= 7 days is a finding.
- Muri: tickets opened in the ticket window (``health.normalise.ticket_window_days``) / seats
  used (at least 1), compared with the median of that ratio over all accounts that filed a
  ticket (always the whole portfolio, whatever ``account_ids``); >= 2x with >= 5 tickets is
  overload. Also urgent tickets open at the start of ``as_of`` opened more than 7 days before.

Every table read goes through the metric layer (``tools.facts``: contracts, seats used, weekly
usage, gaps, ticket counts); this package only applies the rules. Modules: ``config``
(thresholds, severity), ``muda``, ``mura``, ``muri`` (one finding each), ``playbooks``,
``findings`` (``lean_findings``).

``lean_findings_of`` gives the same findings from the facts a report already extracted
(``tools.facts.findings``: ``/health`` reads no table again for them).

Performance: a call for a few accounts reads only those accounts' rows, except for the Muri
portfolio median, which needs every account. On large portfolios that median is kept in the
``MedianCache`` of the session's injected ``Caches`` (``tools.facts.tickets``,
``tools.facts.cache``); every whole-portfolio call recomputes it and refreshes the entry.
"""

from tools.lean.config import LeanConfig
from tools.lean.findings import lean_findings, lean_findings_of

__all__ = ["LeanConfig", "lean_findings", "lean_findings_of"]
