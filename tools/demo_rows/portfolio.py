"""Account-level demo rows, built for the whole portfolio at once: accounts, contracts, contacts
and the feature catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from tools.demo_catalog import (
    FEATURES,
    FIRST_NAMES,
    LAST_NAMES,
    OWNERS,
    SEGMENTS,
    TIERS,
)
from tools.demo_plan import (
    CHURNED,
    SIG_ENGAGE,
    Ints,
    Plan,
    add_years,
    slugify,
)

Row = dict[str, Any]
CENT = Decimal("0.01")


def midnight(day: date) -> datetime:
    """00:00 UTC on ``day``."""
    return datetime.combine(day, time(0), UTC)


def _lifecycle(plan: Plan, a: int) -> str:
    if plan.kind[a] == CHURNED:
        return "churned"
    if plan.start_off[a] > -90:
        return "onboarding"
    if plan.end_off[a] <= 90:
        return "renewal"
    return "adoption" if plan.start_off[a] > -365 else "mature"


def account_rows(plan: Plan, ids: Ints) -> list[Row]:
    """One row per account."""
    rows = []
    for a in range(plan.n):
        owner_email, owner_slack = OWNERS[int(plan.owner[a])]
        tam = int(plan.tam[a])
        rows.append(
            {
                "id": int(ids[a]),
                "external_id": plan.ext_ids[a],
                "name": plan.names[a],
                "domain": f"{slugify(plan.names[a])}.example",
                "segment": SEGMENTS[int(plan.segment[a])],
                "industry": plan.industry[a],
                "owner_email": owner_email,
                "owner_slack_id": owner_slack,
                "lifecycle_stage": _lifecycle(plan, a),
                "tam_health": tam if tam >= 0 else None,
                "created_at": midnight(plan.today + timedelta(days=int(plan.start_off[a]))),
            }
        )
    return rows


def money(value: float) -> Decimal:
    """An amount rounded to cents."""
    return Decimal(str(round(value, 2))).quantize(CENT)


def contract_rows(plan: Plan, ids: Ints) -> list[Row]:
    """The contract history of every account: back-to-back 12-month terms."""
    rows = []
    for a in range(plan.n):
        n_terms = int(plan.n_prev[a]) + 1
        for k in range(n_terms):
            back = n_terms - 1 - k  # 0 = the current (or last) term
            end = add_years(plan.last_end[a], -back)
            if back == 0:
                status = "churned" if plan.kind[a] == CHURNED else "active"
                tier, seats, arr = plan.tier[a], plan.seats[a], plan.arr[a]
            else:
                status = "renewed"
                tier, seats = plan.prev_tier[a], plan.prev_seats[a]
                arr = round(float(plan.prev_arr[a]) / 1.04 ** (back - 1), -2)
            rows.append(
                {
                    "external_id": f"{plan.ext_ids[a]}-c{k + 1}",
                    "account_id": int(ids[a]),
                    "plan": TIERS[int(tier)],
                    "arr": money(float(arr)),
                    "seats_purchased": int(seats),
                    "start_date": add_years(end, -1),
                    "end_date": end,
                    "auto_renew": bool(plan.auto_renew[a]),
                    "status": status,
                }
            )
    return rows


CONTACT_ROLES = ("champion", "decision_maker", "executive_sponsor", "admin")
# Typical days since last engagement by role.
ENGAGE_SCALE = {
    "champion": 6.0,
    "decision_maker": 20.0,
    "executive_sponsor": 45.0,
    "admin": 10.0,
    "user": 15.0,
}


@dataclass
class Contacts:
    """Contact ids of each account: ``first[a]`` .. ``first[a] + count[a] - 1``."""

    rows: list[Row]
    first: Ints
    count: Ints


def _person_email(first: str, last: str, domain: str) -> str:
    return f"{slugify(first)}.{slugify(last).replace('-', '')}@{domain}"


def contact_rows(plan: Plan, ids: Ints, first_id: int, rng: np.random.Generator) -> Contacts:
    """The people at each account; position 0 is the champion, 1 the decision maker."""
    now = midnight(plan.today)
    sizes = np.array([(7, 12), (4, 8), (3, 5)])[plan.segment]
    count = rng.integers(sizes[:, 0], sizes[:, 1])
    replaced = ~np.isnan(plan.champ_left_off) & plan.champ_replaced
    count = count + replaced
    first = first_id + np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    ref = np.minimum(plan.end_off, 0).astype(np.float64)
    idx = np.arange(plan.n)
    engage = plan.intensity_at(idx, ref) * plan.sig[:, SIG_ENGAGE]
    rows: list[Row] = []
    for a in range(plan.n):
        domain = f"{slugify(plan.names[a])}.example"
        n = int(count[a])
        firsts = rng.integers(0, len(FIRST_NAMES), n).tolist()
        lasts = rng.integers(0, len(LAST_NAMES), n).tolist()
        gaps = rng.exponential(1.0, n).tolist()
        for pos in range(n):
            role = CONTACT_ROLES[pos] if pos < len(CONTACT_ROLES) else "user"
            if role == "executive_sponsor" and plan.segment[a] == 2:
                role = "admin"
            left_on: date | None = None
            days_ago = gaps[pos] * ENGAGE_SCALE[role] * (1 + 8 * engage[a])
            last = now + timedelta(days=float(ref[a]) - days_ago, hours=-9)
            if pos == 0 and not np.isnan(plan.champ_left_off[a]):
                left_on = plan.today + timedelta(days=int(plan.champ_left_off[a]))
                last = midnight(left_on) - timedelta(days=1 + 9 * gaps[pos], hours=15)
            elif pos == n - 1 and replaced[a]:
                role = "champion"
            if not np.isnan(plan.cutoff[a]):
                last = min(last, now + timedelta(days=float(plan.cutoff[a]), hours=-2))
            start = midnight(plan.today + timedelta(days=int(plan.start_off[a])))
            first_name, last_name = FIRST_NAMES[firsts[pos]], LAST_NAMES[lasts[pos]]
            rows.append(
                {
                    "id": int(first[a]) + pos,
                    "external_id": f"{plan.ext_ids[a]}-p{pos + 1}",
                    "account_id": int(ids[a]),
                    "name": f"{first_name} {last_name}",
                    "email": _person_email(first_name, last_name, domain),
                    "role": role,
                    "last_engaged_at": max(last, start).replace(microsecond=0),
                    "left_on": left_on,
                }
            )
    return Contacts(rows=rows, first=first, count=count)


def feature_rows() -> list[Row]:
    """The product feature catalogue."""
    return [
        {
            "key": f.key,
            "name": f.name,
            "tier": TIERS[f.tier],
            "benchmark_adoption": f.benchmark_adoption,
            "is_integration": f.is_integration,
            "events": list(f.events),
        }
        for f in FEATURES
    ]
