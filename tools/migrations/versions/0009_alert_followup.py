"""alert followups, actions, tasks, subscriptions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 22:34:54

Hand-written around autogenerate (other tables are appended concurrently): only the four new
tables of tools/models_followup.py (alert follow-ups, the action log, tasks, subscriptions)
and ``interaction.logged_by`` (who logged it from Slack).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))

    op.create_table('alert_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('delivery', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'scope', name='uq_alert_subscription_user')
    )
    with op.batch_alter_table('alert_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_subscription_user_id'), ['user_id'], unique=False)

    op.create_table('account_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('assignee', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('notion_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('notion_page_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('notion_attempts', sa.Integer(), nullable=False),
    sa.Column('notion_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('notion_claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('account_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_task_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_account_task_status_assignee', ['status', 'assignee'], unique=False)

    op.create_table('alert_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('alert_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_action_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_alert_action_alert_at', ['alert_id', 'at'], unique=False)

    op.create_table('alert_followup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('snoozed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('snoozed_days', sa.Integer(), nullable=True),
    sa.Column('snoozed_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('assignee', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('assigned_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Integer(), nullable=False),
    sa.Column('first_action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('first_action_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('outcome_on', sa.Date(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id')
    )
    with op.batch_alter_table('alert_followup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_followup_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert_followup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_followup_account_id'))

    op.drop_table('alert_followup')
    with op.batch_alter_table('alert_action', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_action_alert_at')
        batch_op.drop_index(batch_op.f('ix_alert_action_account_id'))

    op.drop_table('alert_action')
    with op.batch_alter_table('account_task', schema=None) as batch_op:
        batch_op.drop_index('ix_account_task_status_assignee')
        batch_op.drop_index(batch_op.f('ix_account_task_account_id'))

    op.drop_table('account_task')
    with op.batch_alter_table('alert_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_subscription_user_id'))

    op.drop_table('alert_subscription')
    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.drop_column('logged_by')
