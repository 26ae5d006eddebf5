"""The daily scan: score the portfolio, then deliver today's churn alerts and book messages
(each exactly once), after finishing what an earlier run left unposted.

Churn alerts go to the channel one by one, at most ``ALERT_MAX_PER_OWNER`` per owner a day; the
rest, with the day's T-90 QBR drafts and new expansion proposals, go into one book DM per owner
(``bot.jobs.book``): the "state of your book" on an owner's first run or after a downtime, "your
book today" after that. ``BOOK_BATCH=false`` sends one DM per QBR draft and proposal instead.
"""

from __future__ import annotations

import logging
import time as wallclock
from datetime import date, datetime

from pydantic import BaseModel, Field
from slack_sdk import WebClient
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from bot.config import Settings
from bot.jobs.book import BookRunReport, deliver_books
from bot.jobs.churn_alerts import ALL_AT_RISK, Narrator, churn_claims
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
from tools.alerts import book, ledger, policy
from tools.db import SessionFactory
from tools.models import AlertStatus
from tools.results import AccountReport
from tools.scoring import ScanReport, at_risk_accounts, scan_portfolio
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
        description="Expansion proposals DM'd one by one (BOOK_BATCH=false).",
    )
    books: BookRunReport = Field(
        default_factory=BookRunReport,
        description="The book DMs: one per owner at most (BOOK_BATCH=true).",
    )

    @property
    def messages(self) -> list[PlannedAlert]:
        """Every top-level message of the run (posted, or planned in a dry run)."""
        return [*self.planned, *self.qbr_t90.planned, *self.books.planned]


def scan(session_factory: SessionFactory, day: date, config: ScoringConfig) -> ScanReport:
    """``scan_portfolio``, retried when another replica writes the same day's rows at once."""
    for attempt in range(1, SCAN_ATTEMPTS + 1):
        with session_factory() as session:
            try:
                return scan_portfolio(session, as_of=day, config=config, team_figures=True)
            except DBAPIError:
                session.rollback()
                if attempt == SCAN_ATTEMPTS:
                    raise
                log.info("scan of %s collided with another writer; retrying", day)
                wallclock.sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def quiet_first_day(
    session: Session,
    settings: Settings,
    *,
    day: date,
    reports: list[AccountReport],
    decisions: list[policy.ChurnDecision],
) -> book.CappedAlerts:
    """The channel's churn alerts and the ones for the book DMs: owners on their first day
    (``book.modes``: "state") get only news and urgency in the channel
    (``ALERT_FIRST_DAY_*``), then every owner at most ``ALERT_MAX_PER_OWNER``."""
    owners = sorted(
        {book.owner_of(r) for r in reports} | {book.owner_of(d.report) for d in decisions}
    )
    modes = book.modes(session, owners=owners, today=day, catch_up_days=settings.book_catch_up_days)
    first = {o for o, m in modes.items() if m == "state"}
    loud, held = policy.first_day_alerts(
        session,
        reports,
        decisions,
        owners=first,
        today=day,
        rule=policy.FirstDay(
            max_alerts=settings.alert_first_day_max,
            renewal_days=settings.alert_first_day_renewal_days,
        ),
    )
    capped = book.cap_per_owner(loud, cap=settings.alert_max_per_owner)
    return book.CappedAlerts(channel=capped.channel, overflow=[*capped.overflow, *held])


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
        with session_factory() as session:  # items of books retried (or given up) above
            book.settle_items(session, now=now)
    with session_factory() as session:
        if not dry_run:  # what became of earlier alerts' accounts (churned / renewed)
            record_outcomes(session, today=day, now=now)
            session.commit()
        reports = at_risk_accounts(session, as_of=day, config=config, limit=ALL_AT_RISK)
        decisions = policy.decide_churn_alerts(
            session, reports, today=day, quiet_days=settings.alert_quiet_days
        )
        capped = (
            quiet_first_day(session, settings, day=day, reports=reports, decisions=decisions)
            if settings.book_batch
            else book.CappedAlerts(channel=decisions, overflow=[])
        )
    with session_factory() as session:
        claims = churn_claims(
            session, capped.channel, settings=settings, day=day, narrator=narrator
        )
    for claim in claims:
        claim_and_deliver(poster, claim, counts)
    qbr = QbrRunReport(kind="qbr_t90")
    handoffs = DeliveryCounts()
    books = BookRunReport()
    if settings.book_batch:
        books = deliver_books(
            session_factory,
            poster,
            settings=settings,
            config=config,
            day=day,
            reports=reports,
            capped=capped,
        )
    else:
        qbr = run_t90(session_factory, poster, settings=settings, config=config, day=day)
        handoffs = propose_expansions(poster, config=config, day=day)
    if poster is not None:
        with session_factory() as session:
            ledger.claim_alert(
                session,
                claim=book.run_marker(day),
                claimed_by=poster.worker,
                now=now,
                status=AlertStatus.POSTED,
            )
            session.commit()
    log.info(
        "daily scan %s: %d alerts planned, %d book messages, %d posted, %d retried, "
        "%d already claimed",
        day,
        len(claims),
        len(books.planned),
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
        books=books,
    )
