"""ticket: a covering index for the per-account ticket aggregates of a scan

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 19:00:00

Hand-written (other tables are appended concurrently): only this index. The scan's ticket
queries (recent windows per account, tickets still open) read every column they need from it,
never the table rows.
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_ticket_account_scan',
        'ticket',
        ['account_id', 'opened_at', 'closed_at', 'escalated', 'sentiment'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_ticket_account_scan', table_name='ticket')
