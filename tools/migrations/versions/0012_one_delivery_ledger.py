"""One delivery ledger: Notion writes move into ``alert``; tasks can be closed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 03:10:00

The Notion outbox had its own claim table (``publish_request``) and follow-up tasks their own
claim columns (``account_task.notion_*``). Both become rows of the delivery ledger (``alert``),
which gains the next retry time and what a Notion delivery produced (page id and URL):

- a publish request becomes a ``notion_qbr`` delivery keyed ``notion_qbr:<account>:draft-<id>:v<n>``
  (its payload keeps the old idempotency key, which is what its page was written with);
- a task's Notion write becomes a ``notion_task`` delivery keyed ``notion_task:<account>:task-<id>``.

States map as queued/pending → claimed and due (``next_attempt_at``), sending/writing → claimed
(the lease runs from its last update), published/written → posted, failed → failed. Tasks also
gain who closed them and when. Downgrade moves the rows back.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Time = sqlmodel.sql.sqltypes.UTCDateTime
Str = sqlmodel.sql.sqltypes.AutoString

ALERT = sa.table(
    "alert",
    sa.column("id", sa.Integer()),
    sa.column("key", Str()),
    sa.column("kind", Str()),
    sa.column("account_id", sa.Integer()),
    sa.column("period", Str()),
    sa.column("status", Str()),
    sa.column("triggers", sa.JSON()),
    sa.column("payload", sa.JSON()),
    sa.column("claimed_by", Str()),
    sa.column("claimed_at", Time()),
    sa.column("posted_at", Time()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", Str()),
    sa.column("next_attempt_at", Time()),
    sa.column("external_id", Str()),
    sa.column("external_url", Str()),
)
PUBLISH = sa.table(
    "publish_request",
    sa.column("id", sa.Integer()),
    sa.column("kind", Str()),
    sa.column("draft_id", sa.Integer()),
    sa.column("idempotency_key", Str()),
    sa.column("status", Str()),
    sa.column("attempts", sa.Integer()),
    sa.column("next_attempt_at", Time()),
    sa.column("last_error", Str()),
    sa.column("notion_page_id", Str()),
    sa.column("notion_url", Str()),
    sa.column("notify_channel", Str()),
    sa.column("notify_thread_ts", Str()),
    sa.column("requested_by", Str()),
    sa.column("created_at", Time()),
    sa.column("updated_at", Time()),
)
DRAFT = sa.table(
    "qbr_draft",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("version", sa.Integer()),
)
TASK = sa.table(
    "account_task",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("created_at", Time()),
    sa.column("notion_status", Str()),
    sa.column("notion_page_id", Str()),
    sa.column("notion_attempts", sa.Integer()),
    sa.column("notion_error", Str()),
    sa.column("notion_claimed_at", Time()),
)
CLAIMED, POSTED, FAILED = "claimed", "posted", "failed"


def _row(
    key: str, kind: str, account_id: int, period: str, payload: dict, **values: object
) -> dict:
    return {
        "key": key[:255],
        "kind": kind,
        "account_id": account_id,
        "period": period[:128],
        "triggers": [],
        "payload": payload,
        "claimed_by": "",
        **values,
    }


def _publish_rows(bind: sa.Connection) -> list[dict]:
    rows = (
        bind.execute(
            sa.select(PUBLISH, DRAFT.c.account_id, DRAFT.c.version).join(
                DRAFT, DRAFT.c.id == PUBLISH.c.draft_id
            )
        )
        .mappings()
        .all()
    )
    out = []
    for r in rows:
        period = f"draft-{r['draft_id']}:v{r['version']}"
        status = {"published": POSTED, "failed": FAILED}.get(r["status"], CLAIMED)
        payload = {
            "draft_id": r["draft_id"],
            "page_key": r["idempotency_key"],
            "requested_by": r["requested_by"],
            "notify_channel": r["notify_channel"],
            "notify_thread_ts": r["notify_thread_ts"],
        }
        queued = r["status"] == "queued"
        out.append(
            _row(
                f"notion_qbr:{r['account_id']}:{period}",
                "notion_qbr",
                r["account_id"],
                period,
                payload,
                status=status,
                attempts=r["attempts"],
                last_error=r["last_error"],
                claimed_at=r["updated_at"],
                next_attempt_at=(r["next_attempt_at"] or r["updated_at"]) if queued else None,
                posted_at=r["updated_at"] if status == POSTED else None,
                external_id=r["notion_page_id"],
                external_url=r["notion_url"],
            )
        )
    return out


def _task_rows(bind: sa.Connection) -> list[dict]:
    rows = (
        bind.execute(
            sa.select(TASK).where(
                TASK.c.notion_status.in_(["pending", "writing", "written", "failed"])
            )
        )
        .mappings()
        .all()
    )
    now = datetime.now(UTC)
    out = []
    for r in rows:
        period = f"task-{r['id']}"
        status = {"written": POSTED, "failed": FAILED}.get(r["notion_status"], CLAIMED)
        claimed_at = r["notion_claimed_at"] or r["created_at"]
        out.append(
            _row(
                f"notion_task:{r['account_id']}:{period}",
                "notion_task",
                r["account_id"],
                period,
                {"task_id": r["id"]},
                status=status,
                attempts=r["notion_attempts"],
                last_error=r["notion_error"],
                claimed_at=claimed_at,
                next_attempt_at=now if r["notion_status"] == "pending" else None,
                posted_at=claimed_at if status == POSTED else None,
                external_id=r["notion_page_id"],
                external_url=None,
            )
        )
    return out


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", Time(), nullable=True))
        batch_op.add_column(sa.Column("external_id", Str(length=64), nullable=True))
        batch_op.add_column(sa.Column("external_url", Str(length=500), nullable=True))
    bind = op.get_bind()
    moved = _publish_rows(bind) + _task_rows(bind)
    if moved:
        op.bulk_insert(ALERT, moved)
    with op.batch_alter_table("publish_request", schema=None) as batch_op:
        batch_op.drop_index("ix_publish_request_status_next")
        batch_op.drop_index(batch_op.f("ix_publish_request_draft_id"))
    op.drop_table("publish_request")
    with op.batch_alter_table("account_task", schema=None) as batch_op:
        for column in (
            "notion_status",
            "notion_page_id",
            "notion_attempts",
            "notion_error",
            "notion_claimed_at",
        ):
            batch_op.drop_column(column)
        batch_op.add_column(sa.Column("closed_by", Str(length=64), nullable=True))
        batch_op.add_column(sa.Column("closed_at", Time(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_task", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closed_by")
        batch_op.add_column(
            sa.Column("notion_status", Str(length=16), nullable=False, server_default="none")
        )
        batch_op.add_column(sa.Column("notion_page_id", Str(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("notion_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("notion_error", Str(length=500), nullable=True))
        batch_op.add_column(sa.Column("notion_claimed_at", Time(), nullable=True))
    op.create_table(
        "publish_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", Str(length=16), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", Str(length=128), nullable=False),
        sa.Column("status", Str(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Time(), nullable=True),
        sa.Column("last_error", Str(length=500), nullable=True),
        sa.Column("notion_page_id", Str(length=64), nullable=True),
        sa.Column("notion_url", Str(length=500), nullable=True),
        sa.Column("notify_channel", Str(length=64), nullable=True),
        sa.Column("notify_thread_ts", Str(length=64), nullable=True),
        sa.Column("requested_by", Str(length=64), nullable=True),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("updated_at", Time(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["qbr_draft.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("publish_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publish_request_draft_id"), ["draft_id"], unique=False)
        batch_op.create_index(
            "ix_publish_request_status_next", ["status", "next_attempt_at"], unique=False
        )
    bind = op.get_bind()
    back = {POSTED: "published", FAILED: "failed"}
    for r in bind.execute(sa.select(ALERT).where(ALERT.c.kind == "notion_qbr")).mappings().all():
        payload = r["payload"] or {}
        op.bulk_insert(
            PUBLISH,
            [
                {
                    "kind": "qbr",
                    "draft_id": payload.get("draft_id"),
                    "idempotency_key": payload.get("page_key") or r["key"][:128],
                    "status": back.get(r["status"], "queued"),
                    "attempts": r["attempts"],
                    "next_attempt_at": r["next_attempt_at"],
                    "last_error": (r["last_error"] or None) and r["last_error"][:500],
                    "notion_page_id": r["external_id"],
                    "notion_url": r["external_url"],
                    "notify_channel": payload.get("notify_channel"),
                    "notify_thread_ts": payload.get("notify_thread_ts"),
                    "requested_by": payload.get("requested_by"),
                    "created_at": r["claimed_at"],
                    "updated_at": r["claimed_at"],
                }
            ],
        )
    back = {POSTED: "written", FAILED: "failed"}
    for r in bind.execute(sa.select(ALERT).where(ALERT.c.kind == "notion_task")).mappings().all():
        bind.execute(
            TASK.update()
            .where(TASK.c.id == (r["payload"] or {}).get("task_id"))
            .values(
                notion_status=back.get(r["status"], "pending"),
                notion_page_id=r["external_id"],
                notion_attempts=r["attempts"],
                notion_error=(r["last_error"] or None) and r["last_error"][:500],
            )
        )
    bind.execute(
        ALERT.delete().where(ALERT.c.kind.in_(["notion_qbr", "notion_task", "notion_task_status"]))
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("external_url")
        batch_op.drop_column("external_id")
        batch_op.drop_column("next_attempt_at")
