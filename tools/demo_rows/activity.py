"""Demo activity over time: tickets (with the named stories' urgent ones), NPS, invoices and
interactions, and ``chunk_rows``, which gathers every time series of a chunk of accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from tools.demo_catalog import (
    INTERACTION_SUMMARIES,
    NPS_COMMENTS,
    TICKET_SUBJECTS,
    URGENT_SUBJECTS,
)
from tools.demo_plan import (
    CHURNED,
    SIG_ENGAGE,
    SIG_INVOICES,
    SIG_NPS,
    SIG_TICKETS,
    Floats,
    Ints,
    Plan,
    add_months,
    add_years,
)
from tools.demo_rows.portfolio import Row, midnight, money
from tools.demo_rows.usage import (
    Chunk,
    Window,
    feature_usage_rows,
    usage_rows,
    users_matrix,
    weekly_users,
)


@dataclass
class ChunkRows:
    """All time-series rows of one chunk of accounts."""

    usage_daily: list[Row]
    feature_usage: list[Row]
    tickets: list[Row]
    nps: list[Row]
    invoices: list[Row]
    interactions: list[Row]


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
                "amount": money(amounts[k]),
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
    users, logins = users_matrix(chunk, win)
    wau = weekly_users(users, win)
    return ChunkRows(
        usage_daily=usage_rows(chunk, win, users, logins),
        feature_usage=feature_usage_rows(chunk, win, wau),
        tickets=_ticket_rows(chunk, win, wau, now),
        nps=_nps_rows(chunk, win, now),
        invoices=_invoice_rows(chunk, win),
        interactions=_interaction_rows(chunk, win, wau, now),
    )
