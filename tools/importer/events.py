"""Raw product events (``events.csv``/``.jsonl``) folded into daily usage and feature usage.

An event counts as a login when its name is one of the scoring config's ``[activity]
login_events`` (case-insensitive; ``login`` by default); every event makes its user active that
day, and an event maps to the features whose ``events`` list names it (docs/data-format.md).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

from tools.importer.errors import CellError, ErrorLog, RowError, is_blank, show
from tools.importer.parse import INT_MAX, integer, timestamp
from tools.importer.readers import ProgressCallback, open_records
from tools.importer.schema import ACCOUNT, BY_NAME, EVENT_COLUMNS, EVENT_REQUIRED
from tools.importer.validate import Batch, Known

_quantity = integer(minimum=0)


@dataclass
class _EventTotals:
    login_events: frozenset[str]
    """Lower-cased names of the events that count as a login."""
    is_login: dict[str, bool] = field(default_factory=dict)
    """Event names seen so far, as written, and whether each is a login."""
    users: dict[tuple[str, date], set[str]] = field(default_factory=dict)
    logins: dict[tuple[str, date], int] = field(default_factory=dict)
    feature_users: dict[tuple[str, str, date], set[str]] = field(default_factory=dict)
    feature_events: dict[tuple[str, str, date], int] = field(default_factory=dict)


@dataclass
class FoldedEvents:
    """Daily usage and feature usage computed from an events file."""

    usage: Batch
    feature_usage: Batch
    rows: int
    """Event rows read (valid or not)."""
    logins: int
    """Logins counted (the summed quantity of the login events)."""


def aggregate_events(
    path: Path,
    known: Known,
    log: ErrorLog,
    progress: ProgressCallback | None,
    login_events: Collection[str],
) -> FoldedEvents:
    """Fold raw events into daily usage and daily feature usage (UTC days); events named in
    ``login_events`` (any case) count as logins."""
    source = open_records(
        path, columns=EVENT_COLUMNS, required=EVENT_REQUIRED, log=log, progress=progress
    )
    features_of: dict[str, list[str]] = {}
    for feature_key, names in known.feature_events.items():
        for name in names:
            features_of.setdefault(name, []).append(feature_key)
    accounts = known.ids[ACCOUNT]
    totals = _EventTotals(frozenset(name.strip().casefold() for name in login_events))
    rows = 0
    for line, raw in source.rows:
        rows += 1
        event = _parse_event(path.name, line, raw, accounts, log)
        if event is not None:
            _add_event(totals, features_of, *event)
    _check_totals(path.name, totals, log)
    usage = Batch(BY_NAME["usage_daily"], path.name, set(), [])
    usage.present = {"account_id", "day", "active_users", "logins"}
    for (account, when), users in totals.users.items():
        record = {
            "account_id": account,
            "day": when,
            "active_users": len(users),
            "logins": totals.logins.get((account, when), 0),
        }
        usage.records.append((0, record))
    feature_usage = Batch(BY_NAME["feature_usage"], path.name, set(), [])
    feature_usage.present = {"account_id", "feature_key", "day", "users", "events"}
    for (account, feature_key, when), count in totals.feature_events.items():
        users = totals.feature_users.get((account, feature_key, when), set())
        record = {
            "account_id": account,
            "feature_key": feature_key,
            "day": when,
            "users": len(users),
            "events": count,
        }
        feature_usage.records.append((0, record))
    return FoldedEvents(usage, feature_usage, rows, sum(totals.logins.values()))


def _check_totals(file: str, totals: _EventTotals, log: ErrorLog) -> None:
    """A day's summed quantities must still fit the database's INTEGER columns."""
    sums: list[tuple[tuple[Any, ...], int]] = [*totals.logins.items()]
    sums += totals.feature_events.items()
    for key, total in sums:
        if total > INT_MAX:
            where = " / ".join(str(k) for k in key)
            reason = f"adds up to {total:,} for {where}, above {INT_MAX:,}"
            log.add(RowError(file, None, "quantity", None, reason))


def _parse_event(
    file: str, line: int, raw: dict[str, Any], accounts: set[str], log: ErrorLog
) -> tuple[str, date, str, str | None, int] | None:
    """(account, UTC day, event name, user or None, quantity), or None after logging errors."""
    errors_before = log.total
    account = raw.get("account_id")
    if is_blank(account):
        log.add(RowError(file, line, "account_id", None, "is required"))
    elif not isinstance(account, str):
        log.add(RowError(file, line, "account_id", show(account), "is not a string"))
    else:
        account = account.strip()
        if account not in accounts:
            reason = "is not a known account (not in accounts nor in the database)"
            log.add(RowError(file, line, "account_id", show(account), reason))
    when = None
    try:
        when = timestamp(raw.get("timestamp")).date()
    except CellError as exc:
        value = raw.get("timestamp")
        if is_blank(value):
            log.add(RowError(file, line, "timestamp", None, "is required"))
        else:
            log.add(RowError(file, line, "timestamp", show(value), exc.reason))
    name = raw.get("event")
    if is_blank(name):
        log.add(RowError(file, line, "event", None, "is required"))
    elif not isinstance(name, str):
        log.add(RowError(file, line, "event", show(name), "is not a string"))
    user = raw.get("user_id")
    user = None if is_blank(user) else str(user).strip()
    raw_quantity = raw.get("quantity")
    quantity = 1
    if not is_blank(raw_quantity):
        try:
            quantity = _quantity(raw_quantity)
        except CellError as exc:
            log.add(RowError(file, line, "quantity", show(raw_quantity), exc.reason))
    if log.total != errors_before or when is None:
        return None
    return cast(str, account), when, cast(str, name).strip(), user, quantity


def _add_event(
    totals: _EventTotals,
    features_of: dict[str, list[str]],
    account: str,
    when: date,
    name: str,
    user: str | None,
    quantity: int,
) -> None:
    day_key = (account, when)
    users = totals.users.get(day_key)
    if users is None:
        users = totals.users[day_key] = set()
    if user is not None:
        users.add(user)
    is_login = totals.is_login.get(name)
    if is_login is None:
        is_login = totals.is_login[name] = name.casefold() in totals.login_events
    if is_login:
        totals.logins[day_key] = totals.logins.get(day_key, 0) + quantity
    for feature_key in features_of.get(name, ()):
        key = (account, feature_key, when)
        totals.feature_events[key] = totals.feature_events.get(key, 0) + quantity
        if user is not None:
            totals.feature_users.setdefault(key, set()).add(user)
