"""Turn a demo ``Plan`` into table rows (plain dicts for SQLAlchemy Core bulk inserts).

Account-level tables (accounts, contracts, contacts) are built for the whole portfolio at once;
time series (usage, feature usage, tickets, NPS, invoices, interactions) per chunk of accounts,
vectorised with NumPy over an accounts x days matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from tools.demo_catalog import (
    FEATURES,
    FIRST_NAMES,
    INTERACTION_SUMMARIES,
    LAST_NAMES,
    NPS_COMMENTS,
    OWNERS,
    SEGMENTS,
    TICKET_SUBJECTS,
    TIERS,
    URGENT_SUBJECTS,
)
from tools.demo_plan import (
    CHURNED,
    SIG_ENGAGE,
    SIG_INVOICES,
    SIG_NPS,
    SIG_TICKETS,
    SIG_USAGE,
    Bools,
    Floats,
    Ints,
    Plan,
    add_months,
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


def _money(value: float) -> Decimal:
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
                    "arr": _money(float(arr)),
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


@dataclass
class Window:
    """The days of generated activity: ``days[i]`` is ``offsets[i]`` days from today."""

    today: date
    days: list[date]
    offsets: Floats
    weekend: Bools
    week_start: int  # index of the first Monday
    n_weeks: int

    @classmethod
    def of(cls, today: date, n_days: int) -> Window:
        days = [today - timedelta(days=n_days - i) for i in range(n_days)]
        weekday = np.array([d.weekday() for d in days])
        week_start = int(np.argmax(weekday == 0)) if n_days else 0
        return cls(
            today=today,
            days=days,
            offsets=np.arange(-n_days, 0, dtype=np.float64),
            weekend=weekday >= 5,
            week_start=week_start,
            n_weeks=max(0, (n_days - week_start) // 7),
        )

    @property
    def mondays(self) -> list[date]:
        return [self.days[self.week_start + 7 * w] for w in range(self.n_weeks)]

    @property
    def monday_offsets(self) -> Floats:
        return self.offsets[self.week_start :: 7][: self.n_weeks]


@dataclass
class ChunkRows:
    """All time-series rows of one chunk of accounts."""

    usage_daily: list[Row]
    feature_usage: list[Row]
    tickets: list[Row]
    nps: list[Row]
    invoices: list[Row]
    interactions: list[Row]


@dataclass
class Chunk:
    """Accounts ``idx`` of the plan, their database ids and contacts."""

    plan: Plan
    idx: Ints
    ids: Ints
    contacts: Contacts
    feature_ids: dict[str, int]
    rng: np.random.Generator


def _users_matrix(chunk: Chunk, win: Window) -> tuple[Floats, Floats]:
    """Daily active users and logins (accounts x days)."""
    plan, idx, rng, t = chunk.plan, chunk.idx, chunk.rng, win.offsets
    c, n_days = len(idx), len(t)
    level = np.empty((c, n_days))
    login_mult = np.ones((c, n_days))
    for row, a in enumerate(idx.tolist()):
        level[row] = np.interp(t, *plan.knots[a])
        if a in plan.login_knots:
            login_mult[row] = np.interp(t, *plan.login_knots[a])
        for g0, g1 in plan.gaps[a]:
            level[row, (t >= g0) & (t < g1)] = 0.0
    since = t[None, :] - plan.start_off[idx][:, None]
    onboard = np.where(since < 0, 0.0, np.clip(0.3 + 0.7 * since / 45, 0, 1))
    churned = (plan.kind[idx] == CHURNED)[:, None]
    alive = ~churned | (t[None, :] < plan.end_off[idx][:, None])
    inten = plan.intensity(idx, t) * plan.sig[idx, SIG_USAGE][:, None]
    weekend = np.where(win.weekend[None, :], plan.weekend[idx][:, None], 1.0)
    noise = np.exp(rng.normal(0.0, 1.0, (c, n_days)) * plan.noise[idx][:, None])
    weeks = (np.arange(n_days) + 7 - win.week_start) // 7
    swing = np.exp(rng.normal(0.0, 1.0, (c, int(weeks.max()) + 1)) * plan.erratic[idx][:, None])
    users = level * onboard * alive * (1 - inten) * weekend * noise * swing[:, weeks]
    users = np.rint(np.minimum(users, plan.users_cap[idx][:, None]))
    login_noise = np.exp(rng.normal(0.0, 0.1, (c, n_days)))
    logins = np.rint(users * plan.lpu[idx][:, None] * (1 - 0.5 * inten) * login_mult * login_noise)
    return users, np.maximum(logins, users)


def _usage_rows(chunk: Chunk, win: Window, users: Floats, logins: Floats) -> list[Row]:
    ci, ti = np.nonzero(users > 0)
    acct = chunk.ids[ci].tolist()
    days = win.days
    return [
        {"account_id": a, "day": days[d], "active_users": u, "logins": lg}
        for a, d, u, lg in zip(
            acct,
            ti.tolist(),
            users[ci, ti].astype(np.int64).tolist(),
            logins[ci, ti].astype(np.int64).tolist(),
            strict=True,
        )
    ]


def _weekly_users(users: Floats, win: Window) -> Floats:
    span = users[:, win.week_start : win.week_start + 7 * win.n_weeks]
    peaks: Floats = np.rint(span.reshape(len(users), win.n_weeks, 7).max(axis=2) * 1.15)
    return peaks


def _feature_usage_rows(chunk: Chunk, win: Window, wau: Floats) -> list[Row]:
    plan, idx, rng = chunk.plan, chunk.idx, chunk.rng
    c, n_f, n_w = len(idx), len(FEATURES), win.n_weeks
    ftier = np.array([f.tier for f in FEATURES])
    bench = np.array([f.benchmark_adoption for f in FEATURES])
    tier = plan.tier[idx][:, None]
    p_adopt = np.minimum(0.97, bench[None, :] * plan.adopt_mult[idx][:, None])
    adopted = (ftier[None, :] <= tier) & (rng.random((c, n_f)) < p_adopt)
    share = rng.uniform(0.25, 0.85, (c, n_f)) * adopted
    trial = (ftier[None, :] == tier + 1) & (rng.random((c, n_f)) < 0.6)
    trial_share = rng.uniform(0.2, 0.45, (c, n_f)) * trial
    keys = [f.key for f in FEATURES]
    for row, a in enumerate(idx.tolist()):
        for key, value in plan.feature_share.get(a, {}).items():
            col = keys.index(key)
            if FEATURES[col].tier > plan.tier[a]:
                trial_share[row, col] = value
            else:
                share[row, col] = value
    tw = win.monday_offsets
    in_trial = (tw[None, :] >= plan.trial_t0[idx][:, None]) & (
        tw[None, :] < plan.trial_t1[idx][:, None]
    )
    inten = plan.intensity(idx, tw) * plan.sig[idx, SIG_USAGE][:, None]
    weekly_share = share[:, :, None] * (1 - 0.6 * inten)[:, None, :] + (
        trial_share[:, :, None] * in_trial[:, None, :]
    )
    noise = np.exp(rng.normal(0.0, 0.15, (c, n_f, n_w)))
    users = np.minimum(np.rint(wau[:, None, :] * weekly_share * noise), wau[:, None, :])
    epu = np.array([f.events_per_user for f in FEATURES])
    events = np.rint(
        users * epu[None, :, None] * np.exp(rng.normal(0.0, 0.3, (c, n_f, n_w)))
    ).astype(np.int64)
    ai, fi, wi = np.nonzero(users > 0)
    fids = [chunk.feature_ids[k] for k in keys]
    mondays = win.mondays
    return [
        {"account_id": a, "feature_id": fids[f], "day": mondays[w], "users": u, "events": e}
        for a, f, w, u, e in zip(
            chunk.ids[ai].tolist(),
            fi.tolist(),
            wi.tolist(),
            users[ai, fi, wi].astype(np.int64).tolist(),
            events[ai, fi, wi].tolist(),
            strict=True,
        )
    ]


def _contact_for(chunk: Chunk, rows: Ints, when: Floats) -> list[int]:
    """A contact of account ``chunk.idx[rows[i]]`` who had not left on day offset ``when[i]``."""
    acct = chunk.idx[rows]
    first, count = chunk.contacts.first[acct], chunk.contacts.count[acct]
    pos = np.floor(chunk.rng.random(len(rows)) * count).astype(np.int64)
    left = chunk.plan.champ_left_off[acct]
    pos = np.where((pos == 0) & ~np.isnan(left) & (when >= np.nan_to_num(left, nan=0.0)), 1, pos)
    ids: list[int] = (first + pos).tolist()
    return ids


def _event_times(
    chunk: Chunk, base_offsets: Floats, spread_days: int, now: datetime
) -> tuple[Floats, list[datetime]]:
    """Random business-hours times within ``spread_days`` after each base day offset."""
    rng = chunk.rng
    n = len(base_offsets)
    day = base_offsets + rng.integers(0, spread_days, n)
    seconds = rng.integers(7 * 3600, 19 * 3600, n)
    times = [
        now + timedelta(days=d, seconds=s)
        for d, s in zip(day.tolist(), seconds.tolist(), strict=True)
    ]
    return day, times


def _ticket_rows(chunk: Chunk, win: Window, wau: Floats, now: datetime) -> list[Row]:
    plan, idx, rng = chunk.plan, chunk.idx, chunk.rng
    sig = plan.sig[idx, SIG_TICKETS][:, None]
    inten = plan.intensity(idx, win.monday_offsets) * sig
    lam = 0.05 * np.sqrt(wau) * plan.ticket_mult[idx][:, None] * (1 + 5 * inten)
    counts = rng.poisson(lam)
    ci, wi = np.nonzero(counts)
    reps = counts[ci, wi]
    ci, wi = np.repeat(ci, reps), np.repeat(wi, reps)
    offsets, opened = _event_times(chunk, win.monday_offsets[wi], 7, now)
    alive = (offsets < 0) & ((plan.kind[idx][ci] != CHURNED) | (offsets < plan.end_off[idx][ci]))
    ci, wi, offsets = ci[alive], wi[alive], offsets[alive]
    opened = [o for o, keep in zip(opened, alive.tolist(), strict=True) if keep]
    n = len(ci)
    tin = inten[ci, wi]
    u = rng.random(n)
    p_urgent, p_high = 0.04 + 0.12 * tin, 0.16 + 0.1 * tin
    prio = np.select([u < p_urgent, u < p_urgent + p_high, u > 0.72], [3, 2, 0], 1)
    sentiment = np.clip(
        rng.normal(0.15 + plan.sent_bias[idx][ci] - 1.0 * tin, 0.3), -1.0, 1.0
    ).round(2)
    median_hours = np.array([96.0, 48.0, 24.0, 8.0])[prio]
    hours = median_hours * np.exp(rng.normal(0.0, 0.8, n)) * (1 + 2 * tin)
    escalated = rng.random(n) < 0.01 + 0.12 * tin + 0.08 * (prio == 3)
    pending = rng.random(n) < 0.3
    solved = rng.random(n) < 0.3
    subject_pick = rng.random(n)
    rows = []
    names = ("low", "normal", "high", "urgent")
    for k in range(n):
        closed: datetime | None = opened[k] + timedelta(hours=float(hours[k]))
        if closed is not None and closed >= now:
            closed, status = None, "pending" if pending[k] else "open"
        else:
            status = "solved" if solved[k] else "closed"
        pool = URGENT_SUBJECTS if prio[k] == 3 else TICKET_SUBJECTS
        rows.append(
            {
                "account_id": int(chunk.ids[ci[k]]),
                "subject": pool[int(subject_pick[k] * len(pool))],
                "priority": names[int(prio[k])],
                "status": status,
                "sentiment": float(sentiment[k]),
                "escalated": bool(escalated[k]),
                "opened_at": opened[k],
                "closed_at": closed.replace(microsecond=0) if closed else None,
            }
        )
    return rows + _story_tickets(chunk, now)


# Umbrella Health's open urgent tickets: (days ago, sentiment, escalated).
UMBRELLA_URGENT = ((9, -0.7, True), (11, -0.85, False), (13, -0.6, False), (16, -0.9, True))


def _story_tickets(chunk: Chunk, now: datetime) -> list[Row]:
    rows = []
    for row, a in enumerate(chunk.idx.tolist()):
        if chunk.plan.ext_ids[a] != "umbrella":
            continue
        for k, (ago, sentiment, escalated) in enumerate(UMBRELLA_URGENT):
            rows.append(
                {
                    "account_id": int(chunk.ids[row]),
                    "subject": URGENT_SUBJECTS[k],
                    "priority": "urgent",
                    "status": "open",
                    "sentiment": sentiment,
                    "escalated": escalated,
                    "opened_at": now - timedelta(days=ago, hours=5),
                    "closed_at": None,
                }
            )
    return rows


def _nps_rows(chunk: Chunk, win: Window, now: datetime) -> list[Row]:
    plan, idx, rng = chunk.plan, chunk.idx, chunk.rng
    c = len(idx)
    n_days = len(win.days)
    rounds = n_days // 91 + 1
    phase = rng.integers(0, 91, c)
    base = -(phase[:, None] + 91 * np.arange(rounds)[None, :]).astype(np.float64)
    resp = rng.binomial(np.minimum(chunk.contacts.count[idx], 6)[:, None], 0.35, (c, rounds))
    resp = resp * (base >= -n_days)
    ci, ri = np.nonzero(resp)
    reps = resp[ci, ri]
    ci, ri = np.repeat(ci, reps), np.repeat(ri, reps)
    offsets, when = _event_times(chunk, base[ci, ri], 10, now)
    a = idx[ci]
    keep = (
        (offsets < 0)
        & (offsets >= plan.start_off[a])
        & ((plan.kind[a] != CHURNED) | (offsets < plan.end_off[a]))
    )
    ci, offsets, a = ci[keep], offsets[keep], a[keep]
    when = [w for w, k in zip(when, keep.tolist(), strict=True) if k]
    inten = plan.intensity_at(a, offsets) * plan.sig[a, SIG_NPS]
    scores = np.clip(np.rint(rng.normal(8.0 + plan.nps_bias[a] - 6.5 * inten, 1.6)), 0, 10)
    contacts = _contact_for(chunk, ci, offsets)
    pick = rng.random(len(ci))
    has_comment = rng.random(len(ci)) < 0.75
    rows = []
    for k, score in enumerate(scores.astype(np.int64).tolist()):
        bucket = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        pool = NPS_COMMENTS[bucket]
        rows.append(
            {
                "account_id": int(chunk.ids[ci[k]]),
                "contact_id": contacts[k],
                "kind": "nps",
                "score": score,
                "comment": pool[int(pick[k] * len(pool))] if has_comment[k] else "",
                "responded_at": when[k],
            }
        )
    return rows


def _invoice_dates(plan: Plan, a: int, first_day: date) -> list[tuple[date, float]]:
    """(issued_on, amount) of the invoices of account ``a`` issued in the window."""
    out: list[tuple[date, float]] = []
    last_day = plan.today if plan.kind[a] != CHURNED else plan.last_end[a]
    for back in range(int(plan.n_prev[a]) + 1):
        end = add_years(plan.last_end[a], -back)
        start = add_years(end, -1)
        if end < first_day:
            break
        arr = float(plan.arr[a] if back == 0 else plan.prev_arr[a] / 1.04 ** (back - 1))
        issues = [(start, arr)] if plan.annual[a] else [
            (add_months(start, m), arr / 12) for m in range(12)
        ]  # fmt: skip
        out.extend((d, amt) for d, amt in issues if first_day <= d < last_day)
    return sorted(out)


def _invoice_rows(chunk: Chunk, win: Window) -> list[Row]:
    plan, rng, today = chunk.plan, chunk.rng, win.today
    first_day = win.days[0] if win.days else today
    acct_rows: list[int] = []
    issued: list[date] = []
    amounts: list[float] = []
    for row, a in enumerate(chunk.idx.tolist()):
        for d, amount in _invoice_dates(plan, a, first_day):
            acct_rows.append(row)
            issued.append(d)
            amounts.append(amount)
    rows_arr = np.array(acct_rows, dtype=np.int64)
    a = chunk.idx[rows_arr]
    due_off = np.array([(d - today).days + 30 for d in issued], dtype=np.float64)
    inten = plan.intensity_at(a, due_off) * plan.sig[a, SIG_INVOICES]
    unpaid = rng.random(len(a)) < plan.overdue_mult[a] * (0.01 + 0.7 * inten)
    lag = np.rint(rng.normal(-5.0, 4.0, len(a)) + 30 * inten)
    paid_off = np.maximum(due_off + lag, due_off - 29)
    void = rng.random(len(a)) < 0.01 * plan.overdue_mult[a]
    rows = []
    for k in range(len(a)):
        due_on = issued[k] + timedelta(days=30)
        paid_on: date | None = today + timedelta(days=int(paid_off[k]))
        if unpaid[k] or void[k] or (paid_on is not None and paid_on >= today):
            paid_on = None
        status = "paid" if paid_on else "overdue" if due_on < today else "open"
        if void[k]:
            status = "void"
        rows.append(
            {
                "account_id": int(chunk.ids[rows_arr[k]]),
                "issued_on": issued[k],
                "due_on": due_on,
                "paid_on": paid_on,
                "amount": _money(amounts[k]),
                "status": status,
            }
        )
    return rows


INTERACTION_KINDS = ("email", "call", "meeting", "qbr")
MEANINGFUL_P = np.array([0.45, 0.8, 0.9, 0.97])


def _interaction_rows(chunk: Chunk, win: Window, wau: Floats, now: datetime) -> list[Row]:
    plan, idx, rng = chunk.plan, chunk.idx, chunk.rng
    rate = np.array([0.7, 0.35, 0.15])[plan.segment[idx]][:, None]
    counts = rng.poisson(np.broadcast_to(rate, wau.shape) * (wau > 0))
    ci, wi = np.nonzero(counts)
    reps = counts[ci, wi]
    ci, wi = np.repeat(ci, reps), np.repeat(wi, reps)
    offsets, when = _event_times(chunk, win.monday_offsets[wi], 5, now)
    keep = offsets < 0
    ci, offsets = ci[keep], offsets[keep]
    when = [w for w, k in zip(when, keep.tolist(), strict=True) if k]
    a = idx[ci]
    qbr_p = np.array([0.08, 0.06, 0.02])[plan.segment[a]]
    u = rng.random(len(a))
    kind = np.select([u < qbr_p, u < qbr_p + 0.22, u < qbr_p + 0.47], [3, 2, 1], 0)
    inten = plan.intensity_at(a, offsets) * plan.sig[a, SIG_ENGAGE]
    meaningful = rng.random(len(a)) < MEANINGFUL_P[kind] * (1 - 0.85 * inten)
    meaningful &= ~(offsets >= np.nan_to_num(plan.cutoff[a], nan=1.0))
    contacts = _contact_for(chunk, ci, offsets)
    pick = rng.random(len(a))
    rows = []
    for k in range(len(a)):
        kname = INTERACTION_KINDS[int(kind[k])]
        pool = INTERACTION_SUMMARIES[(kname, bool(meaningful[k]))]
        rows.append(
            {
                "account_id": int(chunk.ids[ci[k]]),
                "contact_id": contacts[k],
                "kind": kname,
                "occurred_at": when[k],
                "meaningful": bool(meaningful[k]),
                "summary": pool[int(pick[k] * len(pool))],
            }
        )
    return rows


def chunk_rows(chunk: Chunk, win: Window) -> ChunkRows:
    """Every time-series row of the accounts in ``chunk``."""
    now = midnight(win.today)
    users, logins = _users_matrix(chunk, win)
    wau = _weekly_users(users, win)
    return ChunkRows(
        usage_daily=_usage_rows(chunk, win, users, logins),
        feature_usage=_feature_usage_rows(chunk, win, wau),
        tickets=_ticket_rows(chunk, win, wau, now),
        nps=_nps_rows(chunk, win, now),
        invoices=_invoice_rows(chunk, win),
        interactions=_interaction_rows(chunk, win, wau, now),
    )
