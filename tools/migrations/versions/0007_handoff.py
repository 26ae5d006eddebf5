"""Expansion hand-offs to Sales: the lifecycle columns and the timeline table

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 18:00:00

Hand-written (other tables are appended concurrently): only this issue's changes. Open
hand-offs move from ``open_key = key`` to ``open_key = '{account_id}:{kind}'`` (one open
hand-off per account and opportunity type); older duplicates of a type are left closed-keyed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[object], bool, str | None], ...] = (
    ('source', sqlmodel.sql.sqltypes.AutoString(length=16), False, 'agent'),
    ('formula', sqlmodel.sql.sqltypes.AutoString(length=1000), False, ''),
    ('owner_slack_id', sqlmodel.sql.sqltypes.AutoString(length=32), True, None),
    ('approved_by', sqlmodel.sql.sqltypes.AutoString(length=64), True, None),
    ('sales_channel', sqlmodel.sql.sqltypes.AutoString(length=64), True, None),
    ('sales_ts', sqlmodel.sql.sqltypes.AutoString(length=32), True, None),
    ('sales_rep', sqlmodel.sql.sqltypes.AutoString(length=64), True, None),
    ('notion_status', sqlmodel.sql.sqltypes.AutoString(length=16), False, 'none'),
    ('notion_page_id', sqlmodel.sql.sqltypes.AutoString(length=64), True, None),
    ('notion_attempts', sa.Integer(), False, '0'),
    ('notion_error', sqlmodel.sql.sqltypes.AutoString(length=500), True, None),
    ('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), True, None),
)


def upgrade() -> None:
    for name, type_, nullable, default in _COLUMNS:
        op.add_column(
            'handoff_proposal',
            sa.Column(name, type_, nullable=nullable, server_default=default),
        )
    op.execute(
        "UPDATE handoff_proposal SET open_key = NULL WHERE open_key IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM handoff_proposal WHERE open_key IS NOT NULL "
        "GROUP BY account_id, kind)"
    )
    op.execute(
        "UPDATE handoff_proposal SET open_key = CAST(account_id AS VARCHAR(20)) || ':' || kind "
        "WHERE open_key IS NOT NULL"
    )
    op.create_table('handoff_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoff_proposal.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_event_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_event_handoff_id'), ['handoff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoff_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_event_handoff_id'))
        batch_op.drop_index(batch_op.f('ix_handoff_event_account_id'))
    op.drop_table('handoff_event')
    with op.batch_alter_table('handoff_proposal', schema=None) as batch_op:
        for name, _type, _nullable, _default in reversed(_COLUMNS):
            batch_op.drop_column(name)
