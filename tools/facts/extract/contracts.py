"""Accounts and their contracts as of some days: the contract in force, tenure, renewal.

Only contracts with ``start_date <= D`` count; "in force" means ``start <= D <= end`` (the
latest such contract by start date wins). ``Contract.status`` is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import and_, inspect, select
from sqlmodel import Session, col

from tools.facts.extract.arrays import FloatArray, IntArray, positions
from tools.facts.extract.sql import Reader, Scope, fetch, statement
from tools.models import Account, Contract

_CONTRACT_COLUMNS = (
    col(Contract.account_id),
    col(Contract.start_date),
    col(Contract.end_date),
    col(Contract.arr),
    col(Contract.seats_purchased),
    col(Contract.plan),
    col(Contract.auto_renew),
    col(Contract.external_id),
)


def _keep_wanted(scope: Scope, ids: IntArray) -> Any:
    return np.isin(ids, np.asarray(scope.wanted, dtype=np.int64))


def account_ids_in(session: Reader, scope: Scope, raw_tam: bool) -> tuple[IntArray, FloatArray]:
    """The ids of the accounts in ``scope`` (sorted) and their TAM health (NaN unless
    ``raw_tam``)."""
    stmt = statement(
        ("accounts", scope.kind),
        lambda: scope.where(
            select(col(Account.id), col(Account.tam_health)), col(Account.id)
        ).order_by(col(Account.id)),
    )
    rows = fetch(session, stmt, scope)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if scope.wanted is not None:
        keep = _keep_wanted(scope, ids)
        rows = [r for r, k in zip(rows, keep, strict=True) if k]
        ids = ids[keep]
    return ids, _tam(rows, raw_tam)


def _tam(rows: Sequence[Any], raw_tam: bool) -> FloatArray:
    return np.array(
        [np.nan if (r[1] is None or not raw_tam) else float(r[1]) for r in rows], dtype=np.float64
    )


def loaded_accounts(session: Reader, scope: Scope) -> dict[int, Account] | None:
    """The scope's accounts when this session already holds every one of them, loaded (e.g.
    the account ``/health`` just resolved): reading them again would return the same rows."""
    if not scope.scoped or not isinstance(session, Session) or scope.wanted is None:
        return None
    out: dict[int, Account] = {}
    for account_id in scope.wanted:
        found = session.identity_map.get(session.identity_key(Account, account_id))
        if not isinstance(found, Account) or inspect(found).expired_attributes:
            return None
        out[account_id] = found
    return out


def accounts_with_contracts(
    session: Reader, scope: Scope, last_day: date, raw_tam: bool
) -> tuple[IntArray, FloatArray, list[Any], dict[int, str]]:
    """Account ids, TAM health, the contracts started by ``last_day`` and the accounts'
    external ids, in one query (only the contracts when the session holds the accounts).

    ``account LEFT JOIN contract``: contract rows are ``(account_id, start, end, arr, seats,
    plan, auto_renew, contract external id)`` by account then start date, ready for
    ``terms_from_rows``.
    """

    def build() -> Any:
        account = Account.__table__  # type: ignore[attr-defined]
        contract = Contract.__table__  # type: ignore[attr-defined]
        joined = account.outerjoin(
            contract,
            and_(contract.c.account_id == account.c.id, contract.c.start_date <= last_day),
        )
        stmt = select(
            account.c.id, account.c.tam_health, *_CONTRACT_COLUMNS[1:], account.c.external_id
        ).select_from(joined)
        stmt = scope.where(stmt, account.c.id)
        return stmt.order_by(account.c.id, contract.c.start_date, contract.c.id)

    loaded = loaded_accounts(session, scope)
    if loaded is not None:  # only the contracts are read
        held = sorted(loaded)
        stmt = statement(("contracts", last_day, scope.kind), lambda: _contracts(scope, last_day))
        tam = _tam([(a, loaded[a].tam_health) for a in held], raw_tam)
        external = {a: loaded[a].external_id for a in held}
        return np.array(held, dtype=np.int64), tam, list(fetch(session, stmt, scope)), external
    rows = fetch(session, statement(("accounts_contracts", last_day, scope.kind), build), scope)
    accounts: list[Any] = []
    contracts: list[Any] = []
    previous = None
    for row in rows:
        if row[0] != previous:
            accounts.append(row)
            previous = row[0]
        if row[2] is not None:
            contracts.append((row[0], *row[2:-1]))
    ids = np.array([r[0] for r in accounts], dtype=np.int64)
    if scope.wanted is not None:
        keep = _keep_wanted(scope, ids)
        accounts = [r for r, k in zip(accounts, keep, strict=True) if k]
        ids = ids[keep]
    external_ids = {int(r[0]): str(r[-1]) for r in accounts}
    return ids, _tam(accounts, raw_tam), contracts, external_ids


def _contracts(scope: Scope, last_day: date) -> Any:
    stmt = select(*_CONTRACT_COLUMNS).where(col(Contract.start_date) <= last_day)
    stmt = scope.where(stmt, col(Contract.account_id))
    return stmt.order_by(col(Contract.account_id), col(Contract.start_date), col(Contract.id))


def contract_terms(session: Reader, scope: Scope, ids: IntArray, as_of: date) -> dict[str, Any]:
    """Contract facts per account as of ``as_of`` (the contract in force, tenure), as arrays."""
    stmt = statement(("contracts", as_of, scope.kind), lambda: _contracts(scope, as_of))
    return terms_from_rows(fetch(session, stmt, scope), ids, as_of)


def terms_from_rows(rows: Sequence[Any], ids: IntArray, as_of: date) -> dict[str, Any]:
    """Contract facts as of ``as_of`` from contract rows sorted by account then start date
    (rows starting after ``as_of`` are skipped)."""
    n = len(ids)
    # Plain lists in the loop (NumPy item assignment is slow), arrays at the end.
    nan = float("nan")
    has_contract, active, auto_renew = [False] * n, [False] * n, [False] * n
    tenure, arr_of, seats_of, to_renewal = [nan] * n, [0.0] * n, [nan] * n, [nan] * n
    term = [nan] * n
    plans: list[str | None] = [None] * n
    renewals: list[date | None] = [None] * n
    if rows:
        pos, found = positions(ids, [r[0] for r in rows])
        as_of_ord = as_of.toordinal()
        for row, p, ok in zip(rows, pos.tolist(), found.tolist(), strict=True):
            _, start, end, arr, seats, plan, renews = row[:7]
            if not ok or start > as_of:
                continue
            if not has_contract[p]:
                has_contract[p] = True
                tenure[p] = float(as_of_ord - start.toordinal())
            if end >= as_of:  # rows are by start date: the last active one wins
                active[p] = True
                arr_of[p] = float(arr)
                seats_of[p] = float(seats)
                to_renewal[p] = float(end.toordinal() - as_of_ord)
                term[p] = float(end.toordinal() - start.toordinal() + 1)
                auto_renew[p] = bool(renews)
                plans[p] = plan
                renewals[p] = end
    return {
        "has_contract": np.array(has_contract, dtype=np.bool_),
        "active": np.array(active, dtype=np.bool_),
        "tenure_days": np.array(tenure, dtype=np.float64),
        "arr": np.array(arr_of, dtype=np.float64),
        "seats_purchased": np.array(seats_of, dtype=np.float64),
        "days_to_renewal": np.array(to_renewal, dtype=np.float64),
        "term_days": np.array(term, dtype=np.float64),
        "auto_renew": np.array(auto_renew, dtype=np.bool_),
        "plan": plans,
        "renewal_date": renewals,
    }
