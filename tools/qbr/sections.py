"""Building the four sections of a QBR from the tools and the metric layer (``tools.facts``).

Quarter totals (feature events, logins, mean active users) come from ``tools.facts``; this
module only arranges them with the ROI assumptions.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlmodel import Session

from tools.facts import active_contracts, event_totals, money_text, usage_totals
from tools.facts.usage import feature_adoption
from tools.health import health_score_for
from tools.history import health_history
from tools.insights import signal_moves
from tools.qbr.model import (
    HISTORY_POINTS,
    HISTORY_STEP_DAYS,
    QUARTER_DAYS,
    Action,
    AdoptionRow,
    AdoptionSection,
    ExpansionSection,
    HealthPoint,
    HealthSection,
    RenewalTerms,
    RoiAssumptions,
    RoiSection,
    UnderUsedFeature,
    ValueMetric,
)
from tools.results import (
    AccountReport,
    AccountSummary,
    ExpansionOpportunity,
    HealthResult,
    LeanFinding,
    TriggerHit,
)
from tools.scoring_config import ScoringConfig
from tools.voc import voice_of_customer
from tools.voc.labels import Labeller
from tools.voc.render import voice_markdown


def quarter_label(day: date) -> str:
    """The calendar quarter of ``day``, e.g. "Q4 2026"."""
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def _band_trend(history: list[HealthPoint]) -> str:
    bands: list[str] = []
    for point in history:
        if not bands or bands[-1] != point.band.value:
            bands.append(point.band.value)
    return " → ".join(bands) if bands else "no history"


def health_section(
    session: Session,
    report: AccountReport,
    as_of: date,
    start: date,
    config: ScoringConfig,
    *,
    labeller: Labeller | None = None,
) -> tuple[HealthResult, HealthSection]:
    """The health section: score, band history, drivers, movers and the quarter's voice (its
    themes named by ``labeller``, else their top words)."""
    account_id = report.account.account_id
    points = health_history(
        session,
        account_id=account_id,
        as_of=as_of,
        config=config,
        points=HISTORY_POINTS,
        step_days=HISTORY_STEP_DAYS,
    )
    history = [HealthPoint(day=p.day, score=round(p.score, 1), band=p.band) for p in points]
    history.sort(key=lambda p: p.day)
    try:
        before: HealthResult | None = health_score_for(
            session, account_id=account_id, as_of=start, config=config
        )
    except LookupError:
        before = None
    health = report.health
    section = HealthSection(
        score=round(health.score, 1),
        band=health.band,
        start_score=round(before.score, 1) if before else None,
        start_band=before.band if before else None,
        band_trend=_band_trend(history),
        history=history,
        drivers=list(health.drivers),
        movers=signal_moves(health, before),
        churn_level=report.churn.level.value,
        churn_triggers=list(report.churn.triggers),
        voice=voice_markdown(
            voice_of_customer(
                session,
                as_of=as_of,
                window_days=QUARTER_DAYS,
                account_ids=[account_id],
                labeller=labeller,
            )
        ),
    )
    return health, section


def roi_section(
    session: Session,
    account: AccountSummary,
    lean: list[LeanFinding],
    start: date,
    as_of: date,
    assumptions: RoiAssumptions,
) -> RoiSection:
    """The ROI section: quarter totals from the metric layer priced with the assumptions."""
    # The quarter: QUARTER_DAYS complete days, start .. as_of - 1; the prior one ends on start - 1.
    ident = account.account_id
    quarter = event_totals(session, account_id=ident, as_of=as_of, days=QUARTER_DAYS)
    events, integration = quarter.product, quarter.integration
    prev = event_totals(session, account_id=ident, as_of=start, days=QUARTER_DAYS)
    prev_events, prev_integration = prev.product, prev.integration
    usage = usage_totals(session, account_id=ident, as_of=as_of, days=QUARTER_DAYS)
    logins, avg_active = usage.logins, usage.mean_active_users
    minutes = (
        events * assumptions.minutes_saved_per_event
        + integration * assumptions.minutes_saved_per_integration_event
    )
    hours = round(minutes / 60.0, 1)
    value = (Decimal(str(hours)) * assumptions.hourly_cost).quantize(Decimal("1"))
    annual = value * 4
    multiple = round(float(annual / account.arr), 1) if account.arr > 0 else None
    metrics = [
        ValueMetric(
            label="Product actions",
            value=f"{events:,}",
            basis=f"feature events {start} to {as_of - timedelta(days=1)}"
            + (f" ({_change(events, prev_events)} vs the prior 91 days)" if prev_events else ""),
        ),
        ValueMetric(
            label="Integration/API events",
            value=f"{integration:,}",
            basis="events of integration features"
            + (f" ({_change(integration, prev_integration)})" if prev_integration else ""),
        ),
        ValueMetric(
            label="Hours saved (est.)",
            value=f"{hours:,.0f} h",
            basis=f"{events:,} x {assumptions.minutes_saved_per_event:g} min + {integration:,} x "
            f"{assumptions.minutes_saved_per_integration_event:g} min",
        ),
        ValueMetric(
            label="Value of time saved (est.)",
            value=money_text(value),
            basis=f"{hours:,.0f} h x {money_text(assumptions.hourly_cost)}/h",
        ),
        ValueMetric(
            label="Logins", value=f"{logins:,}", basis=f"sum of daily logins, {QUARTER_DAYS} days"
        ),
        ValueMetric(
            label="Average daily active users",
            value=f"{avg_active:,.0f}",
            basis=f"mean of daily active users, {QUARTER_DAYS} days",
        ),
    ]
    if multiple is not None:
        metrics.append(
            ValueMetric(
                label="Value vs ARR (est.)",
                value=f"{multiple:.1f}x",
                basis=f"{money_text(annual)} annualised ÷ {money_text(account.arr)} ARR",
            )
        )
    waste = [
        f"{f.title} ({money_text(f.annual_cost)}/year)"
        if f.annual_cost and "$" not in f.title
        else f.title
        for f in lean
    ]
    return RoiSection(
        plan=account.plan,
        arr=account.arr,
        seats_purchased=account.seats_purchased,
        seats_used=account.seats_used,
        events=events,
        integration_events=integration,
        hours_saved=hours,
        value_of_time=value,
        annualised_value=annual,
        roi_multiple=multiple,
        metrics=metrics,
        assumptions=assumptions.statements(),
        waste=waste,
    )


def _change(now: int, before: int) -> str:
    return f"{(now - before) / before:+.0%}" if before else "new"


def _recommendation(name: str, users: int, gap_users: int) -> str:
    if users == 0:
        return (
            f"Not used yet: run a 30-minute {name} enablement session with the champion's team "
            "and set one workflow that depends on it."
        )
    return (
        f"Bring about {gap_users} more users onto {name}: share the top users' workflow, "
        "add an in-app guide and review adoption in 30 days."
    )


def adoption_section(session: Session, account: AccountSummary, as_of: date) -> AdoptionSection:
    """The adoption scorecard: per-feature adoption against seats used and benchmarks."""
    rows = feature_adoption(session, account_id=account.account_id, as_of=as_of, plan=account.plan)
    # Seats used: the metric layer's one figure (as on the health card and in the ROI section).
    peak_active = int(account.seats_used or 0)
    table: list[AdoptionRow] = []
    under: list[UnderUsedFeature] = []
    for r in rows:
        if not r.in_plan:
            status: Literal["above", "below", "unused", "not_in_plan"] = "not_in_plan"
        elif r.users == 0:
            status = "unused"
        else:
            status = "above" if r.adoption >= r.benchmark else "below"
        table.append(AdoptionRow(**r.model_dump(), status=status))
        if status in ("below", "unused"):
            gap = max(math.ceil((r.benchmark - r.adoption) * max(peak_active, 1)), 1)
            under.append(
                UnderUsedFeature(
                    feature=r.feature,
                    name=r.name,
                    adoption=r.adoption,
                    benchmark=r.benchmark,
                    users_to_benchmark=gap,
                    recommendation=_recommendation(r.name, r.users, gap),
                )
            )
    under.sort(key=lambda u: (u.adoption - u.benchmark, u.feature))
    in_plan = [t for t in table if t.in_plan]
    return AdoptionSection(
        peak_active_users=peak_active,
        rows=table,
        in_plan_features=len(in_plan),
        at_benchmark=sum(t.status == "above" for t in in_plan),
        under_used=under[:5],
    )


def _actions(
    triggers: list[TriggerHit],
    lean: list[LeanFinding],
    under: list[UnderUsedFeature],
    opps: list[ExpansionOpportunity],
    renewal: RenewalTerms,
) -> list[Action]:
    actions: list[Action] = []
    if renewal.renewal_date is not None and (renewal.days_to_renewal or 0) <= 120:
        actions.append(
            Action(
                title="Agree the renewal plan",
                detail=f"Renewal on {renewal.renewal_date}: confirm scope, seats and success "
                "criteria with the decision maker.",
                source="renewal",
            )
        )
    for trigger in triggers[:2]:
        actions.append(
            Action(
                title=f"Address: {trigger.label}",
                detail=trigger.evidence,
                source="churn",
            )
        )
    for finding in lean:
        step = finding.playbook.steps[0] if finding.playbook.steps else None
        actions.append(
            Action(
                title=finding.playbook.title,
                detail=f"{finding.playbook.goal} First: {step.title.lower()} — {step.detail}"
                if step
                else finding.playbook.goal,
                owner=step.owner if step else "CSM",
                source="lean",
            )
        )
    if under:
        actions.append(
            Action(
                title=f"Adoption push on {under[0].name}",
                detail=under[0].recommendation,
                source="adoption",
            )
        )
    for opp in opps[:2]:
        actions.append(
            Action(
                title=f"Hand off to Sales: {opp.title}",
                detail=opp.talk_track,
                owner="Sales",
                source="expansion",
            )
        )
    return actions[:8]


def expansion_section(
    session: Session,
    account: AccountSummary,
    report_churn: Any,
    lean: list[LeanFinding],
    opps: list[ExpansionOpportunity],
    under: list[UnderUsedFeature],
    as_of: date,
) -> ExpansionSection:
    """The expansion section: opportunities, renewal terms and the next actions."""
    contract = active_contracts(session, on=as_of, account_ids=[account.account_id]).get(
        account.account_id
    )
    renewal = RenewalTerms(
        plan=account.plan,
        arr=account.arr,
        seats_purchased=account.seats_purchased,
        start_date=contract.start_date if contract else None,
        renewal_date=account.renewal_date,
        days_to_renewal=(account.renewal_date - as_of).days if account.renewal_date else None,
        arr_at_risk=report_churn.arr_at_risk,
    )
    ordered = sorted(opps, key=lambda o: (-o.estimated_arr, o.key))
    return ExpansionSection(
        opportunities=ordered,
        total_estimated_arr=sum((o.estimated_arr for o in ordered), Decimal("0")),
        renewal=renewal,
        actions=_actions(list(report_churn.triggers), lean, under, ordered, renewal),
    )
