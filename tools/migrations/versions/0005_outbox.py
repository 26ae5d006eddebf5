"""QBR documents and the Notion publish outbox (hand-written: only this issue's tables)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('qbr_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('quarter', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['draft_id'], ['qbr_draft.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draft_id')
    )
    with op.batch_alter_table('qbr_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qbr_document_account_id'), ['account_id'], unique=False)

    op.create_table('publish_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('notion_page_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('notion_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('notify_channel', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('notify_thread_ts', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['qbr_draft.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('publish_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publish_request_draft_id'), ['draft_id'], unique=False)
        batch_op.create_index('ix_publish_request_status_next', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('publish_request', schema=None) as batch_op:
        batch_op.drop_index('ix_publish_request_status_next')
        batch_op.drop_index(batch_op.f('ix_publish_request_draft_id'))

    op.drop_table('publish_request')
    with op.batch_alter_table('qbr_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qbr_document_account_id'))

    op.drop_table('qbr_document')
