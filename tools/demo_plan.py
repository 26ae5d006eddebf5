"""The demo portfolio's hidden plan: who each account is and what happens to it.

Every account gets a fate (stable, churned, at risk, upsold, expanding) and a latent *decline*
(severity ``sev`` ramping from day ``d0`` to ``d1``, offsets in days relative to today) that the
table generators in ``tools.demo_rows`` turn into warning signs: falling usage, ticket spikes,
detractor NPS, late invoices, fading engagement. Signals fire per account at random, silent
churners and false alarms exist, so a health score ranks churners well but not perfectly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from tools.demo_catalog import (
    INDUSTRIES,
    NAME_NOUNS,
    NAME_PREFIXES,
    NAME_VARIANTS,
    OWNERS,
    SEAT_PRICE,
    SEGMENT_WEIGHTS,
    SEGMENTS,
    STORIES,
    TIERS,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

STABLE, CHURNED, AT_RISK, UPSOLD, EXPANDING = range(5)
# What drives churn in the generated world (``csbot demo --world``).
WORLD_SIGNALS = "signals"
WORLD_RENEWAL_TIMING = "renewal-timing"
WORLDS: tuple[str, ...] = (WORLD_SIGNALS, WORLD_RENEWAL_TIMING)
# Columns of Plan.sig: which warning signs an account's decline shows.
SIG_USAGE, SIG_TICKETS, SIG_NPS, SIG_INVOICES, SIG_ENGAGE = range(5)
N_SIGNALS = 5


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of shorter months."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, dom)
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover - 28 always exists


def slugify(text: str) -> str:
    """ASCII, lower-case, dash-separated."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@dataclass
class Plan:
    """Per-account parameters, one array element per account (stories first)."""

    today: date
    ext_ids: list[str]
    names: list[str]
    segment: Ints
    industry: list[str]
    owner: Ints
    kind: Ints
    tier: Ints
    prev_tier: Ints
    seats: Ints
    prev_seats: Ints
    arr: Floats
    prev_arr: Floats
    last_end: list[date]
    n_prev: Ints
    start_off: Ints
    end_off: Ints
    sev: Floats
    d0: Floats
    d1: Floats
    sig: Bools
    champ_left_off: Floats
    champ_replaced: Bools
    erratic: Floats
    gaps: list[list[tuple[int, int]]]
    weekend: Floats
    annual: Bools
    auto_renew: Bools
    tam: Ints
    lpu: Floats
    noise: Floats
    users_cap: Floats
    nps_bias: Floats
    ticket_mult: Floats
    sent_bias: Floats
    overdue_mult: Floats
    adopt_mult: Floats
    trial_t0: Floats
    trial_t1: Floats
    cutoff: Floats
    knots: list[tuple[Floats, Floats]]
    login_knots: dict[int, tuple[Floats, Floats]] = field(default_factory=dict)
    feature_share: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ext_ids)

    def intensity(self, idx: Ints, t: Floats) -> Floats:
        """Decline intensity 0..1 of accounts ``idx`` (rows) on day offsets ``t`` (columns)."""
        d0 = self.d0[idx][:, None]
        dur = np.maximum(self.d1[idx] - self.d0[idx], 1.0)[:, None]
        ramp = np.clip((t[None, :] - d0) / dur, 0.0, 1.0)
        return self.sev[idx][:, None] * ramp

    def intensity_at(self, acct: Ints, t: Floats) -> Floats:
        """Decline intensity of account ``acct[i]`` on day offset ``t[i]`` (element-wise)."""
        dur = np.maximum(self.d1[acct] - self.d0[acct], 1.0)
        return self.sev[acct] * np.clip((t - self.d0[acct]) / dur, 0.0, 1.0)


def _company_names(rng: np.random.Generator, n: int) -> list[str]:
    taken = {s.name for s in STORIES}
    sizes = (len(NAME_PREFIXES), len(NAME_NOUNS), len(NAME_VARIANTS))
    names: list[str] = []
    for code in rng.permutation(sizes[0] * sizes[1] * sizes[2]).tolist():
        code, variant = divmod(code, sizes[2])
        prefix, noun = divmod(code, sizes[1])
        name = f"{NAME_PREFIXES[prefix]} {NAME_NOUNS[noun]}{NAME_VARIANTS[variant]}"
        if name not in taken:
            names.append(name)
        if len(names) == n:
            return names
    return names + [f"Customer {i:05d}" for i in range(len(names), n)]


def _pick_by_segment(
    rng: np.random.Generator, segment: Ints, probs: tuple[tuple[float, ...], ...]
) -> Ints:
    cumulative = np.cumsum(np.array(probs), axis=1)[segment]
    u = rng.random(len(segment))[:, None]
    picked: Ints = (u > cumulative[:, :-1]).sum(axis=1).astype(np.int64)
    return picked


def _lognormal_clip(
    rng: np.random.Generator, medians: Floats, sigma: float, lo: Floats, hi: Floats
) -> Floats:
    return np.clip(np.exp(rng.normal(np.log(medians), sigma)), lo, hi)


def build_plan(
    rng: np.random.Generator, n: int, today: date, *, world: str = WORLD_SIGNALS
) -> Plan:
    """Draw the plan of ``n`` accounts; the first ``len(STORIES)`` are the named stories.

    In the ``renewal-timing`` world the fates are drawn as usual but the warning signs are not
    tied to them: every account, churner or not, has the same chance of a decline at a random
    time. Churn then happens only at renewals and at random, which no health score can see.
    """
    u = rng.random
    segment = rng.choice(3, size=n, p=SEGMENT_WEIGHTS).astype(np.int64)
    tier = _pick_by_segment(rng, segment, ((0.05, 0.35, 0.6), (0.15, 0.6, 0.25), (0.55, 0.4, 0.05)))
    seat_median = np.array([500.0, 100.0, 18.0])[segment]
    seats = np.rint(
        _lognormal_clip(
            rng,
            seat_median,
            0.45,
            np.array([150.0, 30.0, 5.0])[segment],
            np.array([3000.0, 400.0, 60.0])[segment],
        )
    ).astype(np.int64)
    price_factor = rng.uniform(0.85, 1.1, n)
    arr = np.round(seats * np.array(SEAT_PRICE)[tier] * price_factor, -2)

    roll = u(n)
    kind = np.select(
        [roll < 0.12, roll < 0.22, roll < 0.37, roll < 0.44], [CHURNED, AT_RISK, UPSOLD, EXPANDING]
    ).astype(np.int64)
    n_prev = np.where(u(n) < 0.1, 0, rng.integers(1, 5, n)).astype(np.int64)
    n_prev = np.where(kind == UPSOLD, np.maximum(n_prev, 1), n_prev)
    end_off = np.where(kind == CHURNED, -rng.integers(5, 366, n), rng.integers(1, 366, n))

    # Upsold: the current term (more seats, maybe a higher tier) succeeded a smaller one.
    upsold = kind == UPSOLD
    prev_tier = np.where(upsold & (tier > 0) & (u(n) < 0.4), tier - 1, tier)
    prev_seats = np.where(
        upsold, np.maximum(np.rint(seats / rng.uniform(1.2, 1.6, n)), 3), seats
    ).astype(np.int64)
    prev_arr = np.where(
        upsold,
        np.round(prev_seats * np.array(SEAT_PRICE)[prev_tier] * price_factor, -2),
        np.round(arr / 1.04, -2),
    )

    # The latent decline: churners and at-risk accounts mostly show it; some healthy ones too.
    risky = (kind == CHURNED) | (kind == AT_RISK)
    silent = risky & (u(n) < 0.15)
    false_alarm = ~risky & (u(n) < 0.12)
    sev = np.where(risky, rng.uniform(0.45, 0.9, n), 0.0)
    sev = np.where(silent, rng.uniform(0.0, 0.15, n), sev)
    sev = np.where(false_alarm, rng.uniform(0.2, 0.55, n), sev)
    churn_dur = rng.uniform(90, 200, n)
    d1 = np.where(kind == CHURNED, end_off, 0.0)
    d0 = np.where(kind == CHURNED, end_off - churn_dur, -rng.uniform(20, 100, n))
    d1 = np.where(kind == AT_RISK, d0 + rng.uniform(60, 150, n), d1)
    fa_start = -rng.uniform(30, 330, n)
    d0 = np.where(false_alarm, fa_start, d0)
    d1 = np.where(false_alarm, fa_start + rng.uniform(30, 120, n), d1)
    sig_p = np.array([0.9, 0.7, 0.7, 0.55, 0.7])
    sig = np.where(risky[:, None], u((n, N_SIGNALS)) < sig_p, u((n, N_SIGNALS)) < 0.5)
    if world == WORLD_RENEWAL_TIMING:
        # Declines strike at random, whatever the fate: the signals carry no news of churn.
        struck = u(n) < 0.2
        sev = np.where(struck, rng.uniform(0.2, 0.7, n), 0.0)
        d0 = -rng.uniform(30, 330, n)
        d1 = d0 + rng.uniform(30, 150, n)
        sig = u((n, N_SIGNALS)) < 0.5
        risky = np.zeros(n, dtype=np.bool_)

    champ_left = np.where(risky, u(n) < 0.4, u(n) < 0.06) & (sev > 0)
    left_off = np.minimum(d0 + rng.uniform(0, 0.6, n) * (d1 - d0), np.minimum(end_off, 0) - 1)
    left_off = np.where(risky, left_off, -rng.uniform(10, 330, n))
    champ_left_off = np.where(champ_left, np.floor(left_off), np.nan)
    champ_replaced = ~risky & (u(n) < 0.7)

    erratic = np.where(u(n) < 0.05, 0.55, 0.0)
    gaps: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for a in np.flatnonzero(erratic).tolist():
        for _ in range(int(rng.poisson(2.5))):
            start = int(rng.integers(-365, -14))
            gaps[a].append((start, start + int(rng.integers(10, 22))))

    annual = u(n) < np.array([0.8, 0.4, 0.1])[segment]
    tam_present = u(n) < np.array([0.9, 0.6, 0.15])[segment]
    ref_off = np.minimum(end_off, 0).astype(np.float64)
    now_int = sev * np.clip((ref_off - d0) / np.maximum(d1 - d0, 1), 0, 1)
    tam_value = np.clip(rng.normal(80, 8, n) - 55 * now_int + rng.normal(0, 8, n), 5, 100)
    tam = np.where(tam_present, np.rint(tam_value), -1).astype(np.int64)

    expanding = kind == EXPANDING
    util = np.where(risky, rng.uniform(0.45, 0.85, n), rng.uniform(0.55, 0.95, n))
    growth = rng.uniform(-0.05, 0.2, n)
    last_end = [today + timedelta(days=int(e)) for e in end_off.tolist()]
    term_start_off = np.array([(add_years(e, -1) - today).days for e in last_end], dtype=np.float64)
    knots: list[tuple[Floats, Floats]] = []
    for a in range(n):
        base = seats[a] * util[a]
        if upsold[a]:
            pts = [(-900.0, 0.7 * prev_seats[a]), (term_start_off[a], 1.03 * prev_seats[a])]
            pts.append((term_start_off[a] + 365, 0.9 * seats[a]))
        elif expanding[a]:
            pts = [(-900.0, 0.7 * seats[a]), (-70.0, 0.98 * seats[a]), (0.0, 1.12 * seats[a])]
        else:
            pts = [(-900.0, base * (1 - 2.5 * growth[a])), (0.0, base)]
        knots.append((np.array([p[0] for p in pts]), np.array([p[1] for p in pts])))
    trial_t1 = np.where(upsold, term_start_off, np.where(expanding, 0.0, np.nan))
    trial_t0 = trial_t1 - rng.uniform(42, 90, n)
    cap_factor = np.where(upsold | expanding, 1.25, 1.02)

    names = _company_names(rng, n)
    plan = Plan(
        today=today,
        ext_ids=[],
        names=names,
        segment=segment,
        industry=[INDUSTRIES[i] for i in rng.integers(0, len(INDUSTRIES), n).tolist()],
        owner=rng.integers(0, len(OWNERS), n).astype(np.int64),
        kind=kind,
        tier=tier,
        prev_tier=prev_tier.astype(np.int64),
        seats=seats,
        prev_seats=prev_seats,
        arr=arr,
        prev_arr=prev_arr,
        last_end=last_end,
        n_prev=n_prev,
        start_off=np.zeros(n, dtype=np.int64),
        end_off=end_off.astype(np.int64),
        sev=sev,
        d0=d0,
        d1=d1,
        sig=sig,
        champ_left_off=champ_left_off,
        champ_replaced=champ_replaced,
        erratic=erratic,
        gaps=gaps,
        weekend=rng.uniform(0.05, 0.2, n),
        annual=annual,
        auto_renew=u(n) < np.array([0.1, 0.3, 0.6])[segment],
        tam=tam,
        lpu=rng.uniform(1.1, 2.4, n),
        noise=np.where(erratic > 0, 0.25, 0.12),
        users_cap=seats.astype(np.float64) * cap_factor,
        nps_bias=rng.normal(0, 0.7, n),
        ticket_mult=np.exp(rng.normal(0, 0.35, n)),
        sent_bias=rng.normal(0, 0.1, n),
        overdue_mult=np.ones(n),
        adopt_mult=rng.uniform(0.6, 1.3, n),
        trial_t0=trial_t0,
        trial_t1=trial_t1,
        cutoff=np.full(n, np.nan),
        knots=knots,
    )
    for i, story in enumerate(STORIES[:n]):
        _make_story(plan, i, story.external_id)
    plan.ext_ids = _external_ids(plan.names, n)
    _finish_dates(plan)
    return plan


def _external_ids(names: list[str], n: int) -> list[str]:
    ids = [s.external_id for s in STORIES[:n]]
    seen = set(ids)
    for name in names[len(ids) :]:
        ext = slugify(name)
        while ext in seen:
            ext += "-x"
        seen.add(ext)
        ids.append(ext)
    return ids


def _finish_dates(plan: Plan) -> None:
    plan.last_end = [plan.today + timedelta(days=int(e)) for e in plan.end_off.tolist()]
    plan.start_off = np.array(
        [
            (add_years(end, -1 - int(k)) - plan.today).days
            for end, k in zip(plan.last_end, plan.n_prev.tolist(), strict=True)
        ],
        dtype=np.int64,
    )


def _flat(*points: tuple[float, float]) -> tuple[Floats, Floats]:
    return np.array([p[0] for p in points]), np.array([p[1] for p in points])


def _story_base(plan: Plan, i: int, seg: int, tier: int, seats: int, arr: float) -> None:
    """A calm, healthy account: the other story makers add their twist on top."""
    story = STORIES[i]
    plan.names[i] = story.name
    plan.industry[i] = story.industry
    plan.segment[i], plan.tier[i], plan.prev_tier[i] = seg, tier, tier
    plan.seats[i], plan.prev_seats[i] = seats, seats
    plan.arr[i], plan.prev_arr[i] = arr, round(arr / 1.04, -2)
    plan.kind[i] = STABLE
    plan.n_prev[i] = 2
    plan.owner[i] = i % len(OWNERS)
    plan.sev[i], plan.d0[i], plan.d1[i] = 0.0, 0.0, 1.0
    plan.sig[i] = False
    plan.champ_left_off[i] = np.nan
    plan.erratic[i] = 0.0
    plan.gaps[i] = []
    plan.weekend[i] = 0.12
    plan.annual[i] = seg == 0
    plan.noise[i] = 0.04
    plan.lpu[i] = 2.5
    plan.users_cap[i] = seats * 1.02
    plan.nps_bias[i] = 1.8
    plan.ticket_mult[i] = 0.6
    plan.sent_bias[i] = 0.2
    plan.overdue_mult[i] = 0.0
    plan.adopt_mult[i] = 1.4
    plan.trial_t0[i], plan.trial_t1[i] = np.nan, np.nan
    plan.tam[i] = 90
    plan.knots[i] = _flat((-900, seats * 0.8), (0, seats * 0.86))


def _story_acme(plan: Plan, i: int) -> None:
    _story_base(plan, i, 0, 2, 500, 180_000.0)
    plan.end_off[i] = 45
    plan.kind[i] = AT_RISK
    plan.knots[i] = _flat((-900, 215), (-60, 195), (0, 165))
    plan.users_cap[i] = 195
    plan.login_knots[i] = _flat((-900, 1.0), (-60, 1.0), (0, 0.45))
    plan.sev[i], plan.d0[i], plan.d1[i] = 0.5, -60.0, 0.0
    plan.sig[i, [SIG_NPS, SIG_ENGAGE]] = True
    plan.nps_bias[i] = -0.5
    plan.tam[i] = 55


def _story_globex(plan: Plan, i: int) -> None:
    _story_base(plan, i, 1, 1, 150, 39_000.0)
    plan.end_off[i] = 120
    plan.annual[i] = False
    plan.knots[i] = _flat((-900, 112), (0, 118))
    plan.champ_left_off[i] = -35
    plan.champ_replaced[i] = False
    plan.sev[i], plan.d0[i], plan.d1[i] = 0.5, -35.0, -7.0
    plan.sig[i, [SIG_USAGE, SIG_ENGAGE]] = True
    plan.cutoff[i] = -35
    plan.tam[i] = 70


def _story_initech(plan: Plan, i: int) -> None:
    _story_base(plan, i, 1, 1, 120, 31_200.0)
    plan.end_off[i] = 200
    plan.kind[i] = EXPANDING
    plan.knots[i] = _flat((-900, 60), (-150, 105), (-84, 140), (0, 155))
    plan.weekend[i] = 0.6
    plan.users_cap[i] = 200
    plan.trial_t0[i], plan.trial_t1[i] = -84.0, 0.0
    plan.feature_share[i] = {"advanced_analytics": 0.7, "api": 0.5}
    plan.tam[i] = 88


def _story_umbrella(plan: Plan, i: int) -> None:
    _story_base(plan, i, 0, 2, 300, 99_000.0)
    plan.end_off[i] = 160
    plan.knots[i] = _flat((-900, 140), (0, 150))
    plan.ticket_mult[i] = 5.0
    plan.sent_bias[i] = -0.2
    plan.sev[i], plan.d0[i], plan.d1[i] = 0.9, -70.0, -14.0
    plan.sig[i, [SIG_TICKETS, SIG_NPS]] = True
    plan.nps_bias[i] = -0.5
    plan.tam[i] = 40


def _story_hooli(plan: Plan, i: int) -> None:
    _story_base(plan, i, 1, 1, 200, 52_000.0)
    plan.end_off[i] = 250
    plan.knots[i] = _flat((-900, 85), (0, 90))
    plan.erratic[i] = 0.8
    plan.noise[i] = 0.2
    plan.gaps[i] = [(-140, -119), (-63, -49), (-230, -212)]
    plan.tam[i] = 65


def _story_new(age: int, seg: int, seats: int, users: float, *, stuck: bool = False) -> StoryMaker:
    """An account signed ``age`` days ago (its first term), owned by the tour's CSM (the first
    owner), ramping to ``users`` daily active users; ``stuck``: a few keen users in the first
    weeks who then fade away, one feature tried and nothing else (no milestone but the first)."""

    def make(plan: Plan, i: int) -> None:
        _story_base(plan, i, seg, 1, seats, round(seats * SEAT_PRICE[1], -2))
        plan.n_prev[i] = 0
        plan.end_off[i] = (add_years(plan.today - timedelta(days=age), 1) - plan.today).days
        plan.owner[i] = 0
        plan.annual[i] = True
        plan.knots[i] = _flat((-900, users), (0, users))
        plan.users_cap[i] = seats * 1.02
        if stuck:
            # a few keen users in the first weeks, then it fades: only "first activity" is reached
            plan.knots[i] = _flat((-900, users * 1.5), (-age + 25, users * 1.5), (0, users * 0.4))
            plan.lpu[i] = 1.1
            plan.adopt_mult[i] = 0.0
            plan.feature_share[i] = {"dashboards": 0.3}
            plan.nps_bias[i] = -0.8
            plan.tam[i] = 45

    return make


def _story_healthy(end_off: int, seg: int, tier: int, seats: int, arr: float) -> StoryMaker:
    def make(plan: Plan, i: int) -> None:
        _story_base(plan, i, seg, tier, seats, arr)
        plan.end_off[i] = end_off

    return make


StoryMaker = Callable[[Plan, int], None]

STORY_MAKERS: dict[str, StoryMaker] = {
    "acme": _story_acme,
    "globex": _story_globex,
    "initech": _story_initech,
    "umbrella": _story_umbrella,
    "hooli": _story_hooli,
    "stark": _story_healthy(210, 0, 2, 800, 300_000.0),
    "wayne": _story_healthy(75, 0, 2, 600, 222_000.0),
    "wonka": _story_healthy(300, 1, 1, 90, 23_400.0),
    "vandelay": _story_new(55, 1, 40, 2.6, stuck=True),
    "piedpiper": _story_new(20, 2, 25, 21.0),
    "dunder": _story_new(75, 1, 60, 50.0),
}


def _make_story(plan: Plan, i: int, external_id: str) -> None:
    STORY_MAKERS[external_id](plan, i)


__all__ = ["SEGMENTS", "TIERS", "Plan", "add_months", "add_years", "build_plan", "slugify"]
