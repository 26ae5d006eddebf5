"""Churn risk: deterministic, explainable triggers on top of the health score.

Trigger (a), ``kind="renewal"``:
- ``renewal_window``: an active contract ends within ``renewal_window_days`` [60] days, inclusive
  (0 ≤ days ≤ 60), and the band is AMBER or RED. Severity high when RED, else medium.

Triggers (b), ``kind="behavioural"``, whatever the renewal date (thresholds in ``[churn]``):
- ``no_usage``: no activity at all (no day with a login or an active user) in the usage window
  although the account is past its first ``new_account_days`` (or used the product before).
  Severity high.
- ``logins_declining`` / ``usage_declining``: logins (when activity is logins, see
  ``[activity]``) or active-user-days down by at least ``usage_decline`` [25%] vs the window
  before (complete days); high from ``usage_decline_severe`` [50%].
- ``champion_left``: a champion left within ``champion_left_days`` [90]; high when no champion
  remains, medium when another one is still there.
- ``detractor_nps``: mean NPS of the responses in ``detractor_window_days`` [90] ≤
  ``detractor_max`` [6]; high at ≤ ``detractor_severe`` [3].
- ``ticket_spike``: tickets in the last ``ticket_spike_days`` [30] ≥ ``ticket_spike_min`` [3] and ≥
  ``ticket_spike_ratio`` [2] x the monthly average of the ``ticket_baseline_days`` [90] before;
  high at twice that ratio.
- ``overdue_invoice``: an invoice ≥ ``overdue_min_days`` [15] past due and unpaid at as_of; high
  from ``overdue_severe_days`` [60].
- ``tam_escalation``: an escalated ticket still open, or TAM health ≤ ``tam_health_low`` [40];
  high with ≥ ``open_escalations_severe`` [2] open escalations or TAM health ≤
  ``tam_health_severe`` [25].

Level: **high** = the renewal trigger fired, or ≥ 2 behavioural triggers of which at least one is
high, or ≥ 3 behavioural triggers; **medium** = any other trigger, or a RED band without triggers;
**low** otherwise. Accounts without an active contract at as_of (churned or never signed) are
always low with no triggers: there is nothing left to lose. ``arr_at_risk`` is the active ARR when
the level is not low.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import numpy as np
from sqlmodel import Session

from tools.facts.definitions import cents, money_text
from tools.facts.extract import RawMetrics, extract_raw
from tools.health import SignalMatrix, UnknownAccountError, health_score_for, signal_matrix
from tools.results import Band, ChurnRisk, HealthResult, RiskLevel, Severity, TriggerHit
from tools.scoring_config import ScoringConfig
from tools.wording import days_from_now, plural

RENEWAL = "renewal"
BEHAVIOURAL = "behavioural"

# A fired trigger as plain data, (key, kind, label, evidence, severe): the scan stores these
# without building ``TriggerHit`` objects.
Fired = tuple[str, str, str, str, bool]
# The level and fired triggers of one account.
Assessment = tuple[RiskLevel, list[Fired]]


def _hit(key: str, label: str, evidence: str, severe: bool, kind: str = BEHAVIOURAL) -> Fired:
    return (key, kind, label, evidence, bool(severe))


def trigger_hit(fired: Fired) -> TriggerHit:
    """The ``TriggerHit`` of a fired trigger."""
    key, kind, label, evidence, severe = fired
    severity = Severity.HIGH if severe else Severity.MEDIUM
    # Every field is given with its exact type: no validation needed.
    return TriggerHit.model_construct(
        key=key, kind=kind, label=label, evidence=evidence, severity=severity
    )


def _renewal(raw: RawMetrics, i: int, band: Band, config: ScoringConfig) -> list[Fired]:
    days = raw.days_to_renewal[i]
    if np.isnan(days) or not 0 <= days <= config.churn.renewal_window_days:
        return []
    if band == Band.GREEN:
        return []
    when = days_from_now(int(days))
    evidence = f"renews {when} on {raw.renewal_date[i]} while the health band is {band}"
    return [_hit("renewal_window", "Renewal at risk", evidence, band == Band.RED, RENEWAL)]


def _usage(
    raw: RawMetrics, i: int, changes: tuple[float, float], cfg: ScoringConfig
) -> list[Fired]:
    churn, norm = cfg.churn, cfg.health.normalise
    weeks = norm.usage_window_days // 7
    used_before = raw.active_days_prior[i] > 0
    established = raw.tenure_days[i] >= norm.new_account_days or used_before
    if raw.active_days_recent[i] <= 0 and established:
        # No activity at all: no day with a login or an active user in the window.
        evidence = f"no activity in the last {norm.usage_window_days} days"
        if used_before:
            evidence += (
                f" (vs {int(raw.active_days_prior[i])} active days in the {weeks} weeks before)"
            )
        return [_hit("no_usage", "No product usage", evidence, True)]
    if raw.active_days_prior[i] <= 0:
        return []
    logins, users = changes
    if raw.activity_is_logins[i] and logins <= -churn.usage_decline:
        evidence = f"logins down {abs(logins) * 100:.0f}% vs the prior {weeks} weeks"
        severe = logins <= -churn.usage_decline_severe
        return [_hit("logins_declining", "Logins falling", evidence, severe)]
    if users <= -churn.usage_decline:
        evidence = f"active users down {abs(users) * 100:.0f}% vs the prior {weeks} weeks"
        severe = users <= -churn.usage_decline_severe
        return [_hit("usage_declining", "Usage falling", evidence, severe)]
    return []


def _champion(raw: RawMetrics, i: int, config: ScoringConfig) -> list[Fired]:
    days = raw.champion_left_days[i]
    if np.isnan(days) or days > config.churn.champion_left_days:
        return []
    evidence = f"champion {raw.champion_left_name[i]} left {days_from_now(-int(days))}"
    if raw.champion_present[i]:
        evidence += f"; {raw.champion_name[i]} is still a champion"
    return [_hit("champion_left", "Champion left", evidence, not raw.champion_present[i])]


def _detractor(raw: RawMetrics, i: int, config: ScoringConfig) -> list[Fired]:
    mean = raw.nps_recent_mean[i]
    churn = config.churn
    if np.isnan(mean) or mean > churn.detractor_max:
        return []
    count = int(raw.nps_recent_count[i])
    evidence = (
        f"average NPS score {mean:.1f}/10 from {count} response{'s' if count != 1 else ''} "
        f"in the last {churn.detractor_window_days} days"
    )
    return [_hit("detractor_nps", "Detractor NPS", evidence, mean <= churn.detractor_severe)]


def _tickets(raw: RawMetrics, i: int, config: ScoringConfig) -> list[Fired]:
    churn = config.churn
    recent = raw.tickets_spike[i]
    baseline_per_window = (
        raw.tickets_baseline[i] / churn.ticket_baseline_days * churn.ticket_spike_days
    )
    threshold = max(float(churn.ticket_spike_min), churn.ticket_spike_ratio * baseline_per_window)
    if recent < threshold:
        return []
    evidence = (
        f"{int(recent)} tickets in the last {churn.ticket_spike_days} days vs "
        f"{baseline_per_window:.1f} per {churn.ticket_spike_days} days before"
    )
    severe = recent >= max(
        float(churn.ticket_spike_min), 2 * churn.ticket_spike_ratio * baseline_per_window
    )
    return [_hit("ticket_spike", "Support ticket spike", evidence, severe)]


def _overdue(raw: RawMetrics, i: int, config: ScoringConfig) -> list[Fired]:
    days = raw.overdue_days[i]
    churn = config.churn
    if raw.overdue_amount[i] <= 0 or np.isnan(days) or days < churn.overdue_min_days:
        return []
    evidence = f"{money_text(raw.overdue_amount[i])} overdue for {plural(int(days), 'day')}"
    return [_hit("overdue_invoice", "Overdue invoice", evidence, days >= churn.overdue_severe_days)]


def _tam(raw: RawMetrics, i: int, config: ScoringConfig) -> list[Fired]:
    churn = config.churn
    open_escalated = int(raw.open_escalated[i])
    tam = raw.tam_health[i]
    low_tam = not np.isnan(tam) and tam <= churn.tam_health_low
    if open_escalated <= 0 and not low_tam:
        return []
    parts = []
    if open_escalated > 0:
        parts.append(f"{open_escalated} escalated ticket{'s' if open_escalated != 1 else ''} open")
    if low_tam:
        parts.append(f"TAM technical health {tam:.0f}/100")
    severe = open_escalated >= churn.open_escalations_severe or (
        low_tam and tam <= churn.tam_health_severe
    )
    return [_hit("tam_escalation", "Technical escalation", "; ".join(parts), severe)]


def level_for(triggers: Sequence[TriggerHit], band: Band) -> RiskLevel:
    """The risk level implied by the fired triggers (rule in the module docstring)."""
    fired = [(t.key, t.kind, t.label, t.evidence, t.severity == Severity.HIGH) for t in triggers]
    return _level(fired, band)


def _level(fired: Sequence[Fired], band: Band) -> RiskLevel:
    behavioural = [f for f in fired if f[1] == BEHAVIOURAL]
    severe = any(f[4] for f in behavioural)
    if any(f[1] == RENEWAL for f in fired):
        return RiskLevel.HIGH
    if len(behavioural) >= 3 or (len(behavioural) >= 2 and severe):
        return RiskLevel.HIGH
    if behavioural or band == Band.RED:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def churn_from_raw(
    raw: RawMetrics, *, config: ScoringConfig, health: dict[int, HealthResult]
) -> dict[int, ChurnRisk]:
    """Churn risk of every account in ``raw`` that has a health result."""
    return churn_from_bands(raw, config=config, bands={a: h.band for a, h in health.items()})


def churn_from_bands(
    raw: RawMetrics,
    *,
    config: ScoringConfig,
    bands: dict[int, Band],
    matrix: SignalMatrix | None = None,
) -> dict[int, ChurnRisk]:
    """Churn risk of every account in ``raw`` that has a band."""
    ids = raw.ids.tolist()
    assessed = assess(raw, config=config, bands=[bands.get(a) for a in ids], matrix=matrix)
    out: dict[int, ChurnRisk] = {}
    days_list = raw.days_to_renewal.tolist()
    arr_list = raw.arr.tolist()
    for i, (account_id, assessment) in enumerate(zip(ids, assessed, strict=True)):
        if assessment is None:
            continue
        level, fired = assessment
        days = days_list[i]
        # Every field is given with its exact type: no validation needed.
        out[account_id] = ChurnRisk.model_construct(
            account_id=account_id,
            as_of=raw.as_of,
            level=level,
            triggers=[trigger_hit(f) for f in fired],
            renewal_date=raw.renewal_date[i],
            days_to_renewal=None if days != days else int(days),
            arr_at_risk=arr_at_risk(arr_list[i], level),
        )
    return out


def arr_at_risk(arr: float, level: RiskLevel) -> Decimal:
    """The ARR at risk: the active ARR (to the cent) unless the level is low."""
    if level == RiskLevel.LOW:
        return Decimal("0")
    return cents(arr)


def assess(
    raw: RawMetrics,
    *,
    config: ScoringConfig,
    bands: Sequence[Band | None],
    matrix: SignalMatrix | None = None,
) -> list[Assessment | None]:
    """Level and fired triggers of each account of ``raw`` (aligned with ``raw.ids``).

    ``bands`` is aligned with ``raw.ids`` too; an account whose band is None is skipped (None).
    This is the scan's fast path: plain tuples, no result objects.
    """
    m = matrix if matrix is not None else signal_matrix(raw, config)
    out: list[Assessment | None] = []
    ids = raw.ids.tolist()
    onboarding: dict[int, list[Fired]] = raw.extra.get("onboarding_overdue", {})
    active_list = raw.active.tolist()
    logins_change = m.logins_change.tolist()
    users_change = m.users_change.tolist()
    # Which accounts each rarer trigger could fire for (a superset: the functions decide).
    churn = config.churn
    with np.errstate(invalid="ignore"):
        maybe_champion = (raw.champion_left_days <= churn.champion_left_days).tolist()
        maybe_detractor = (raw.nps_recent_mean <= churn.detractor_max).tolist()
        per_window = raw.tickets_baseline / churn.ticket_baseline_days * churn.ticket_spike_days
        spike_floor = np.maximum(
            float(churn.ticket_spike_min), churn.ticket_spike_ratio * per_window
        )
        maybe_tickets = (raw.tickets_spike >= spike_floor).tolist()
        maybe_overdue = (
            (raw.overdue_amount > 0) & (raw.overdue_days >= churn.overdue_min_days)
        ).tolist()
        maybe_tam = ((raw.open_escalated > 0) | (raw.tam_health <= churn.tam_health_low)).tolist()
    for i, band in enumerate(bands):
        if band is None:
            out.append(None)
            continue
        if not active_list[i]:
            out.append((RiskLevel.LOW, []))
            continue
        changes = (float(logins_change[i]), float(users_change[i]))
        fired = [*_renewal(raw, i, band, config), *_usage(raw, i, changes, config)]
        if maybe_champion[i]:
            fired += _champion(raw, i, config)
        if maybe_detractor[i]:
            fired += _detractor(raw, i, config)
        if maybe_tickets[i]:
            fired += _tickets(raw, i, config)
        if maybe_overdue[i]:
            fired += _overdue(raw, i, config)
        if maybe_tam[i]:
            fired += _tam(raw, i, config)
        fired += onboarding.get(ids[i], [])  # tools/onboarding: milestones past their due day
        out.append((_level(fired, band), fired))
    return out


def churn_risk_portfolio(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    health: dict[int, HealthResult],
    use_static_fields: bool = True,
) -> dict[int, ChurnRisk]:
    """Churn risk of every account in ``health`` as of ``as_of`` (set-based)."""
    raw = extract_raw(
        session,
        as_of=as_of,
        config=config,
        account_ids=list(health),
        use_static_fields=use_static_fields,
    )
    return churn_from_raw(raw, config=config, health=health)


def churn_risk_for(
    session: Session,
    *,
    account_id: int,
    as_of: date,
    config: ScoringConfig,
    health: HealthResult | None = None,
) -> ChurnRisk:
    """Churn risk of one account (computes its health first unless given)."""
    if health is None:
        health = health_score_for(session, account_id=account_id, as_of=as_of, config=config)
    risks = churn_risk_portfolio(session, as_of=as_of, config=config, health={account_id: health})
    if account_id not in risks:
        raise UnknownAccountError(f"no account with id {account_id}")
    return risks[account_id]
