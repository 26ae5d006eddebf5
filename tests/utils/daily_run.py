"""Running the scheduled jobs in tests: a settable clock, settings, a small portfolio, a fake Slack.

Shared by the job suites (tests/bot/test_churn_alert_job.py, test_scheduled_messages.py,
test_schedule_and_cli.py, test_book.py, test_book_delivery.py).
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.harness.fake_slack import FakeSlack, SlackCall
from bot.jobs.daily_scan import DailyScanReport, run_daily_scan
from tests.utils.alert_world import AS_OF, OWNER, at, overdue
from tests.utils.alert_world import customer as steady_customer
from tools import db
from tools.models import Account, Alert, AlertKind
from tools.scoring_config import load_config

__all__ = ["AS_OF", "CONFIG", "OWNER", "at", "overdue"]

CONFIG = load_config()


def make_settings(**overrides: Any) -> Settings:
    """Per-item delivery (BOOK_BATCH=false) unless overridden: most job tests follow single
    messages; the book DMs that batch them are tested in test_book*.py."""
    return Settings(_env_file=None, **{"book_batch": False, **overrides})


def customer(
    session: Session,
    *,
    name: str,
    owner: str | None = OWNER,
    segment: str = "mid-market",
    renewal_in: int = 200,
) -> Account:
    """An active, steadily used account with an engaged champion; nothing fires until a test
    adds a problem."""
    return steady_customer(
        session,
        name=name,
        owner=owner,
        segment=segment,
        renewal_in=renewal_in,
        champion="Jo",
        champion_engaged=AS_OF,
    )


def portfolio(sessions: db.SessionFactory, *, segment: str = "enterprise") -> int:
    """Acme (at risk: an overdue invoice) and Beta (healthy); returns Acme's id."""
    with sessions() as session:
        acme = customer(session, name="Acme", segment=segment)
        overdue(session, acme)
        customer(session, name="Beta", owner="U0CSM002")
        session.commit()
        assert acme.id is not None
        return acme.id


def slack_client(fake: FakeSlack) -> WebClient:
    """A plain WebClient on the fake Slack (the jobs wrap it in the output boundary)."""
    return WebClient(token="xoxb-test", base_url=fake.url)


def daily(
    sessions: db.SessionFactory,
    client: WebClient | None,
    day: Any,
    settings: Settings | None = None,
    **kwargs: Any,
) -> DailyScanReport:
    """The daily scan at 07:00 UTC on ``day``."""
    return run_daily_scan(
        session_factory=sessions,
        client=client,
        settings=settings or make_settings(),
        config=CONFIG,
        now=at(day),
        **kwargs,
    )


def top_level_posts(fake: FakeSlack) -> list[SlackCall]:
    """Every chat.postMessage that is not a thread reply."""
    return [c for c in fake.calls_to("chat.postMessage") if not c.params.get("thread_ts")]


def dms(fake: FakeSlack) -> list[SlackCall]:
    """Every chat.postMessage to a DM."""
    return [
        c for c in fake.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("D")
    ]


def alerts_in(sessions: db.SessionFactory) -> list[Alert]:
    """The ledger's messages (not the daily-run markers)."""
    with sessions() as session:
        rows = session.exec(
            select(Alert).where(Alert.kind != AlertKind.DAILY_RUN.value).order_by(col(Alert.id))
        )
        return list(rows)
