"""Scheduled jobs: the daily churn scan, quarterly and T-90 QBR drafts, the weekly digest.

Each job is a plain function (``run_daily_scan``, ``run_quarterly_qbr``, ``run_weekly_digest``)
taking a session factory, a Slack ``WebClient``, the settings, the scoring config and ``now``;
tests and ``csbot scan`` call them directly. ``build_scheduler`` wires them into an APScheduler
``BackgroundScheduler`` (in-memory job store: several processes must not share one). Exactly-once
posting does not come from the scheduler but from the database: every message is claimed under a
unique key before it is posted (``tools.alerts``), so two replicas running the same job post each
alert once, and a crash between claim and post is repaired by the next daily run.
"""

from __future__ import annotations

import logging
import os
import socket
import time as wallclock
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from bot import alert_blocks
from bot.config import Settings
from tools import alerts
from tools.db import SessionFactory
from tools.metrics import portfolio_metrics
from tools.models import Account, Alert, AlertKind, AlertStatus
from tools.qbr import create_qbr_draft
from tools.qbr_draft import QbrDraftView
from tools.results import AccountReport
from tools.scoring import ScanReport, at_risk_accounts, scan_portfolio
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)

Narrator = Callable[[AccountReport], str | None]
"""Writes an alert's narrative (Claude, later); None or an exception falls back to the template."""
Clock = Callable[[], datetime]

JOB_DAILY_SCAN = "daily_scan"
JOB_WEEKLY_DIGEST = "weekly_digest"
JOB_QUARTERLY_QBR = "quarterly_qbr"
JOB_NOTION_OUTBOX = "notion_outbox"
QUARTER_MONTHS = "1,4,7,10"
OUTBOX_MINUTES = 5
SCAN_ATTEMPTS = 3
ALL_AT_RISK = 1_000_000
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "user_not_found",
        "users_not_found",
        "cannot_dm_bot",
        "user_disabled",
        "restricted_action",
    }
)


def scheduler_client(settings: Settings) -> WebClient:
    """A WebClient for scheduled posts: the bot token, ``SLACK_API_URL``, retries on 429."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = WebClient(token=token, base_url=settings.slack_api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def default_worker() -> str:
    """Who is claiming: host, process and a random run id (threads in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def local_day(now: datetime, settings: Settings) -> date:
    """The calendar day of ``now`` in the team's timezone."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


# -- reports ---------------------------------------------------------------------------------


class PlannedAlert(BaseModel):
    """An alert a job decided to post (or, in a dry run, would post)."""

    key: str
    kind: str
    account_id: int | None
    account_name: str
    channel: str
    reason: str
    text: str


class DeliveryCounts(BaseModel):
    """What happened to the claims a job handled."""

    claimed: int = 0
    already_claimed: int = Field(default=0, description="Keys another run had claimed first.")
    posted: int = 0
    retried: int = Field(default=0, description="Stale claims taken over and posted again.")
    failed: int = 0
    pending: int = Field(default=0, description="Left claimed after a transient error.")


class QbrRunReport(BaseModel):
    """The QBR drafts a job created (or would create)."""

    kind: str
    planned: list[PlannedAlert] = Field(default_factory=list)
    counts: DeliveryCounts = Field(default_factory=DeliveryCounts)


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


class DigestReport(BaseModel):
    """What one weekly digest run did."""

    week: str
    planned: PlannedAlert | None
    counts: DeliveryCounts


# -- posting ---------------------------------------------------------------------------------


@dataclass
class _Poster:
    """Posts claimed payloads with one WebClient and records every outcome."""

    sessions: SessionFactory
    client: WebClient
    worker: str
    now: datetime

    def deliver(self, alert_id: int, counts: DeliveryCounts) -> None:
        """Post the claimed alert ``alert_id``: message, then its thread reply; then mark it."""
        with self.sessions() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                return
            payload, channel, ts, reply_ts = (
                dict(alert.payload),
                alert.channel,
                alert.message_ts,
                alert.reply_ts,
            )
            try:
                self._post(session, alert_id, payload, channel, ts, reply_ts)
            except SlackApiError as exc:
                self._failed(session, alert_id, exc, counts, str(exc.response.get("error", "")))
                return
            except (SlackClientError, OSError) as exc:
                self._failed(session, alert_id, exc, counts, "")
                return
            if alerts.mark_posted(session, alert_id=alert_id, claimed_by=self.worker, now=self.now):
                counts.posted += 1
            else:
                log.warning("alert %s was taken over while it was being posted", alert_id)

    def _post(
        self,
        session: Session,
        alert_id: int,
        payload: dict[str, Any],
        channel: str | None,
        ts: str | None,
        reply_ts: str | None,
    ) -> None:
        if ts is None:
            target = self._channel(payload)
            response = self.client.chat_postMessage(
                channel=target,
                text=payload["text"],
                blocks=payload["blocks"],
                unfurl_links=False,
                unfurl_media=False,
            )
            channel, ts = str(response["channel"]), str(response["ts"])
            alerts.record_message(session, alert_id=alert_id, channel=channel, ts=ts)
        thread = payload.get("thread")
        if thread and reply_ts is None and channel is not None:
            reply = self.client.chat_postMessage(
                channel=channel, thread_ts=ts, text=thread["text"], blocks=thread["blocks"]
            )
            alerts.record_message(
                session, alert_id=alert_id, channel=channel, ts=str(reply["ts"]), reply=True
            )

    def _channel(self, payload: dict[str, Any]) -> str:
        user = payload.get("dm_user")
        if not user:
            return str(payload["channel"])
        opened = self.client.conversations_open(users=str(user))
        channel = opened.get("channel") or {}
        return str(channel.get("id") if isinstance(channel, dict) else payload["channel"])

    def _failed(
        self,
        session: Session,
        alert_id: int,
        exc: Exception,
        counts: DeliveryCounts,
        error: str,
    ) -> None:
        session.rollback()
        permanent = error in PERMANENT_ERRORS
        status = alerts.record_failure(
            session,
            alert_id=alert_id,
            error=f"{type(exc).__name__}: {error or exc}",
            permanent=permanent,
        )
        log.warning(
            "posting alert %s failed (%s, %s): %s",
            alert_id,
            "permanent" if permanent else "will retry",
            status,
            error or type(exc).__name__,
        )
        if status == "failed":
            counts.failed += 1
        else:
            counts.pending += 1


def _claim_and_deliver(
    poster: _Poster | None,
    claim: alerts.AlertClaim,
    counts: DeliveryCounts,
    *,
    prepare: Callable[[Session, int], None] | None = None,
) -> bool:
    """Claim ``claim`` (and run ``prepare`` in the same transaction), then post it."""
    if poster is None:
        return False
    with poster.sessions() as session:
        alert_id = alerts.claim_alert(
            session, claim=claim, claimed_by=poster.worker, now=poster.now
        )
        if alert_id is None:
            session.rollback()
            counts.already_claimed += 1
            return False
        if prepare is not None:
            prepare(session, alert_id)
        session.commit()
    counts.claimed += 1
    poster.deliver(alert_id, counts)
    return True


def retry_stale_claims(
    *,
    session_factory: SessionFactory,
    client: WebClient,
    now: datetime,
    worker: str | None = None,
) -> DeliveryCounts:
    """Post the alerts claimed by a run that crashed or failed to post (older than the lease)."""
    counts = DeliveryCounts()
    poster = _Poster(session_factory, client, worker or default_worker(), now)
    with session_factory() as session:
        expired = alerts.expire_claims(session, now=now)
        stale = [a.id for a in alerts.stale_claims(session, now=now) if a.id is not None]
    if expired:
        log.warning("%d claimed alerts expired before they could be posted", expired)
        counts.failed += expired
    for alert_id in stale:
        with session_factory() as session:
            mine = alerts.take_over(session, alert_id=alert_id, claimed_by=poster.worker, now=now)
        if mine:
            counts.retried += 1
            poster.deliver(alert_id, counts)
    return counts


# -- the daily churn scan --------------------------------------------------------------------


def _scan(session_factory: SessionFactory, day: date, config: ScoringConfig) -> ScanReport:
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


def _narrative(report: AccountReport, day: date, narrator: Narrator | None) -> str:
    if narrator is not None:
        try:
            text = narrator(report)
        except Exception:
            log.exception("narrator failed for account %s; using the template", report.account.name)
        else:
            if text and text.strip():
                return text.strip()
    return alerts.template_narrative(report, as_of=day)


def churn_payload(
    report: AccountReport, *, day: date, reason: str, channel: str, narrative: str
) -> dict[str, Any]:
    """The rendered churn alert and its thread reply (the draft email), ready to store."""
    playbook = alerts.churn_playbook(report)
    blocks, text = alert_blocks.churn_alert(
        report, as_of=day, reason=reason, narrative=narrative, playbook=playbook
    )
    draft = alerts.outreach_email(report, as_of=day)
    reply_blocks, reply_text = alert_blocks.outreach_email_reply(
        draft, account_name=report.account.name
    )
    return {
        "channel": channel,
        "text": text,
        "blocks": blocks,
        "thread": {"text": reply_text, "blocks": reply_blocks},
    }


def plan_churn_alerts(
    session: Session,
    *,
    settings: Settings,
    config: ScoringConfig,
    day: date,
    narrator: Narrator | None = None,
) -> list[alerts.AlertClaim]:
    """The churn alerts today deserves (new, worse, or quiet period over), rendered."""
    reports = at_risk_accounts(session, as_of=day, config=config, limit=ALL_AT_RISK)
    ids = [r.account.account_id for r in reports]
    # A failed alert (say, an unknown channel) was never seen: it is no baseline, so the
    # account is alerted again once the cause is fixed.
    last = alerts.latest_alerts(
        session,
        kind=AlertKind.CHURN,
        account_ids=ids,
        statuses=(AlertStatus.CLAIMED, AlertStatus.POSTED),
    )
    # Never alerted at all: the previous snapshot says whether being at risk is news.
    ever = alerts.latest_alerts(session, kind=AlertKind.CHURN, account_ids=ids)
    unalerted = [a for a in ids if a not in ever]
    before = alerts.previous_states(session, before=day, account_ids=unalerted)
    claims = []
    for report in reports:
        reason = alerts.churn_alert_reason(
            report,
            last.get(report.account.account_id),
            today=day,
            quiet_days=settings.alert_quiet_days,
            previous=before.get(report.account.account_id),
        )
        if reason is None:
            continue
        channel = alerts.route_channel(
            settings.alert_routes,
            default=settings.alerts_channel,
            segment=report.account.segment,
            owner_slack_id=report.account.owner_slack_id,
        )
        narrative = _narrative(report, day, narrator)
        payload = churn_payload(
            report, day=day, reason=reason, channel=channel, narrative=narrative
        )
        payload["account_name"] = report.account.name
        payload["reason"] = reason
        claims.append(alerts.churn_claim(report, today=day, payload=payload))
    return claims


def _planned(claim: alerts.AlertClaim) -> PlannedAlert:
    payload = claim.payload
    return PlannedAlert(
        key=claim.key,
        kind=claim.kind.value,
        account_id=claim.account_id,
        account_name=str(payload.get("account_name", "")),
        channel=f"DM {payload['dm_user']}" if payload.get("dm_user") else str(payload["channel"]),
        reason=str(payload.get("reason", "")),
        text=str(payload.get("text", "")),
    )


def _require_client(client: WebClient | None, *, dry_run: bool) -> None:
    """A job that posts needs a Slack client; a dry run does not."""
    if client is None and not dry_run:
        raise ValueError("a scheduled job needs a Slack client unless dry_run is set")


def _poster_for(
    session_factory: SessionFactory,
    client: WebClient | None,
    *,
    now: datetime,
    dry_run: bool,
    worker: str | None,
) -> _Poster | None:
    """Who posts this run's claims: nobody on a dry run (plans only, claims nothing)."""
    if dry_run or client is None:
        return None
    return _Poster(session_factory, client, worker or default_worker(), now)


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

    First retries what a previous run claimed but never posted. ``dry_run`` scores and plans but
    claims and posts nothing (``client`` may then be None).
    """
    _require_client(client, dry_run=dry_run)
    day = local_day(now, settings)
    scan = _scan(session_factory, day, config)
    poster = _poster_for(session_factory, client, now=now, dry_run=dry_run, worker=worker)
    counts = DeliveryCounts()
    if poster is not None:
        counts = retry_stale_claims(
            session_factory=session_factory, client=poster.client, now=now, worker=poster.worker
        )
    with session_factory() as session:
        claims = plan_churn_alerts(
            session, settings=settings, config=config, day=day, narrator=narrator
        )
    for claim in claims:
        _claim_and_deliver(poster, claim, counts)
    qbr = _run_t90(session_factory, poster, settings=settings, config=config, day=day)
    handoffs = _propose_expansions(poster, config=config, day=day)
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
        scan=scan,
        planned=[_planned(c) for c in claims],
        counts=counts,
        qbr_t90=qbr,
        handoffs=handoffs,
    )


def _propose_expansions(
    poster: _Poster | None, *, config: ScoringConfig, day: date
) -> DeliveryCounts:
    """New expansion opportunities become hand-off proposals, each DM'd to the account's owner.

    The proposals and their DM claims are written in one transaction, so a crash after it is
    recovered by ``retry_stale_claims`` like any alert: no proposal without its DM, no DM twice.
    A dry run proposes nothing.
    """
    from bot.handoff_blocks import proposal_card
    from tools import handoff

    counts = DeliveryCounts()
    if poster is None:
        return counts
    claimed: list[int] = []
    with poster.sessions() as session:
        created = handoff.propose_from_scan(session, as_of=day, config=config)
        for card in handoff.handoff_cards(session, created):
            if not card.owner_slack_id:
                continue  # no owner to tell: it waits in /expansion
            blocks, text = proposal_card(
                card, note=":mag: The daily scan found a new expansion opportunity in your book."
            )
            claim = alerts.AlertClaim(
                kind=AlertKind.HANDOFF_PROPOSAL,
                account_id=card.account_id,
                period=f"handoff-{card.handoff_id}",
                payload={
                    "text": text,
                    "blocks": blocks,
                    "channel": card.owner_slack_id,
                    "dm_user": card.owner_slack_id,
                },
            )
            alert_id = alerts.claim_alert(
                session, claim=claim, claimed_by=poster.worker, now=poster.now
            )
            if alert_id is not None:
                claimed.append(alert_id)
        session.commit()
    for alert_id in claimed:
        counts.claimed += 1
        poster.deliver(alert_id, counts)
    return counts


# -- QBR drafts on schedule ------------------------------------------------------------------


def _qbr_payload(
    view: QbrDraftView, *, account: Account, why: str, settings: Settings
) -> dict[str, Any]:
    blocks, text = alert_blocks.qbr_draft_dm(
        view, account_name=account.name, why=why, owner_slack_id=account.owner_slack_id
    )
    channel = alerts.route_channel(
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


def _draft_qbr(
    session: Session, *, account_id: int, day: date, config: ScoringConfig
) -> QbrDraftView:
    """A new QBR draft version (structured document + markdown sections) from today's numbers."""
    return create_qbr_draft(
        session, account_id=account_id, as_of=day, config=config, created_by="scheduler"
    )


def _qbr_claims(
    session_factory: SessionFactory,
    poster: _Poster | None,
    *,
    kind: AlertKind,
    due: list[tuple[int, str, str]],
    settings: Settings,
    config: ScoringConfig,
    day: date,
) -> QbrRunReport:
    """Claim, draft and announce one QBR per ``(account_id, period, why)``, once each."""
    report = QbrRunReport(kind=kind.value)
    with session_factory() as session:
        claimed = {
            a.account_id: a.period
            for a in alerts.latest_alerts(
                session, kind=kind, account_ids=[a for a, _, _ in due]
            ).values()
        }
        names = {a: session.get(Account, a) for a, _, _ in due}
    for account_id, period, why in due:
        account = names.get(account_id)
        if account is None or claimed.get(account_id) == period:
            continue
        claim = alerts.AlertClaim(
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
            view = _draft_qbr(session, account_id=account.id or 0, day=day, config=config)
            payload = _qbr_payload(view, account=account, why=why, settings=settings)
            alerts.set_payload(session, alert_id=alert_id, payload=payload)

        try:
            _claim_and_deliver(poster, claim, report.counts, prepare=prepare)
        except Exception:
            log.exception("QBR draft for account %s (%s) failed", account.name, claim.key)
            report.counts.failed += 1
    return report


def _run_t90(
    session_factory: SessionFactory,
    poster: _Poster | None,
    *,
    settings: Settings,
    config: ScoringConfig,
    day: date,
) -> QbrRunReport:
    with session_factory() as session:
        contracts = alerts.contracts_due_for_t90(session, today=day)
    due = [
        (
            c.account_id,
            c.contract_external_id,
            f"renewal on {c.end_date.isoformat()} ({(c.end_date - day).days} days): "
            "time to prepare the pre-renewal QBR",
        )
        for c in contracts
    ]
    return _qbr_claims(
        session_factory,
        poster,
        kind=AlertKind.QBR_T90,
        due=due,
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
    _require_client(client, dry_run=dry_run)
    day = local_day(now, settings)
    period = alerts.quarter_of(day)
    with session_factory() as session:
        ids = alerts.active_account_ids(session, today=day)
    poster = _poster_for(session_factory, client, now=now, dry_run=dry_run, worker=worker)
    why = f"quarterly business review for {period}"
    return _qbr_claims(
        session_factory,
        poster,
        kind=AlertKind.QBR_QUARTERLY,
        due=[(a, period, why) for a in ids],
        settings=settings,
        config=config,
        day=day,
    )


# -- the weekly digest -----------------------------------------------------------------------


def run_weekly_digest(
    *,
    session_factory: SessionFactory,
    client: WebClient | None,
    settings: Settings,
    config: ScoringConfig,
    now: datetime,
    dry_run: bool = False,
    worker: str | None = None,
) -> DigestReport:
    """Post the leaders' digest for the ISO week of ``now``, once per week."""
    _require_client(client, dry_run=dry_run)
    day = local_day(now, settings)
    with session_factory() as session:
        metrics = portfolio_metrics(session, as_of=day, config=config)
        bucket = next((b for b in metrics.renewals if b.days == 90), None)
        data = alerts.weekly_digest(
            session,
            as_of=day,
            renewals=bucket,
            expansion_count=metrics.expansion_pipeline_count,
            expansion_arr=Decimal(metrics.expansion_pipeline_arr),
        )
    blocks, text = alert_blocks.weekly_digest(data)
    claim = alerts.AlertClaim(
        kind=AlertKind.DIGEST,
        account_id=None,
        period=data.week,
        payload={
            "channel": settings.leaders_channel,
            "text": text,
            "blocks": blocks,
            "account_name": "portfolio",
            "reason": f"weekly digest {data.week}",
        },
    )
    poster = _poster_for(session_factory, client, now=now, dry_run=dry_run, worker=worker)
    counts = DeliveryCounts()
    _claim_and_deliver(poster, claim, counts)
    return DigestReport(week=data.week, planned=_planned(claim), counts=counts)


# -- the scheduler ---------------------------------------------------------------------------


def _hour_minute(value: str) -> tuple[int, int]:
    hour, _, minute = value.partition(":")
    return int(hour), int(minute)


def guard_job(name: str, job: Callable[[datetime], object], clock: Clock) -> Callable[[], None]:
    """The job as APScheduler runs it: logs any failure with context, never raises."""

    def run() -> None:
        now = clock()
        started = wallclock.perf_counter()
        try:
            result = job(now)
        except Exception:
            log.exception("scheduled job %s failed (now=%s)", name, now.isoformat())
            return
        seconds = wallclock.perf_counter() - started
        log.info("scheduled job %s done in %.1fs: %s", name, seconds, _summary(result))

    run.__name__ = name
    return run


def _summary(result: object) -> str:
    if isinstance(result, BaseModel):
        counts = getattr(result, "counts", None)
        if isinstance(counts, DeliveryCounts):
            return counts.model_dump_json()
    if isinstance(result, dict):
        return ", ".join(f"{k}={v}" for k, v in result.items())
    return type(result).__name__


def notion_outbox_job(
    settings: Settings, *, session_factory: SessionFactory, config: ScoringConfig
) -> Callable[[datetime], object] | None:
    """The Notion retries as one job: queued QBR pages (``bot.notion.publish_pending``) and
    pending hand-off tasks (``bot.handoff_flow.retry_notion_tasks``); None without Notion."""
    from bot.deps import Deps
    from bot.handoff_flow import retry_notion_tasks
    from bot.handoff_notion import notion_configured
    from bot.notion import make_publisher, publish_pending

    publisher = make_publisher(settings)
    tasks = notion_configured(settings)
    if publisher is None and not tasks:
        return None

    def publish(now: datetime) -> object:
        pages = (
            publish_pending(session_factory, publisher, now=now, config=config) if publisher else []
        )
        written = 0
        if tasks:
            deps = Deps(
                settings=settings, sessions=session_factory, clock=lambda: now, config=config
            )
            written = retry_notion_tasks(deps)
        return {"qbr_pages": len(pages), "handoff_tasks": written}

    return publish


def build_scheduler(
    settings: Settings,
    *,
    session_factory: SessionFactory,
    client: WebClient,
    clock: Clock,
    config: ScoringConfig,
    narrator: Narrator | None = None,
    outbox_job: Callable[[datetime], object] | None = None,
) -> BackgroundScheduler:
    """A BackgroundScheduler (not started) with the daily scan, weekly digest, quarterly QBRs.

    Plus ``notion_outbox`` every few minutes: ``outbox_job(now)`` when given, else
    ``bot.notion.publish_pending`` when Notion is configured.
    """
    tz = ZoneInfo(settings.timezone)
    scheduler = BackgroundScheduler(
        timezone=tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    common: dict[str, Any] = {"session_factory": session_factory, "client": client}
    common.update(settings=settings, config=config)

    def daily(now: datetime) -> object:
        return run_daily_scan(**common, now=now, narrator=narrator)

    def digest(now: datetime) -> object:
        return run_weekly_digest(**common, now=now)

    def quarterly(now: datetime) -> object:
        return run_quarterly_qbr(**common, now=now)

    scan_h, scan_m = _hour_minute(settings.scan_time)
    digest_h, digest_m = _hour_minute(settings.digest_time)
    qbr_h, qbr_m = _hour_minute(settings.qbr_time)
    jobs: list[tuple[str, Callable[[datetime], object], Any, int]] = [
        (JOB_DAILY_SCAN, daily, CronTrigger(hour=scan_h, minute=scan_m, timezone=tz), 6 * 3600),
        (
            JOB_WEEKLY_DIGEST,
            digest,
            CronTrigger(
                day_of_week=settings.digest_day, hour=digest_h, minute=digest_m, timezone=tz
            ),
            12 * 3600,
        ),
        (
            JOB_QUARTERLY_QBR,
            quarterly,
            CronTrigger(month=QUARTER_MONTHS, day=1, hour=qbr_h, minute=qbr_m, timezone=tz),
            24 * 3600,
        ),
    ]
    if outbox_job is None:
        outbox_job = notion_outbox_job(settings, session_factory=session_factory, config=config)
    if outbox_job is not None:
        jobs.append(
            (
                JOB_NOTION_OUTBOX,
                outbox_job,
                IntervalTrigger(minutes=OUTBOX_MINUTES, timezone=tz),
                60,
            )
        )
    for job_id, func, trigger, grace in jobs:
        scheduler.add_job(
            guard_job(job_id, func, clock),
            trigger,
            id=job_id,
            name=job_id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
        )
    return scheduler


def start_scheduler(
    settings: Settings,
    *,
    session_factory: SessionFactory,
    client: WebClient,
    clock: Clock | None = None,
    config: ScoringConfig,
    narrator: Narrator | None = None,
    outbox_job: Callable[[datetime], object] | None = None,
) -> BackgroundScheduler:
    """Build the scheduler and start it in a background thread (``csbot serve`` calls this)."""
    scheduler = build_scheduler(
        settings,
        session_factory=session_factory,
        client=client,
        clock=clock or (lambda: datetime.now(UTC)),
        config=config,
        narrator=narrator,
        outbox_job=outbox_job,
    )
    scheduler.start()
    for job_id, when in next_runs(scheduler, datetime.now(UTC)):
        log.info("scheduled %s: next run %s", job_id, when.isoformat() if when else "never")
    return scheduler


def next_runs(scheduler: BackgroundScheduler, now: datetime) -> list[tuple[str, datetime | None]]:
    """Each job's id and its next fire time after ``now`` (works before the scheduler starts)."""
    result = []
    for job in scheduler.get_jobs():
        assert isinstance(job, Job)
        when = job.trigger.get_next_fire_time(None, now)
        result.append((str(job.id), when))
    return result


def job_period(now: datetime, settings: Settings) -> dict[str, str]:
    """The claim periods the jobs would use at ``now`` (day, ISO week, quarter)."""
    day = local_day(now, settings)
    return {
        JOB_DAILY_SCAN: day.isoformat(),
        JOB_WEEKLY_DIGEST: alerts.iso_week_of(day),
        JOB_QUARTERLY_QBR: alerts.quarter_of(day),
    }
