"""Scheduled messaging, the tools side (no Slack here: ``bot.jobs`` renders and posts).

- ``ledger``: the delivery ledger, exactly once (claims, take-overs, outcomes) for every message
- ``policy``: which accounts deserve a churn alert today, and where it goes
- ``texts``: what a churn alert says (template narrative, playbooks, outreach email)
- ``dates``: T-90 renewals, quarters, ISO weeks
- ``digest``: the weekly digest for leaders

The names below are re-exported so ``from tools.alerts import X`` keeps working; new code
imports from the module that owns the concern.
"""

from tools.alerts.dates import (
    T90_DAYS,
    RenewalDue,
    active_account_ids,
    contracts_due_for_t90,
    iso_week_of,
    quarter_of,
)
from tools.alerts.digest import DigestData, NewRisk, weekly_digest
from tools.alerts.ledger import (
    LEASE,
    MAX_ATTEMPTS,
    RETRY_WINDOW,
    AlertClaim,
    alert_key,
    claim_alert,
    expire_claims,
    latest_alerts,
    mark_posted,
    record_failure,
    record_message,
    set_payload,
    stale_claims,
    take_over,
)
from tools.alerts.policy import (
    BAND_RANK,
    LEVEL_RANK,
    ChurnState,
    churn_alert_reason,
    churn_claim,
    previous_states,
    route_channel,
    worsening,
)
from tools.alerts.texts import (
    TRIGGER_PLAYBOOKS,
    OutreachDraft,
    churn_playbook,
    outreach_email,
    renewal_save_playbook,
    stakeholder_playbook,
    template_narrative,
)

__all__ = [
    "BAND_RANK",
    "LEASE",
    "LEVEL_RANK",
    "MAX_ATTEMPTS",
    "RETRY_WINDOW",
    "T90_DAYS",
    "TRIGGER_PLAYBOOKS",
    "AlertClaim",
    "ChurnState",
    "DigestData",
    "NewRisk",
    "OutreachDraft",
    "RenewalDue",
    "active_account_ids",
    "alert_key",
    "churn_alert_reason",
    "churn_claim",
    "churn_playbook",
    "claim_alert",
    "contracts_due_for_t90",
    "expire_claims",
    "iso_week_of",
    "latest_alerts",
    "mark_posted",
    "outreach_email",
    "previous_states",
    "quarter_of",
    "record_failure",
    "record_message",
    "renewal_save_playbook",
    "route_channel",
    "set_payload",
    "stakeholder_playbook",
    "stale_claims",
    "take_over",
    "template_narrative",
    "weekly_digest",
    "worsening",
]
