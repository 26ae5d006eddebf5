"""Turn a demo ``Plan`` into table rows (plain dicts for SQLAlchemy Core bulk inserts).

Account-level tables (accounts, contracts, contacts) are built for the whole portfolio at once;
time series (usage, feature usage, tickets, NPS, invoices, interactions) per chunk of accounts,
vectorised with NumPy over an accounts x days matrix.

Modules: ``portfolio`` (accounts, contracts, contacts, features), ``usage`` (the window, chunks,
daily and feature usage), ``activity`` (tickets, NPS, invoices, interactions; ``chunk_rows``).
"""

from tools.demo_rows.activity import ChunkRows, chunk_rows
from tools.demo_rows.portfolio import (
    Contacts,
    Row,
    account_rows,
    contact_rows,
    contract_rows,
    feature_rows,
    midnight,
)
from tools.demo_rows.usage import Chunk, Window

__all__ = [
    "Chunk",
    "ChunkRows",
    "Contacts",
    "Row",
    "Window",
    "account_rows",
    "chunk_rows",
    "contact_rows",
    "contract_rows",
    "feature_rows",
    "midnight",
]
