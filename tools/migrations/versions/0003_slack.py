"""slack processed events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 15:58:52.536045

Only ``processed_event`` (idempotent Slack event handling). The slack_sdk OAuth tables
(``slack_installations``, ``slack_bots``, ``slack_oauth_states``) are not migrated here: their
schema belongs to slack_sdk, so ``bot.app.create_app`` creates them at runtime with the stores'
own metadata (``create_tables()``, which skips existing tables) when OAuth is configured.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('processed_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_event_event_id'), ['event_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_processed_event_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('processed_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_event_received_at'))
        batch_op.drop_index(batch_op.f('ix_processed_event_event_id'))

    op.drop_table('processed_event')
