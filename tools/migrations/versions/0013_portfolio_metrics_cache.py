"""portfolio_metrics_cache: the team view's portfolio metrics, computed once per daily scan

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:30:00

Hand-written (other tables are appended concurrently): only the ``portfolio_metrics_cache`` table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('portfolio_metrics_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('computed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day', 'key', name='uq_portfolio_metrics_cache_day_key')
    )


def downgrade() -> None:
    op.drop_table('portfolio_metrics_cache')
