"""The Slack retry job: every few minutes, post the button-driven Slack deliveries due again.

A hand-off's Sales card and the CSM's notice (``tools.handoff.delivery``) are claimed and posted
by the button press that asks for them (``post_now``). One whose post failed (Slack down, or a
lost response not found in the channel yet) stays in the delivery ledger with its attempts and
last error; this job takes it over once it is due (``tools.alerts.ledger.RetryPolicy``) and posts
it with the same ``Poster`` as the alerts, which first looks for it in Slack. The daily scan
retries the other Slack deliveries.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.config import Settings
from bot.jobs.delivery import DeliveryCounts, Poster, retry_stale_claims
from bot.slack_out import SafeWebClient
from tools.alerts import ledger
from tools.db import SessionFactory
from tools.models import Alert
from tools.scoring_config import ScoringConfig

RETRY_MINUTES = 5


class Outcome(BaseModel):
    """What became of a delivery posted at once: ``posted``, ``claimed`` (kept for a retry)
    or ``failed``, with the last error."""

    status: str
    error: str | None = None


def interactive_client(client: WebClient) -> SafeWebClient:
    """A client to post a delivery from a listener: the listener's token and API URL, through
    the output boundary, retrying 429s only (a lost response is looked up, never re-sent)."""
    return SafeWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )


def post_now(
    sessions: SessionFactory, client: WebClient, delivery_id: int, worker: str, now: datetime
) -> Outcome:
    """Post the delivery ``delivery_id`` that ``worker`` claimed; what became of it."""
    Poster(sessions, interactive_client(client), worker, now).deliver(delivery_id, DeliveryCounts())
    with sessions() as session:
        row = session.get(Alert, delivery_id)
        if row is None:  # pragma: no cover - the claim was committed before posting
            return Outcome(status="failed", error="the delivery vanished")
        return Outcome(status=row.status, error=row.last_error)


def run_slack_retry(
    *,
    session_factory: SessionFactory,
    client: WebClient,
    settings: Settings,
    config: ScoringConfig,
    now: datetime,
) -> DeliveryCounts:
    """Post the hand-off cards and notices whose earlier post failed and that are due again."""
    del settings, config  # the job signature every scheduled job has
    return retry_stale_claims(
        session_factory=session_factory,
        client=client,
        now=now,
        kinds=ledger.INTERACTIVE_KINDS,
    )
