"""The weekly digest for CS leaders, posted once per ISO week."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from slack_sdk import WebClient

from bot import alert_blocks
from bot.config import Settings
from bot.jobs.delivery import (
    DeliveryCounts,
    PlannedAlert,
    claim_and_deliver,
    local_day,
    planned,
    poster_for,
    require_client,
)
from bot.narrator import anthropic_client
from bot.voc_blocks import digest_voice, theme_labeller
from tools.alerts import digest, ledger
from tools.db import SessionFactory
from tools.metrics import portfolio_metrics
from tools.models import AlertKind
from tools.scoring_config import ScoringConfig


class DigestReport(BaseModel):
    """What one weekly digest run did."""

    week: str
    planned: PlannedAlert | None
    counts: DeliveryCounts


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
    require_client(client, dry_run=dry_run)
    day = local_day(now, settings)
    with session_factory() as session:
        metrics = portfolio_metrics(session, as_of=day, config=config)
        bucket = next((b for b in metrics.renewals if b.days == 90), None)
        data = digest.weekly_digest(
            session,
            as_of=day,
            renewals=bucket,
            expansion_count=metrics.expansion_pipeline_count,
            expansion_arr=Decimal(metrics.expansion_pipeline_arr),
        )
        labeller = theme_labeller(anthropic_client(settings), settings.anthropic_model)
        voice = digest_voice(session, day, labeller=labeller)
    blocks, text = alert_blocks.weekly_digest(data, voice=voice)
    claim = ledger.AlertClaim(
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
    poster = poster_for(session_factory, client, now=now, dry_run=dry_run, worker=worker)
    counts = DeliveryCounts()
    claim_and_deliver(poster, claim, counts)
    return DigestReport(week=data.week, planned=planned(claim), counts=counts)
