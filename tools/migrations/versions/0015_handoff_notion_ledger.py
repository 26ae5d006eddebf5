"""Hand-offs' Notion task pages move into the one delivery ledger

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:00:00

An approved hand-off's Notion page was claimed on the proposal itself (``notion_status``
pending -> writing -> written/failed). It is now a ``notion_handoff`` delivery in ``alert``, keyed
``notion_handoff:<account>:handoff-<id>``; ``notion_status`` stays on the proposal as the state
its cards show. A hand-off whose write was still pending, or stuck "writing" after a crashed
writer, becomes a delivery due now (a page written before the crash carries no idempotency key,
so it cannot be found: that one may be written again). No schema change; downgrade drops the
rows and puts what was due back to "pending".
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time = sqlmodel.sql.sqltypes.UTCDateTime
Str = sqlmodel.sql.sqltypes.AutoString

ALERT = sa.table(
    "alert",
    sa.column("key", Str()),
    sa.column("kind", Str()),
    sa.column("account_id", sa.Integer()),
    sa.column("period", Str()),
    sa.column("status", Str()),
    sa.column("triggers", sa.JSON()),
    sa.column("payload", sa.JSON()),
    sa.column("claimed_by", Str()),
    sa.column("claimed_at", Time()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", Str()),
    sa.column("next_attempt_at", Time()),
)
HANDOFF = sa.table(
    "handoff_proposal",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("notion_status", Str()),
    sa.column("notion_attempts", sa.Integer()),
    sa.column("notion_error", Str()),
)
KIND = "notion_handoff"


def upgrade() -> None:
    bind = op.get_bind()
    due = bind.execute(
        sa.select(HANDOFF).where(HANDOFF.c.notion_status.in_(["pending", "writing"]))
    ).mappings()
    now = datetime.now(UTC)
    rows = [
        {
            "key": f"{KIND}:{r['account_id']}:handoff-{r['id']}",
            "kind": KIND,
            "account_id": r["account_id"],
            "period": f"handoff-{r['id']}",
            "status": "claimed",
            "triggers": [],
            "payload": {"handoff_id": r["id"]},
            "claimed_by": "",
            "claimed_at": now,
            "attempts": r["notion_attempts"],
            "last_error": r["notion_error"],
            "next_attempt_at": now,
        }
        for r in due.all()
    ]
    if rows:
        op.bulk_insert(ALERT, rows)
    bind.execute(
        HANDOFF.update().where(HANDOFF.c.notion_status == "writing").values(notion_status="pending")
    )


def downgrade() -> None:
    op.get_bind().execute(ALERT.delete().where(ALERT.c.kind == KIND))
