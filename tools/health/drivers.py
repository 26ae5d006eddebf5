"""Plain-language driver sentences and the ``HealthResult`` objects of scored accounts."""

from __future__ import annotations

import numpy as np

from tools.facts.definitions import money_text
from tools.facts.extract import RawMetrics
from tools.health.signals import LABELS, FloatArray, SignalMatrix, band_for
from tools.results import Driver, HealthResult, SignalScore
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig
from tools.wording import days_from_now, plural


def _plural(count: float, word: str) -> str:
    c = round(count)
    return f"{c} {word}" if c == 1 else f"{c} {word}s"


def driver_text(key: str, m: SignalMatrix, i: int, config: ScoringConfig) -> str:
    """Plain-language sentence, with its number, for signal ``key`` of account row ``i``."""
    r = m.raw_metrics
    norm = config.health.normalise
    if key == "adoption":
        used, avail = r.features_used[i], r.features_available[i]
        pct = 100.0 * min(used / avail, 1.0) if avail > 0 else 0.0
        return (
            f"uses {int(used)} of {int(avail)} plan features ({pct:.0f}%) "
            f"in the last {norm.adoption_window_days} days"
        )
    if key == "tickets":
        text = (
            f"{_plural(r.tickets_window[i], 'ticket')} in the last {norm.ticket_window_days} days"
        )
        if not np.isnan(r.sentiment_mean[i]):
            text += f", average sentiment {r.sentiment_mean[i]:+.2f}"
        return text
    if key == "interaction_recency":
        return f"last meaningful interaction {days_from_now(-int(r.days_since_interaction[i]))}"
    if key == "login_frequency":
        what = "logins" if r.activity_is_logins[i] else "active days"
        if r.active_days_recent[i] <= 0 or r.activity_recent[i] <= 0:
            none = "logins" if r.activity_is_logins[i] else "activity"
            return f"no {none} in the last {norm.usage_window_days} days"
        per_seat = m.raw[i, SIGNAL_KEYS.index("login_frequency")]
        return f"{per_seat:.1f} {what} per active seat per week"
    if key == "usage_trend":
        # The figure is the signal's value (the worse of the two changes), as on every surface.
        change = m.logins_change[i]
        metric = "logins" if r.activity_is_logins[i] else "active users"
        if m.users_change[i] < change:
            change, metric = m.users_change[i], "active users"
        weeks = norm.usage_window_days // 7
        direction = "down" if change < 0 else "up"
        if abs(change) < 0.005:
            return f"{metric} flat vs the prior {weeks} weeks"
        return f"{metric} {direction} {abs(change) * 100:.0f}% vs the prior {weeks} weeks"
    if key == "payment":
        if r.overdue_amount[i] > 0:
            return (
                f"{money_text(r.overdue_amount[i])} overdue for "
                f"{plural(int(np.nan_to_num(r.overdue_days[i])), 'day')}"
            )
        return "all invoices paid on time"
    if key == "stakeholder":
        return _stakeholder_text(r, i, config)
    if key == "nps":
        if r.nps_count[i] > 0:
            nps = m.raw[i, SIGNAL_KEYS.index("nps")]
            return (
                f"NPS {nps:+.0f} from {_plural(r.nps_count[i], 'response')} in the last "
                f"{norm.nps_window_days} days (average score {r.nps_mean[i]:.1f}/10)"
            )
        return f"average CSAT {r.csat_mean[i]:.1f}/5 in the last {norm.nps_window_days} days"
    if key == "renewal_proximity":
        when = r.renewal_date[i]
        suffix = " (auto-renews)" if r.auto_renew[i] else ""
        return f"renewal in {int(r.days_to_renewal[i])} days on {when}{suffix}"
    if key == "seat_utilisation":
        purchased, used = r.seats_purchased[i], r.seats_used[i]
        unused = max(purchased - used, 0.0) / purchased * 100.0
        if used < purchased:
            return f"{unused:.0f}% of {int(purchased)} seats unused"
        return f"{int(used)} of {int(purchased)} seats in use"
    if key == "escalations":
        text = f"{_plural(r.escalated_window[i], 'escalated ticket')} in the last "
        text += f"{norm.escalation_window_days} days"
        if r.open_escalated[i] > 0:
            text += f", {int(r.open_escalated[i])} still open"
        return text
    if key == "tenure":
        return f"a customer for {_plural(r.tenure_days[i], 'day')}"
    if key == "term_length":
        return f"on a {_plural(r.term_days[i], 'day')} term"
    if key == "seat_trend":
        change = m.users_change[i]
        direction = "down" if change < 0 else "up"
        weeks = norm.usage_window_days // 7
        return f"active users {direction} {abs(change) * 100:.0f}% vs the prior {weeks} weeks"
    return f"TAM technical health {r.tam_health[i]:.0f}/100"


def _stakeholder_text(r: RawMetrics, i: int, config: ScoringConfig) -> str:
    if not r.champion_present[i]:
        if r.champion_left_name[i] is not None:
            return (
                f"champion {r.champion_left_name[i]} left "
                f"{days_from_now(-int(r.champion_left_days[i]))}; no champion now"
            )
        return "no champion on record"
    name = r.champion_name[i]
    days = r.champion_engaged_days[i]
    if np.isnan(days):
        return f"champion {name} has never been engaged"
    return f"champion {name} last engaged {days_from_now(-int(days))}"


def results(
    m: SignalMatrix,
    scores: FloatArray,
    effective: FloatArray,
    config: ScoringConfig,
    trends: tuple[dict[int, float], dict[int, float]],
) -> dict[int, HealthResult]:
    weights = config.health.weights.as_dict()
    impacts = np.where(np.isnan(m.scores), 0.0, effective * (np.nan_to_num(m.scores) - 50.0))
    contributions = np.where(np.isnan(m.scores), 0.0, effective * np.nan_to_num(m.scores))
    # Harmful drivers first (most harmful first), then helpful ones (most helpful first).
    order = np.argsort(np.where(impacts < 0, impacts - 1000.0, -impacts), axis=1, kind="stable")
    max_drivers = config.health.max_drivers
    as_of = m.raw_metrics.as_of
    out: dict[int, HealthResult] = {}
    ids = m.raw_metrics.ids.tolist()
    score_list = scores.tolist()
    for i, account_id in enumerate(ids):
        signals = [
            SignalScore.model_construct(
                key=key,
                label=LABELS[key][0],
                raw=None if np.isnan(m.raw[i, j]) else round(float(m.raw[i, j]), 2),
                unit=LABELS[key][1],
                score=None if np.isnan(m.scores[i, j]) else round(float(m.scores[i, j]), 1),
                weight=weights[key],
                effective_weight=round(float(effective[i, j]), 4),
                contribution=round(float(contributions[i, j]), 2),
            )
            for j, key in enumerate(SIGNAL_KEYS)
        ]
        drivers = [
            Driver.model_construct(
                signal=SIGNAL_KEYS[j],
                text=driver_text(SIGNAL_KEYS[j], m, i, config),
                impact=round(float(impacts[i, j]), 1),
            )
            for j in order[i, :max_drivers].tolist()
            if abs(impacts[i, j]) >= 0.05
        ]
        score = score_list[i]
        past30, past90 = trends[0].get(account_id), trends[1].get(account_id)
        out[account_id] = HealthResult.model_construct(
            account_id=account_id,
            as_of=as_of,
            score=score,
            band=band_for(score, config),
            signals=signals,
            drivers=drivers,
            trend_30d=None if past30 is None else round(score - past30, 1),
            trend_90d=None if past90 is None else round(score - past90, 1),
        )
    return out
