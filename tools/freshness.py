"""Is there data to talk about? An empty or stale database says so, with the next command to run,
instead of celebrating that no account is at risk or showing a 100% logo churn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from tools.facts import active_contracts
from tools.models import Account, Contract

IMPORT_HINT = "`csbot import DIR` (see docs/data-format.md)"


@dataclass(frozen=True)
class DataState:
    """How many accounts exist and how many have a contract in force on ``as_of``."""

    as_of: date
    accounts: int
    active: int
    newest_contract_end: date | None

    @property
    def empty(self) -> bool:
        return self.accounts == 0

    @property
    def stale(self) -> bool:
        """Accounts exist but none has a contract in force: the data ended in the past."""
        return self.accounts > 0 and self.active == 0

    def problem(self) -> str | None:
        """What is wrong with the data and what to run next, or None when there is data."""
        if self.empty:
            return (
                "There is no account data yet. Import yours with "
                f"{IMPORT_HINT}, or try the product with `csbot demo`."
            )
        if self.stale:
            ended = (
                f"the newest contract ended on {self.newest_contract_end.isoformat()}"
                if self.newest_contract_end is not None
                else "no account has a contract"
            )
            return (
                f"No account has a contract in force on {self.as_of.isoformat()} ({ended}): "
                f"the data looks out of date. Import current data with {IMPORT_HINT}; for the "
                "sample data, `csbot import examples/data --shift-dates-to-today`."
            )
        return None


def data_state(session: Session, *, as_of: date) -> DataState:
    """Accounts, accounts with a contract in force (the same rule as every score), newest end."""
    accounts = session.exec(select(func.count()).select_from(Account)).one()
    newest = session.exec(select(func.max(col(Contract.end_date)))).one()
    active = len(active_contracts(session, on=as_of)) if accounts else 0
    return DataState(as_of=as_of, accounts=int(accounts), active=active, newest_contract_end=newest)
