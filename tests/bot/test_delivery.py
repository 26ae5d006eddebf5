"""Exactly once across lost responses: a fake Slack that accepts a post and drops its response.

Every scheduled message carries its delivery key in Slack message metadata; a claim whose outcome
is unknown is looked up in the conversation's history before anything is posted again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import col, select

from bot.config import Settings
from bot.harness.fake_slack import FakeSlack
from bot.jobs.daily_scan import run_daily_scan
from bot.jobs.delivery import RECONCILE_SCOPES, REPLY_SUFFIX, metadata_key, retry_stale_claims
from bot.jobs.qbr_drafts import run_quarterly_qbr
from tests.utils.demo_db import demo_database
from tools import db
from tools.alerts.ledger import LEASE
from tools.models import Alert, AlertKind, AlertStatus
from tools.scoring_config import load_config

TODAY = date(2026, 11, 2)
CONFIG = load_config()


@pytest.fixture
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "delivery", today=TODAY, accounts=60)


def at(day: date, hour: int = 7) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def jobs_kwargs(engine: Engine, fake: FakeSlack, *, book_batch: bool = True) -> dict[str, Any]:
    # A plain WebClient, default retry handlers included: the poster must not let the SDK's
    # connection-error retry re-send a post whose response was lost.
    return {
        "session_factory": db.session_factory(engine),
        "client": WebClient(token="xoxb-test", base_url=fake.url),
        "settings": Settings(_env_file=None, book_batch=book_batch),
        "config": CONFIG,
    }


def ledger_rows(engine: Engine) -> list[Alert]:
    """The ledger's messages: not the daily-run markers, nor the items a book message carried."""
    with db.session_factory(engine)() as session:
        rows = session.exec(select(Alert).order_by(col(Alert.id))).all()
    return [r for r in rows if r.kind != AlertKind.DAILY_RUN.value and "via" not in r.payload]


def posted_keys(fake: FakeSlack) -> Counter[str]:
    """How many messages in Slack carry each delivery key (every conversation, replies too)."""
    return Counter(k for m in fake.posted() if (k := metadata_key(m)) is not None)


def assert_exactly_once(engine: Engine, fake: FakeSlack) -> list[Alert]:
    rows = ledger_rows(engine)
    keys = posted_keys(fake)
    doubled = {k: n for k, n in keys.items() if n > 1}
    assert doubled == {}, f"{len(doubled)} messages posted more than once"
    by_ts = {m["ts"]: metadata_key(m) for m in fake.posted()}
    for row in rows:
        assert row.status == AlertStatus.POSTED.value, (row.key, row.last_error)
        assert keys[row.key] == 1, row.key
        assert by_ts[row.message_ts] == row.key  # the ts recorded is the message that landed
        if row.payload.get("thread"):
            assert keys[row.key + REPLY_SUFFIX] == 1
            assert by_ts[row.reply_ts] == row.key + REPLY_SUFFIX
    return rows


BATCHED = (AlertKind.CHURN, AlertKind.BOOK_STATE, AlertKind.QBR_QUARTERLY)
ONE_BY_ONE = (
    AlertKind.CHURN,
    AlertKind.QBR_T90,
    AlertKind.HANDOFF_PROPOSAL,
    AlertKind.QBR_QUARTERLY,
)


@pytest.mark.parametrize(("book_batch", "kinds"), [(True, BATCHED), (False, ONE_BY_ONE)])
def test_every_third_response_lost_nothing_doubled_across_alerts_qbr_and_proposal_dms(
    demo: Engine, fake: FakeSlack, book_batch: bool, kinds: tuple[AlertKind, ...]
) -> None:
    fake.drop_responses("chat.postMessage", every=3)
    kwargs = jobs_kwargs(demo, fake, book_batch=book_batch)

    daily = run_daily_scan(**kwargs, now=at(TODAY))
    quarterly = run_quarterly_qbr(**kwargs, now=at(TODAY, 9))
    later = retry_stale_claims(
        session_factory=kwargs["session_factory"],
        client=kwargs["client"],
        now=at(TODAY, 9) + LEASE * 2,
    )

    rows = assert_exactly_once(demo, fake)
    dropped_kinds = Counter(
        str(metadata_key(c.response["message"])).split(":")[0] for c in fake.dropped
    )
    for kind in kinds:
        assert dropped_kinds[kind.value] > 0, dropped_kinds
    assert sum(dropped_kinds.values()) == len(fake.dropped) >= 10
    reconciled = daily.counts.reconciled + quarterly.counts.reconciled + later.reconciled
    reconciled += daily.qbr_t90.counts.reconciled + daily.handoffs.reconciled
    reconciled += daily.books.counts.reconciled
    assert reconciled > 0
    assert len(rows) == sum(1 for m in fake.posted() if not m.get("thread_ts"))


def test_a_lost_response_that_cannot_be_checked_at_once_is_reconciled_by_the_retry(
    demo: Engine, fake: FakeSlack
) -> None:
    """The post landed, the response was lost and the history lookup failed too: the claim
    waits for the lease, then the retry finds the message and records it, posting nothing."""
    kwargs = jobs_kwargs(demo, fake)
    fake.drop_responses("chat.postMessage", every=1)
    for _ in range(500):
        fake.fail_next("conversations.history", error="internal_error", status=500)
        fake.fail_next("conversations.replies", error="internal_error", status=500)
    daily = run_daily_scan(**kwargs, now=at(TODAY))
    assert daily.counts.pending > 0
    assert daily.counts.posted == 0
    pending = [r for r in ledger_rows(demo) if r.status == AlertStatus.CLAIMED.value]
    assert pending
    assert all(r.message_ts is None for r in pending)
    landed = Counter(k.split(":")[0] for k in posted_keys(fake))
    assert landed[AlertKind.CHURN.value] > 0  # the alerts are in Slack; we do not know it yet

    fake.heal()  # Slack answers again, and still holds the messages
    early = retry_stale_claims(
        session_factory=kwargs["session_factory"],
        client=kwargs["client"],
        now=at(TODAY) + LEASE / 2,
    )
    assert early.retried == 0  # within the lease: the claimer may still be posting
    since = len(fake.calls)
    late = retry_stale_claims(
        session_factory=kwargs["session_factory"],
        client=kwargs["client"],
        now=at(TODAY) + LEASE * 2,
    )

    rows = assert_exactly_once(demo, fake)
    assert late.retried == len(pending)
    assert late.reconciled == len(pending)
    reposted = [c for c in fake.calls[since:] if c.method == "chat.postMessage"]
    # only the churn alerts' thread replies were never sent; nothing top-level is posted again
    assert all(c.params.get("thread_ts") for c in reposted)
    assert len(reposted) == sum(1 for r in rows if r.payload.get("thread"))


def test_the_manifest_grants_the_scopes_reconciliation_needs() -> None:
    manifest = yaml.safe_load((Path(__file__).parents[2] / "manifest.yml").read_text())
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    assert granted >= RECONCILE_SCOPES, sorted(RECONCILE_SCOPES - granted)
