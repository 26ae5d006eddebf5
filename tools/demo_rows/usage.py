"""Demo product usage: the day window, a chunk of accounts, and their daily usage and weekly
feature usage (NumPy over an accounts x days matrix)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from tools.demo_catalog import (
    FEATURES,
)
from tools.demo_plan import (
    CHURNED,
    SIG_USAGE,
    Bools,
    Floats,
    Ints,
    Plan,
)
from tools.demo_rows.portfolio import Contacts, Row


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
class Chunk:
    """Accounts ``idx`` of the plan, their database ids and contacts."""

    plan: Plan
    idx: Ints
    ids: Ints
    contacts: Contacts
    feature_ids: dict[str, int]
    rng: np.random.Generator


def users_matrix(chunk: Chunk, win: Window) -> tuple[Floats, Floats]:
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


def usage_rows(chunk: Chunk, win: Window, users: Floats, logins: Floats) -> list[Row]:
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


def weekly_users(users: Floats, win: Window) -> Floats:
    span = users[:, win.week_start : win.week_start + 7 * win.n_weeks]
    peaks: Floats = np.rint(span.reshape(len(users), win.n_weeks, 7).max(axis=2) * 1.15)
    return peaks


def feature_usage_rows(chunk: Chunk, win: Window, wau: Floats) -> list[Row]:
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
