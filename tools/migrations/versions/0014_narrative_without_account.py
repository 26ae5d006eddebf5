"""narrative: prose about no one account on no one day (voice-of-the-customer theme labels)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 03:30:00

``narrative.account_id`` and ``narrative.day`` become nullable: a theme's label is cached by its
words and quotes (the evidence hash) and the model, for every account and day.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('narrative', schema=None) as batch_op:
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=True)


def downgrade() -> None:
    op.execute('DELETE FROM narrative WHERE account_id IS NULL OR day IS NULL')
    with op.batch_alter_table('narrative', schema=None) as batch_op:
        batch_op.alter_column('day', existing_type=sa.Date(), nullable=False)
        batch_op.alter_column('account_id', existing_type=sa.Integer(), nullable=False)
