"""QBR drafts on schedule: T-90 before each renewal (from the daily scan) and every quarter.

Each draft is created in the same transaction as its DM's claim (``claim_and_deliver`` with
``prepare``), so a crash leaves neither a draft without its DM nor a DM twice.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from slack_sdk import WebClient
from sqlmodel import Session

from bot import alert_blocks
from bot.config import Settings
from bot.jobs.delivery import (
    DeliveryCounts,
    PlannedAlert,
    Poster,
    claim_and_deliver,
    local_day,
    poster_for,
    require_client,
)
from bot.narrator import anthropic_client
from bot.voc_blocks import theme_labeller
from tools.alerts import dates, ledger, policy
from tools.db import SessionFactory
from tools.models import Account, AlertKind
from tools.qbr import create_qbr_draft
from tools.qbr_draft import QbrDraftView
from tools.scoring_config import ScoringConfig
from tools.voc.labels import Labeller
from tools.wording import days_from_now

log = logging.getLogger(__name__)

QUARTER_MONTHS = "1,4,7,10"


class QbrRunReport(BaseModel):
    """The QBR drafts a job created (or would create)."""

    kind: str
    planned: list[PlannedAlert] = Field(default_factory=list)
    counts: DeliveryCounts = Field(default_factory=DeliveryCounts)


def qbr_payload(
    view: QbrDraftView, *, account: Account, why: str, settings: Settings
) -> dict[str, Any]:
    """The DM announcing a QBR draft to the account's owner (the alerts channel without one)."""
    blocks, text = alert_blocks.qbr_draft_dm(
        view, account_name=account.name, why=why, owner_slack_id=account.owner_slack_id
    )
    channel = policy.route_channel(
        settings.alert_routes,
        default=settings.alerts_channel,
        segment=account.segment,
        owner_slack_id=account.owner_slack_id,
    )
    payload: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
    if account.owner_slack_id:
        payload["dm_user"] = account.owner_slack_id
    payload.update(account_name=account.name, reason=why, draft_id=view.draft_id)
    return payload


def draft_qbr(
    session: Session,
    *,
    account_id: int,
    day: date,
    config: ScoringConfig,
    labeller: Labeller | None = None,
) -> QbrDraftView:
    """A new QBR draft version (structured document + markdown sections) from today's numbers;
    ``labeller`` (Claude) names the voice of the customer's themes."""
    return create_qbr_draft(
        session,
        account_id=account_id,
        as_of=day,
        config=config,
        created_by="scheduler",
        labeller=labeller,
    )


def qbr_claims(
    session_factory: SessionFactory,
    poster: Poster | None,
    *,
    kind: AlertKind,
    due: list[tuple[int, str, str]],
    settings: Settings,
    config: ScoringConfig,
    day: date,
) -> QbrRunReport:
    """Claim, draft and announce one QBR per ``(account_id, period, why)``, once each."""
    report = QbrRunReport(kind=kind.value)
    labeller = theme_labeller(anthropic_client(settings), settings.anthropic_model) if due else None
    with session_factory() as session:
        claimed = {
            a.account_id: a.period
            for a in ledger.latest_alerts(
                session, kind=kind, account_ids=[a for a, _, _ in due]
            ).values()
        }
        names = {a: session.get(Account, a) for a, _, _ in due}
    for account_id, period, why in due:
        account = names.get(account_id)
        if account is None or claimed.get(account_id) == period:
            continue
        claim = ledger.AlertClaim(
            kind=kind,
            account_id=account_id,
            period=period,
            payload={"channel": settings.alerts_channel, "account_name": account.name},
        )
        report.planned.append(
            PlannedAlert(
                key=claim.key,
                kind=kind.value,
                account_id=account_id,
                account_name=account.name,
                channel=f"DM {account.owner_slack_id}"
                if account.owner_slack_id
                else settings.alerts_channel,
                reason=why,
                text=f"QBR draft ready for {account.name}: {why}",
            )
        )

        def prepare(
            session: Session, alert_id: int, account: Account = account, why: str = why
        ) -> None:
            view = draft_qbr(
                session, account_id=account.id or 0, day=day, config=config, labeller=labeller
            )
            payload = qbr_payload(view, account=account, why=why, settings=settings)
            ledger.set_payload(session, alert_id=alert_id, payload=payload)

        try:
            claim_and_deliver(poster, claim, report.counts, prepare=prepare)
        except Exception:
            log.exception("QBR draft for account %s (%s) failed", account.name, claim.key)
            report.counts.failed += 1
    return report


def t90_due(session_factory: SessionFactory, *, day: date) -> list[tuple[int, str, str]]:
    """``(account_id, contract, why)`` of every renewal whose T-90 QBR is due on ``day``."""
    with session_factory() as session:
        contracts = dates.contracts_due_for_t90(session, today=day)
    return [
        (
            c.account_id,
            c.contract_external_id,
            f"renewal on {c.end_date.isoformat()} ({days_from_now((c.end_date - day).days)}): "
            "time to prepare the pre-renewal QBR",
        )
        for c in contracts
    ]


def run_t90(
    session_factory: SessionFactory,
    poster: Poster | None,
    *,
    settings: Settings,
    config: ScoringConfig,
    day: date,
) -> QbrRunReport:
    """Draft and DM the T-90 QBR of every renewal now inside 90 days (the daily scan calls it)."""
    return qbr_claims(
        session_factory,
        poster,
        kind=AlertKind.QBR_T90,
        due=t90_due(session_factory, day=day),
        settings=settings,
        config=config,
        day=day,
    )


def run_quarterly_qbr(
    *,
    session_factory: SessionFactory,
    client: WebClient | None,
    settings: Settings,
    config: ScoringConfig,
    now: datetime,
    dry_run: bool = False,
    worker: str | None = None,
) -> QbrRunReport:
    """A QBR draft for every active account for the quarter of ``now``, each DMed to its owner."""
    require_client(client, dry_run=dry_run)
    day = local_day(now, settings)
    period = dates.quarter_of(day)
    with session_factory() as session:
        ids = dates.active_account_ids(session, today=day)
    poster = poster_for(session_factory, client, now=now, dry_run=dry_run, worker=worker)
    why = f"quarterly business review for {period}"
    return qbr_claims(
        session_factory,
        poster,
        kind=AlertKind.QBR_QUARTERLY,
        due=[(a, period, why) for a in ids],
        settings=settings,
        config=config,
        day=day,
    )
