"""The daily scan: score the portfolio, then deliver today's churn alerts, T-90 QBR drafts and
expansion proposals (each exactly once), after finishing what an earlier run left unposted."""

from __future__ import annotations

import logging
import time as wallclock
from datetime import date, datetime

from pydantic import BaseModel, Field
from slack_sdk import WebClient
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from bot.jobs.churn_alerts import Narrator, plan_churn_alerts
from bot.jobs.delivery import (
    DeliveryCounts,
    PlannedAlert,
    claim_and_deliver,
    local_day,
    planned,
    poster_for,
    require_client,
    retry_stale_claims,
)
from bot.jobs.proposals import propose_expansions
from bot.jobs.qbr_drafts import QbrRunReport, run_t90
from tools.alert_outcomes import record_outcomes
from tools.db import SessionFactory
from tools.scoring import ScanReport, scan_portfolio
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)

SCAN_ATTEMPTS = 3


class DailyScanReport(BaseModel):
    """What one daily run scored, alerted and drafted."""

    as_of: date
    dry_run: bool
    scan: ScanReport
    planned: list[PlannedAlert]
    counts: DeliveryCounts
    qbr_t90: QbrRunReport
    handoffs: DeliveryCounts = Field(
        default_factory=DeliveryCounts,
        description="Expansion proposals the scan found, DM'd to their owners.",
    )


def scan(session_factory: SessionFactory, day: date, config: ScoringConfig) -> ScanReport:
    """``scan_portfolio``, retried when another replica writes the same day's rows at once."""
    for attempt in range(1, SCAN_ATTEMPTS + 1):
        with session_factory() as session:
            try:
                return scan_portfolio(session, as_of=day, config=config)
            except DBAPIError:
                session.rollback()
                if attempt == SCAN_ATTEMPTS:
                    raise
                log.info("scan of %s collided with another writer; retrying", day)
                wallclock.sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def run_daily_scan(
    *,
    session_factory: SessionFactory,
    client: WebClient | None,
    settings: Settings,
    config: ScoringConfig,
    now: datetime,
    narrator: Narrator | None = None,
    dry_run: bool = False,
    worker: str | None = None,
) -> DailyScanReport:
    """Score the portfolio, then claim and post today's churn alerts and T-90 QBR drafts.

    First finishes what a previous run claimed but never posted. ``dry_run`` scores and plans
    but claims and posts nothing (``client`` may then be None).
    """
    require_client(client, dry_run=dry_run)
    day = local_day(now, settings)
    report = scan(session_factory, day, config)
    poster = poster_for(session_factory, client, now=now, dry_run=dry_run, worker=worker)
    counts = DeliveryCounts()
    if poster is not None:
        counts = retry_stale_claims(
            session_factory=session_factory, client=poster.client, now=now, worker=poster.worker
        )
    with session_factory() as session:
        if not dry_run:  # what became of earlier alerts' accounts (churned / renewed)
            record_outcomes(session, today=day, now=now)
            session.commit()
        claims = plan_churn_alerts(
            session, settings=settings, config=config, day=day, narrator=narrator
        )
    for claim in claims:
        claim_and_deliver(poster, claim, counts)
    qbr = run_t90(session_factory, poster, settings=settings, config=config, day=day)
    handoffs = propose_expansions(poster, config=config, day=day)
    log.info(
        "daily scan %s: %d alerts planned, %d posted, %d retried, %d already claimed",
        day,
        len(claims),
        counts.posted,
        counts.retried,
        counts.already_claimed,
    )
    return DailyScanReport(
        as_of=day,
        dry_run=poster is None,
        scan=report,
        planned=[planned(c) for c in claims],
        counts=counts,
        qbr_t90=qbr,
        handoffs=handoffs,
    )
