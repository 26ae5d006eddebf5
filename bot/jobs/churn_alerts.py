"""Churn alerts: the one place where today's churn alert messages are built.

``tools.alerts.policy.decide_churn_alerts`` decides which accounts deserve one (new, worse, quiet
period over, not suppressed); this module renders each into the channel message and its thread
reply (the draft outreach email) and returns the claims the daily scan delivers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlmodel import Session

from bot import alert_blocks
from bot.config import Settings
from tools.alerts import ledger, policy, texts
from tools.models import AlertKind
from tools.results import AccountReport
from tools.scoring import at_risk_accounts
from tools.scoring_config import ScoringConfig
from tools.subscriptions import AlertRoute, alert_route

log = logging.getLogger(__name__)

Narrator = Callable[[AccountReport], str | None]
"""Writes an alert's narrative (Claude, later); None or an exception falls back to the template."""
ALL_AT_RISK = 1_000_000


def narrative(report: AccountReport, day: date, narrator: Narrator | None) -> str:
    """The narrator's text when it has one, else the template (never fails)."""
    if narrator is not None:
        try:
            text = narrator(report)
        except Exception:
            log.exception("narrator failed for account %s; using the template", report.account.name)
        else:
            if text and text.strip():
                return text.strip()
    return texts.template_narrative(report, as_of=day)


def churn_payload(
    report: AccountReport, *, day: date, reason: str, channel: str, narrative: str
) -> dict[str, Any]:
    """The rendered churn alert and its thread reply (the draft email), ready to store."""
    playbook = texts.churn_playbook(report)
    key = ledger.alert_key(AlertKind.CHURN, report.account.account_id, day.isoformat())
    blocks, text = alert_blocks.churn_alert(
        report, as_of=day, reason=reason, narrative=narrative, playbook=playbook, alert_ref=key
    )
    draft = texts.outreach_email(report, as_of=day)
    reply_blocks, reply_text = alert_blocks.outreach_email_reply(
        draft, account_name=report.account.name
    )
    return {
        "channel": channel,
        "text": text,
        "blocks": blocks,
        "thread": {"text": reply_text, "blocks": reply_blocks},
    }


def alert_channel(settings: Settings, report: AccountReport) -> str:
    """Where an account's churn alert goes (``ALERT_ROUTES``, else the alerts channel)."""
    return policy.route_channel(
        settings.alert_routes,
        default=settings.alerts_channel,
        segment=report.account.segment,
        owner_slack_id=report.account.owner_slack_id,
    )


def churn_claim(
    report: AccountReport,
    *,
    settings: Settings,
    day: date,
    reason: str,
    narrator: Narrator | None = None,
    route: AlertRoute | None = None,
) -> ledger.AlertClaim:
    """The rendered, claimable churn alert of one account for ``day``.

    ``route`` (the subscriptions) may send it to the owner's DM instead of the channel.
    """
    channel = alert_channel(settings, report)
    text = narrative(report, day, narrator)
    payload = churn_payload(report, day=day, reason=reason, channel=channel, narrative=text)
    payload["account_name"] = report.account.name
    payload["reason"] = reason
    if route is not None and route.dm_user:
        payload["dm_user"] = route.dm_user
    return policy.churn_claim(report, today=day, payload=payload)


def copy_claims(claim: ledger.AlertClaim, users: list[str]) -> list[ledger.AlertClaim]:
    """DM copies of a churn alert for its subscribers (their buttons act on the original)."""
    copy = {k: v for k, v in claim.payload.items() if k != "thread"}
    return [
        ledger.AlertClaim(
            kind=AlertKind.CHURN_COPY,
            account_id=claim.account_id,
            period=f"{claim.period}:{user}",
            payload={**copy, "dm_user": user},
        )
        for user in users
    ]


def _routed_claims(
    session: Session,
    decision: policy.ChurnDecision,
    *,
    settings: Settings,
    day: date,
    narrator: Narrator | None,
) -> list[ledger.AlertClaim]:
    """One decision's alert, where its subscriptions send it, plus subscribers' copies."""
    report = decision.report
    route = alert_route(
        session,
        channel=alert_channel(settings, report),
        owner_slack_id=report.account.owner_slack_id,
        segment=report.account.segment,
    )
    claim = churn_claim(
        report, settings=settings, day=day, reason=decision.reason, narrator=narrator, route=route
    )
    return [claim, *copy_claims(claim, route.copies)]


def plan_churn_alerts(
    session: Session,
    *,
    settings: Settings,
    config: ScoringConfig,
    day: date,
    narrator: Narrator | None = None,
) -> list[ledger.AlertClaim]:
    """The churn alerts today deserves (new, worse, or quiet period over), rendered."""
    reports = at_risk_accounts(session, as_of=day, config=config, limit=ALL_AT_RISK)
    decisions = policy.decide_churn_alerts(
        session, reports, today=day, quiet_days=settings.alert_quiet_days
    )
    return churn_claims(session, decisions, settings=settings, day=day, narrator=narrator)


def churn_claims(
    session: Session,
    decisions: Sequence[policy.ChurnDecision],
    *,
    settings: Settings,
    day: date,
    narrator: Narrator | None = None,
) -> list[ledger.AlertClaim]:
    """The claims of these decisions' alerts, routed by subscriptions, with subscribers' copies."""
    return [
        claim
        for d in decisions
        for claim in _routed_claims(session, d, settings=settings, day=day, narrator=narrator)
    ]
