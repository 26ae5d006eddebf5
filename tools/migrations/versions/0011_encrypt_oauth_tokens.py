"""OAuth tokens encrypted at rest: slack_sdk's installation tables hold Fernet-encrypted tokens

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:30:00

The tables belong to slack_sdk (``csbot serve`` creates them in OAuth mode), so this only runs
where they exist: token columns become TEXT (an encrypted token outgrows VARCHAR(200)) and every
plain-text token is encrypted with ``TOKEN_ENCRYPTION_KEY`` (the environment, else ``.env``; the
first of several comma-separated keys encrypts). Plain-text tokens without a key stop the
upgrade with a message saying what to set. Downgrade decrypts them again.
"""

import os
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet, MultiFernet
from dotenv import dotenv_values

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('slack_installations', 'slack_bots')
TOKEN_COLUMNS = ('bot_token', 'bot_refresh_token', 'user_token', 'user_refresh_token')
FERNET_PREFIX = 'gAAAAA'


def _cipher() -> MultiFernet | None:
    raw = os.environ.get('TOKEN_ENCRYPTION_KEY') or dotenv_values('.env').get('TOKEN_ENCRYPTION_KEY')
    keys = [k.strip() for k in (raw or '').split(',') if k.strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None


def _rewrite(encrypting: bool) -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table in TABLES:
        if not inspector.has_table(table):
            continue
        present = {c['name'] for c in inspector.get_columns(table)}
        columns = [c for c in TOKEN_COLUMNS if c in present]
        if encrypting and bind.dialect.name == 'postgresql':
            for column in columns:
                op.alter_column(table, column, type_=sa.Text())
        _convert(bind, table, columns, encrypting)


def _convert(bind: sa.Connection, table: str, columns: list[str], encrypting: bool) -> None:
    rows = bind.execute(sa.text(f'SELECT id, {", ".join(columns)} FROM {table}')).mappings().all()
    todo = [r for r in rows if any(_needs(r[c], encrypting) for c in columns)]
    if not todo:
        return
    cipher = _cipher()
    if cipher is None:
        raise RuntimeError(
            f'{table} holds OAuth tokens to {"encrypt" if encrypting else "decrypt"}: set '
            'TOKEN_ENCRYPTION_KEY (a Fernet key) and run the upgrade again'
        )
    change: Callable[[bytes], bytes] = cipher.encrypt if encrypting else cipher.decrypt
    for row in todo:
        values = {
            c: change(row[c].encode()).decode() if _needs(row[c], encrypting) else row[c]
            for c in columns
        }
        assignments = ', '.join(f'{c} = :{c}' for c in columns)
        bind.execute(sa.text(f'UPDATE {table} SET {assignments} WHERE id = :id'), {**values, 'id': row['id']})


def _needs(value: str | None, encrypting: bool) -> bool:
    if not value:
        return False
    return not value.startswith(FERNET_PREFIX) if encrypting else value.startswith(FERNET_PREFIX)


def upgrade() -> None:
    _rewrite(encrypting=True)


def downgrade() -> None:
    _rewrite(encrypting=False)
