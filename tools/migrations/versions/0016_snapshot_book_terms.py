"""health_snapshot keeps the contract terms App Home's book shows (issue 12)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:00:00

The scan already reads each account's contract in force through the metric layer; it now
stores ARR, seats purchased, plan, renewal date and tenure with the day's snapshot, so App Home
reads one owner's rows of the day's scan instead of the contracts of their whole book. Rows
written before this revision keep NULLs (App Home then reads the contracts, as before).
Hand-written: only these columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("arr", "seats_purchased", "plan", "renewal_date", "tenure_days")


def upgrade() -> None:
    # Nullable columns: a plain ALTER TABLE ADD COLUMN on SQLite and PostgreSQL (no rewrite).
    op.add_column("health_snapshot", sa.Column("arr", sa.Numeric(precision=14, scale=2)))
    op.add_column("health_snapshot", sa.Column("seats_purchased", sa.Integer()))
    op.add_column("health_snapshot", sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=32)))
    op.add_column("health_snapshot", sa.Column("renewal_date", sa.Date()))
    op.add_column("health_snapshot", sa.Column("tenure_days", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("health_snapshot") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
