"""The seeded demo portfolio: a realistic, reproducible book of business for demos and tests.

``generate_demo`` fills an upgraded, empty database; the same ``seed`` and ``today`` always give
the same rows, and every date is relative to ``today``. The portfolio holds accounts across
segments and industries owned by six CSMs (``U0CSM001`` .. ``U0CSM006``), 12 features over three
tiers (``api`` and ``salesforce_sync`` are integrations), ``months`` of daily usage, weekly
feature usage (Mondays), tickets, NPS answers, invoices, contacts, CS interactions and contract
histories of back-to-back 12-month terms: active renewals spread over the next 12 months, about
12% of accounts churned during the past year, about 15% upsold at their last renewal.

Churned accounts (and about 10% still active that are heading that way) show warning signs in
the months before: falling logins and active users, a departed champion, detractor NPS, ticket
spikes, overdue invoices, fading engagement, low TAM health. Each sign fires at random, some
churners are silent and some healthy accounts have false alarms, so a good health score ranks
churners well but not perfectly (a backtest AUC around 0.75-0.85, not 1.0). Upsold accounts ran
at or over their seat cap and trialled higher-tier features in the weeks before the upsell.

Named stories (``STORIES``, by external id), always present whatever the seed:

- ``acme`` Acme Corp, enterprise: renews in 45 days, ~60% of its 500 seats unused, logins down
  ~35% vs the prior 4 weeks (declining for 2 months), ARR $180,000, detractor-leaning NPS.
- ``globex`` Globex, mid-market: its champion left 35 days ago (``left_on`` set); no meaningful
  interaction and no contact engaged since, logins falling.
- ``initech`` Initech, mid-market on Pro: 120 seats, 140-155 weekday active users for 12 weeks
  (over the cap), heavy Advanced analytics (an Enterprise-tier feature) and API use.
- ``umbrella`` Umbrella Health, enterprise: a ticket flood (about one ticket per 3 active users a
  month), four urgent tickets open for 9-16 days, negative sentiment, escalations.
- ``hooli`` Hooli, mid-market: weekly active users swing wildly, with 2-3 week gaps of no use.
- ``stark`` Stark Industries, ``wayne`` Wayne Enterprises (renews in 75 days), ``wonka`` Wonka
  Foods: healthy; high utilisation, promoters, invoices paid, engaged contacts.
- New accounts in their first term, owned by ``U0CSM001`` (the tour's CSM): ``vandelay`` Vandelay
  Industries, mid-market, signed 55 days ago and **stuck in onboarding**: 2-3 daily active users
  of 40 seats and no feature adopted, so "5 active users" (due day 30) and "3 features adopted"
  (due day 45) are overdue and the onboarding-overdue churn trigger fires; ``piedpiper`` Pied
  Piper (smb, 20 days) and ``dunder`` Dunder Mifflin (75 days) are on track.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, insert, inspect, select, text
from sqlmodel import Session, SQLModel

from tools.db import SessionFactory, session_scope
from tools.demo_catalog import STORIES, DemoStory
from tools.demo_facts import FACTS, account_by_external_id, sql_table
from tools.demo_plan import (
    AT_RISK,
    CHURNED,
    EXPANDING,
    UPSOLD,
    WORLD_SIGNALS,
    WORLDS,
    add_months,
    build_plan,
)
from tools.demo_rows import (
    Chunk,
    ChunkRows,
    Row,
    Window,
    account_rows,
    chunk_rows,
    contact_rows,
    contract_rows,
    feature_rows,
)

__all__ = [
    "STORIES",
    "WORLDS",
    "DemoDatabaseNotEmptyError",
    "DemoError",
    "DemoReport",
    "DemoStory",
    "DemoSummary",
    "ProgressCallback",
    "RowWriter",
    "StoryFact",
    "count_accounts",
    "demo_summary",
    "generate_demo",
]

CHUNK_ACCOUNTS = 250
INSERT_BATCH = 20_000

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while the demo is generated."""
RowWriter = Callable[[Session, str, Sequence[Row]], int]
"""Writes rows (dicts with the same keys) into a table; returns how many it wrote."""


class DemoError(Exception):
    """The demo portfolio cannot be generated as asked."""


class DemoDatabaseNotEmptyError(DemoError):
    """The database already holds accounts (pass ``reset=True`` to wipe them)."""


@dataclass
class DemoReport:
    """What ``generate_demo`` wrote."""

    seed: int
    today: date
    months: int
    accounts: int
    churned: int
    at_risk: int
    upsold: int
    expanding: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def count_accounts(session: Session) -> int:
    """How many accounts the database holds."""
    return int(session.execute(select(func.count()).select_from(sql_table("account"))).scalar_one())


def _wipe(session: Session) -> None:
    """Delete every row of every application table (children first)."""
    existing = set(inspect(session.connection()).get_table_names())
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table.name in existing:
            session.execute(table.delete())


def _insert(session: Session, table: str, rows: Sequence[Row]) -> int:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(sql_table(table)), list(rows[start : start + INSERT_BATCH]))
    return len(rows)


def _max_id(session: Session, table: str) -> int:
    return int(
        session.execute(select(func.coalesce(func.max(sql_table(table).c.id), 0))).scalar_one()
    )


def _feature_ids(session: Session) -> dict[str, int]:
    """Insert the catalogue features that are missing; return every feature id by key."""
    feature = sql_table("feature")
    have = set(session.execute(select(feature.c.key)).scalars())
    _insert(session, "feature", [r for r in feature_rows() if r["key"] not in have])
    return {key: fid for key, fid in session.execute(select(feature.c.key, feature.c.id)).all()}


def _sync_sequences(session: Session, tables: Sequence[str]) -> None:
    """PostgreSQL: move id sequences past the explicit ids we inserted."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in tables:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            )
        )


NUMBERED = {"tickets": "T", "nps": "N", "invoices": "INV", "interactions": "I"}
TABLE_OF = {
    "usage_daily": "usage_daily",
    "feature_usage": "feature_usage",
    "tickets": "ticket",
    "nps": "nps_response",
    "invoices": "invoice",
    "interactions": "interaction",
}


def _write_chunk(
    session: Session, rows: ChunkRows, counts: dict[str, int], write: RowWriter
) -> None:
    for attr, table in TABLE_OF.items():
        batch: list[Row] = getattr(rows, attr)
        prefix = NUMBERED.get(attr)
        if prefix:
            start = counts[table] + 1
            for k, row in enumerate(batch):
                row["external_id"] = f"{prefix}-{start + k:07d}"
        counts[table] += write(session, table, batch)


def generate_demo(
    *,
    session_factory: SessionFactory,
    today: date,
    accounts: int = 240,
    months: int = 12,
    seed: int = 42,
    reset: bool = False,
    progress: ProgressCallback | None = None,
    world: str = WORLD_SIGNALS,
    writer: RowWriter | None = None,
) -> DemoReport:
    """Write a seeded demo portfolio of ``accounts`` accounts and ``months`` of history.

    ``world`` picks what drives churn: ``signals`` (the default: churners show warning signs)
    or ``renewal-timing`` (churn is random and happens at renewals; warning signs strike
    accounts at random whatever their fate, so no health score can know who leaves).
    ``writer`` changes only how the rows reach the database (default: Core bulk inserts; the
    PostgreSQL scale bench passes a ``COPY`` writer); the rows are the same.
    """
    if world not in WORLDS:
        raise DemoError(f"unknown demo world {world!r}; choose one of {', '.join(WORLDS)}")
    if accounts < len(STORIES):
        raise DemoError(f"the demo needs at least {len(STORIES)} accounts, got {accounts}")
    if not 1 <= months <= 36:
        raise DemoError(f"months must be between 1 and 36, got {months}")
    started = time.perf_counter()
    report_progress = progress or (lambda _stage, _done, _total: None)
    n_chunks = -(-accounts // CHUNK_ACCOUNTS)
    total = n_chunks + 2
    with session_scope(session_factory) as session:
        existing = count_accounts(session)
        if existing and not reset:
            raise DemoDatabaseNotEmptyError(
                f"the database already holds {existing} accounts; pass reset=True to replace them"
            )
        if reset:
            _wipe(session)
        report_progress("Planning the portfolio", 0, total)
        plan = build_plan(np.random.default_rng([seed, 0]), accounts, today, world=world)
        ids = np.arange(accounts, dtype=np.int64) + _max_id(session, "account") + 1
        counts: dict[str, int] = defaultdict(int)
        write = writer or _insert
        counts["account"] = write(session, "account", account_rows(plan, ids))
        counts["contract"] = write(session, "contract", contract_rows(plan, ids))
        contacts = contact_rows(
            plan, ids, _max_id(session, "contact") + 1, np.random.default_rng([seed, 1])
        )
        counts["contact"] = write(session, "contact", contacts.rows)
        feature_ids = _feature_ids(session)
        counts["feature"] = len(feature_ids)
        report_progress("Generating activity", 1, total)
        window = Window.of(today, (today - add_months(today, -months)).days)
        for number, start in enumerate(range(0, accounts, CHUNK_ACCOUNTS)):
            chunk = Chunk(
                plan=plan,
                idx=np.arange(start, min(start + CHUNK_ACCOUNTS, accounts), dtype=np.int64),
                ids=ids[start : start + CHUNK_ACCOUNTS],
                contacts=contacts,
                feature_ids=feature_ids,
                rng=np.random.default_rng([seed, 2, number]),
            )
            _write_chunk(session, chunk_rows(chunk, window), counts, write)
            report_progress("Generating activity", number + 2, total)
        _sync_sequences(session, ("account", "contact"))
        report_progress("Committing", total - 1, total)
    report_progress("Done", total, total)
    return DemoReport(
        seed=seed,
        today=today,
        months=months,
        accounts=accounts,
        churned=int((plan.kind == CHURNED).sum()),
        at_risk=int((plan.kind == AT_RISK).sum()),
        upsold=int((plan.kind == UPSOLD).sum()),
        expanding=int((plan.kind == EXPANDING).sum()),
        rows=dict(counts),
        seconds=time.perf_counter() - started,
    )


# --- The portfolio summary ---------------------------------------------------------------------


class StoryFact(BaseModel):
    """One named story and the fact that makes it recognisable, computed from the data."""

    external_id: str
    name: str
    kind: str
    story: str
    fact: str


class DemoSummary(BaseModel):
    """The demo portfolio at a glance."""

    as_of: date
    accounts: int
    active_accounts: int
    total_arr: Decimal
    accounts_by_segment: dict[str, int]
    renewals_90d: int
    renewals_90d_arr: Decimal
    churned_12m: int
    churned_12m_arr: Decimal
    stories: list[StoryFact]


def _latest_contracts(session: Session) -> list[Any]:
    """(account_id, segment, status, end_date, arr, seats) of each account's latest contract."""
    contract, account = sql_table("contract"), sql_table("account")
    latest = (
        select(contract.c.account_id, func.max(contract.c.end_date).label("end_date"))
        .group_by(contract.c.account_id)
        .subquery()
    )
    query = (
        select(
            contract.c.account_id,
            account.c.segment,
            contract.c.status,
            contract.c.end_date,
            contract.c.arr,
            contract.c.seats_purchased,
        )
        .join(
            latest,
            (latest.c.account_id == contract.c.account_id)
            & (latest.c.end_date == contract.c.end_date),
        )
        .join(account, account.c.id == contract.c.account_id)
    )
    return list(session.execute(query).all())


def demo_summary(session: Session, today: date) -> DemoSummary:
    """Portfolio counts, ARR, renewals, churn and the named stories' facts as of ``today``."""
    latest = _latest_contracts(session)
    active = [r for r in latest if r.status != "churned" and r.end_date >= today]
    horizon = today + timedelta(days=90)
    renewals = [r for r in active if r.end_date <= horizon]
    year_ago = today - timedelta(days=365)
    churned = [r for r in latest if r.status == "churned" and year_ago <= r.end_date < today]
    by_segment: dict[str, int] = defaultdict(int)
    for r in active:
        by_segment[r.segment] += 1
    return DemoSummary(
        as_of=today,
        accounts=count_accounts(session),
        active_accounts=len(active),
        total_arr=sum((Decimal(r.arr) for r in active), Decimal(0)),
        accounts_by_segment=dict(sorted(by_segment.items())),
        renewals_90d=len(renewals),
        renewals_90d_arr=sum((Decimal(r.arr) for r in renewals), Decimal(0)),
        churned_12m=len(churned),
        churned_12m_arr=sum((Decimal(r.arr) for r in churned), Decimal(0)),
        stories=_story_facts(session, today),
    )


def _story_facts(session: Session, today: date) -> list[StoryFact]:
    facts = []
    for story in STORIES:
        account_id = account_by_external_id(session, story.external_id)
        if account_id is None:
            continue
        facts.append(
            StoryFact(
                external_id=story.external_id,
                name=story.name,
                kind=story.kind,
                story=story.story,
                fact=FACTS[story.kind](session, account_id, today),
            )
        )
    return facts
