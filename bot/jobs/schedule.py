"""The schedule table: one row per scheduled job, and the APScheduler wiring around it.

Adding a job = one new module in ``bot/jobs/`` with a ``run_...(*, session_factory, client,
settings, config, now, ...)`` function, plus one ``ScheduledJob`` row in ``SCHEDULE`` below (its
id, what it does, its trigger, its misfire grace and how to make it from a ``JobContext``). The
scheduler, ``csbot serve`` and ``csbot jobs`` pick it up from the table.

``build_scheduler`` uses an in-memory job store: several processes must not share one. Exactly
once does not come from the scheduler but from the delivery ledger (``bot.jobs.delivery``), so
two replicas running the same job post each message once.
"""

from __future__ import annotations

import logging
import time as wallclock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel
from slack_sdk import WebClient

from bot.config import Settings
from bot.jobs.churn_alerts import Narrator
from bot.jobs.daily_scan import run_daily_scan
from bot.jobs.delivery import DeliveryCounts, local_day
from bot.jobs.digest import run_weekly_digest
from bot.jobs.notion_outbox import OUTBOX_MINUTES, notion_outbox_job
from bot.jobs.qbr_drafts import QUARTER_MONTHS, run_quarterly_qbr
from bot.jobs.slack_retry import RETRY_MINUTES, run_slack_retry
from bot.slack_out import safe_client
from tools.alerts import dates
from tools.db import SessionFactory
from tools.scoring_config import ScoringConfig

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
JobFunc = Callable[[datetime], object]

JOB_DAILY_SCAN = "daily_scan"
JOB_WEEKLY_DIGEST = "weekly_digest"
JOB_QUARTERLY_QBR = "quarterly_qbr"
JOB_NOTION_OUTBOX = "notion_outbox"
JOB_SLACK_RETRY = "slack_retry"


@dataclass(frozen=True)
class JobContext:
    """What every job is made from: settings, database, Slack client, scoring config."""

    settings: Settings
    session_factory: SessionFactory
    client: WebClient
    config: ScoringConfig
    narrator: Narrator | None = None

    @property
    def common(self) -> dict[str, Any]:
        """The keyword arguments every ``run_...`` job function takes (besides ``now``)."""
        return {
            "session_factory": self.session_factory,
            "client": self.client,
            "settings": self.settings,
            "config": self.config,
        }


def _hour_minute(value: str) -> tuple[int, int]:
    hour, _, minute = value.partition(":")
    return int(hour), int(minute)


def _at(value: str, tz: ZoneInfo, **fields: str) -> CronTrigger:
    hour, minute = _hour_minute(value)
    return CronTrigger(hour=hour, minute=minute, timezone=tz, **fields)


@dataclass(frozen=True)
class ScheduledJob:
    """One row of the schedule table."""

    id: str
    what: str
    trigger: Callable[[Settings, ZoneInfo], BaseTrigger]
    grace_seconds: int
    make: Callable[[JobContext], JobFunc | None]
    """The job as a function of ``now``; None when it is off (``off_when`` says why)."""
    off_when: str = ""


def _daily_scan(ctx: JobContext) -> JobFunc:
    return lambda now: run_daily_scan(**ctx.common, now=now, narrator=ctx.narrator)


def _weekly_digest(ctx: JobContext) -> JobFunc:
    return lambda now: run_weekly_digest(**ctx.common, now=now)


def _quarterly_qbr(ctx: JobContext) -> JobFunc:
    return lambda now: run_quarterly_qbr(**ctx.common, now=now)


def _slack_retry(ctx: JobContext) -> JobFunc:
    return lambda now: run_slack_retry(**ctx.common, now=now)


def _notion_outbox(ctx: JobContext) -> JobFunc | None:
    return notion_outbox_job(ctx.settings, session_factory=ctx.session_factory, config=ctx.config)


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        JOB_DAILY_SCAN,
        "score the portfolio; churn alerts, the book messages, T-90 QBR drafts, proposals",
        lambda s, tz: _at(s.scan_time, tz),
        6 * 3600,
        _daily_scan,
    ),
    ScheduledJob(
        JOB_WEEKLY_DIGEST,
        "the leaders' digest",
        lambda s, tz: _at(s.digest_time, tz, day_of_week=s.digest_day),
        12 * 3600,
        _weekly_digest,
    ),
    ScheduledJob(
        JOB_QUARTERLY_QBR,
        "a QBR draft for every active account, DM'd to its owner",
        lambda s, tz: _at(s.qbr_time, tz, month=QUARTER_MONTHS, day="1"),
        24 * 3600,
        _quarterly_qbr,
    ),
    ScheduledJob(
        JOB_SLACK_RETRY,
        "retry hand-off cards and notices whose Slack post failed",
        lambda s, tz: IntervalTrigger(minutes=RETRY_MINUTES, timezone=tz),
        60,
        _slack_retry,
    ),
    ScheduledJob(
        JOB_NOTION_OUTBOX,
        "retry queued Notion QBR pages and hand-off tasks",
        lambda s, tz: IntervalTrigger(minutes=OUTBOX_MINUTES, timezone=tz),
        60,
        _notion_outbox,
        off_when="off: Notion is not configured (NOTION_TOKEN and a database id)",
    ),
)
"""Every scheduled job, in the order ``csbot jobs`` lists them."""


def guard_job(name: str, job: JobFunc, clock: Clock) -> Callable[[], None]:
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


def build_scheduler(
    settings: Settings,
    *,
    session_factory: SessionFactory,
    client: WebClient,
    clock: Clock,
    config: ScoringConfig,
    narrator: Narrator | None = None,
    outbox_job: JobFunc | None = None,
    overrides: dict[str, JobFunc] | None = None,
) -> BackgroundScheduler:
    """A BackgroundScheduler (not started) with every job of ``SCHEDULE`` that is on.

    ``overrides`` replaces a job's function by id (tests); ``outbox_job`` is the same for the
    Notion outbox.
    """
    tz = ZoneInfo(settings.timezone)
    scheduler = BackgroundScheduler(
        timezone=tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    ctx = JobContext(settings, session_factory, safe_client(client), config, narrator)
    replaced = dict(overrides or {})
    if outbox_job is not None:
        replaced[JOB_NOTION_OUTBOX] = outbox_job
    for row in SCHEDULE:
        func = replaced.get(row.id) or row.make(ctx)
        if func is None:
            continue
        scheduler.add_job(
            guard_job(row.id, func, clock),
            row.trigger(settings, tz),
            id=row.id,
            name=row.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=row.grace_seconds,
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
    outbox_job: JobFunc | None = None,
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
        JOB_WEEKLY_DIGEST: dates.iso_week_of(day),
        JOB_QUARTERLY_QBR: dates.quarter_of(day),
    }
