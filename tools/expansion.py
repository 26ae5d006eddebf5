"""Expansion opportunities: seats near the cap, higher-tier modules, integrations and API.

Definitions (complete days before ``as_of``, as everywhere in the metric layer
``tools.facts``; thresholds in ``ExpansionConfig``):
- seats: each of the last 4 weeks has a peak daily active users >= 90% of seats purchased;
  extra seats = ceil(max(peak, purchased) x 1.10) - purchased (at least 1), priced at
  ARR / seats purchased.
- module: a non-integration feature of a tier above the plan (starter < pro < enterprise) with
  >= 5 peak users or >= 200 events in the last 30 days; one opportunity for the highest such
  tier, worth current ARR x that tier's uplift.
- integration: an integration feature above the plan with >= 100 events, or >= 100,000 calls
  to the ``api`` feature(s), in the last 30 days; worth current ARR x 15%.
Keys are ``{external_id}:seats:cap``, ``{external_id}:module:{tier}`` and
``{external_id}:integration:package``: they do not depend on the day or on the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from tools.expansion_strength import (
    StrengthMatrix,
    StrengthWeights,
    strength_matrix,
    strength_of_facts,
)
from tools.facts import (
    TIER_RANK,
    ActiveContract,
    FeatureUse,
    active_contracts,
    dollars,
    feature_use,
    money_text,
    percent_text,
    weekly_usage,
)
from tools.results import ExpansionOpportunity

if TYPE_CHECKING:
    from tools.facts.findings import FindingFacts
    from tools.scoring_config import ScoringConfig


def _default_tier_uplift() -> dict[str, float]:
    return {"pro": 0.3, "enterprise": 0.5}


class ExpansionConfig(BaseModel):
    """Thresholds and prices for expansion opportunities (TOML section ``[expansion]``)."""

    model_config = ConfigDict(extra="forbid")

    # Seats: utilisation = peak daily active users in a week / seats purchased.
    seat_utilisation_threshold: float = Field(default=0.9, ge=0)
    seat_weeks: int = Field(default=4, ge=1, description="Consecutive weeks at/over threshold.")
    seat_headroom: float = Field(default=0.1, ge=0, description="Extra seats above the peak.")
    # Module: heavy use of a feature whose tier is above the plan.
    window_days: int = Field(default=30, ge=1)
    module_min_users: int = Field(default=5, ge=1, description="Peak users of the feature.")
    module_min_events: int = Field(default=200, ge=1, description="Events in the window.")
    tier_uplift: dict[str, float] = Field(
        default_factory=_default_tier_uplift,
        description="Share of current ARR added by moving up to this tier.",
    )
    # Integration: integration features not in the plan, or heavy API use.
    integration_min_events: int = Field(default=100, ge=1)
    api_feature_keys: list[str] = Field(default_factory=lambda: ["api"])
    api_min_events: int = Field(default=100_000, ge=1, description="API calls in the window.")
    integration_uplift: float = Field(default=0.15, ge=0, description="Share of current ARR.")
    min_estimated_arr: Decimal = Field(default=Decimal("0"), ge=0)
    # Ranking: the continuous strength (tools/expansion_strength.py) orders what is shown.
    strength: StrengthWeights = Field(default_factory=StrengthWeights)


def _feature_use(
    session: Session, *, as_of: date, cfg: ExpansionConfig, account_ids: Sequence[int] | None
) -> dict[int, list[FeatureUse]]:
    """Per-account use of each feature over the window, only rows that could matter."""
    return feature_use(
        session,
        as_of=as_of,
        window_days=cfg.window_days,
        min_users=cfg.module_min_users,
        min_events=min(cfg.module_min_events, cfg.integration_min_events),
        always=cfg.api_feature_keys,
        account_ids=account_ids,
    )


def _ref(contract: ActiveContract) -> str:
    return contract.external_id or str(contract.account_id)


@dataclass(frozen=True)
class _SeatTerms:
    """The numbers of a seats opportunity (``_seats`` words them)."""

    utilisation: npt.NDArray[np.float64]  # each week's peak / seats purchased, oldest first
    peak: int
    factor: Decimal
    extra: int
    seat_price: Decimal
    estimated: Decimal


def _seat_terms(
    contract: ActiveContract, weekly_peaks: npt.NDArray[np.float64] | None, cfg: ExpansionConfig
) -> _SeatTerms | None:
    purchased = contract.seats_purchased
    if purchased <= 0 or weekly_peaks is None or not weekly_peaks.size:
        return None
    # Every week at or above the threshold: the lowest week is (division keeps the order).
    if float(weekly_peaks.min()) / purchased < cfg.seat_utilisation_threshold:
        return None
    utilisation = weekly_peaks / purchased
    peak = int(weekly_peaks.max())
    factor = 1 + Decimal(str(cfg.seat_headroom))
    target = math.ceil(Decimal(max(peak, purchased)) * factor)
    extra = max(target - purchased, 1)
    seat_price = contract.arr / purchased
    return _SeatTerms(utilisation, peak, factor, extra, seat_price, dollars(seat_price * extra))


def _seats(
    contract: ActiveContract, weekly_peaks: npt.NDArray[np.float64] | None, cfg: ExpansionConfig
) -> ExpansionOpportunity | None:
    terms = _seat_terms(contract, weekly_peaks, cfg)
    if terms is None:
        return None
    purchased, utilisation, peak = contract.seats_purchased, terms.utilisation, terms.peak
    factor, extra, seat_price = terms.factor, terms.extra, terms.seat_price
    estimated = terms.estimated
    weeks = len(utilisation)
    threshold = percent_text(cfg.seat_utilisation_threshold)
    shares = ", ".join(percent_text(float(u)) for u in utilisation)
    formula = (
        f"ceil(max(peak {peak:,}, purchased {purchased:,}) x {factor:.2f}) - {purchased:,} "
        f"= {extra:,} extra seats x {money_text(seat_price)}/seat "
        f"({money_text(contract.arr)} ARR / {purchased:,} seats) = {money_text(estimated)}"
    )
    return ExpansionOpportunity(
        account_id=contract.account_id,
        kind="seats",
        title=f"{extra:,} more seats ({peak:,} active users on {purchased:,} seats)",
        evidence=[
            f"seat utilisation at or above {threshold} for the last {weeks} weeks: {shares} "
            "(weekly peak daily active users / seats purchased)",
            f"peak daily active users: {peak:,} vs {purchased:,} seats purchased",
        ],
        estimated_arr=estimated,
        formula=formula,
        talk_track=(
            f"Your team has used {threshold} or more of its {purchased:,} seats every week for "
            f"the last {weeks} weeks, peaking at {peak:,} active users. Adding {extra:,} seats "
            f"keeps everyone working without hitting the cap, at {money_text(seat_price)} "
            f"per seat ({money_text(estimated)} a year)."
        ),
        key=f"{_ref(contract)}:seats:cap",
    )


def _heavy(use: FeatureUse, min_users: int, min_events: int) -> bool:
    return use.peak_users >= min_users or use.events >= min_events


def _usage_text(use: FeatureUse, days: int) -> str:
    return (
        f"{use.name} ({use.tier} tier): {use.peak_users:,} users and {use.events:,} events "
        f"in the last {days} days"
    )


@dataclass(frozen=True)
class _ModuleTerms:
    """The numbers of a module opportunity (``_module`` words them)."""

    heavy: list[FeatureUse]  # heavy features above the plan, highest tier first
    target: str
    uplift: Decimal
    estimated: Decimal


def _module_terms(
    contract: ActiveContract, uses: list[FeatureUse], cfg: ExpansionConfig
) -> _ModuleTerms | None:
    plan_rank = TIER_RANK.get(contract.plan)
    if plan_rank is None:
        return None
    heavy = [
        u
        for u in uses
        if not u.is_integration
        and u.key not in cfg.api_feature_keys
        and TIER_RANK.get(u.tier, -1) > plan_rank
        and _heavy(u, cfg.module_min_users, cfg.module_min_events)
    ]
    if not heavy:
        return None
    heavy.sort(key=lambda u: (-TIER_RANK[u.tier], -u.events, u.key))
    target = heavy[0].tier
    uplift = Decimal(str(cfg.tier_uplift.get(target, 0.0)))
    return _ModuleTerms(heavy, target, uplift, dollars(contract.arr * uplift))


def _module(
    contract: ActiveContract, uses: list[FeatureUse], cfg: ExpansionConfig
) -> ExpansionOpportunity | None:
    terms = _module_terms(contract, uses, cfg)
    if terms is None:
        return None
    heavy, target, uplift, estimated = terms.heavy, terms.target, terms.uplift, terms.estimated
    names = ", ".join(u.name for u in heavy)
    return ExpansionOpportunity(
        account_id=contract.account_id,
        kind="module",
        title=f"Upgrade {contract.plan} to {target}: heavy use of {names}",
        evidence=[_usage_text(u, cfg.window_days) for u in heavy]
        + [f"current plan: {contract.plan}"],
        estimated_arr=estimated,
        formula=(
            f"{money_text(contract.arr)} current ARR x {uplift:.0%} {target} tier uplift "
            f"= {money_text(estimated)}"
        ),
        talk_track=(
            f"Your team is already leaning on {names}, which the {target} plan is built "
            f"around: {heavy[0].peak_users:,} users and {heavy[0].events:,} events in the last "
            f"{cfg.window_days} days on {heavy[0].name}. Moving from {contract.plan} to "
            f"{target} (about {money_text(estimated)} a year) makes that use fully supported."
        ),
        key=f"{_ref(contract)}:module:{target}",
    )


@dataclass(frozen=True)
class _IntegrationTerms:
    """The numbers of an integration opportunity (``_integration`` words them)."""

    outside_plan: list[FeatureUse]  # heavy integration features above the plan
    api_calls: int
    heavy_api: bool
    uplift: Decimal
    estimated: Decimal


def _integration_terms(
    contract: ActiveContract, uses: list[FeatureUse], cfg: ExpansionConfig
) -> _IntegrationTerms | None:
    plan_rank = TIER_RANK.get(contract.plan, len(TIER_RANK))
    outside_plan = [
        u
        for u in uses
        if u.is_integration
        and TIER_RANK.get(u.tier, -1) > plan_rank
        and u.events >= cfg.integration_min_events
    ]
    api = [u for u in uses if u.key in cfg.api_feature_keys]
    api_calls = sum(u.events for u in api)
    heavy_api = api_calls >= cfg.api_min_events
    if not outside_plan and not heavy_api:
        return None
    uplift = Decimal(str(cfg.integration_uplift))
    estimated = dollars(contract.arr * uplift)
    return _IntegrationTerms(outside_plan, api_calls, heavy_api, uplift, estimated)


def _integration(
    contract: ActiveContract, uses: list[FeatureUse], cfg: ExpansionConfig
) -> ExpansionOpportunity | None:
    terms = _integration_terms(contract, uses, cfg)
    if terms is None:
        return None
    outside_plan, api_calls, heavy_api = terms.outside_plan, terms.api_calls, terms.heavy_api
    uplift, estimated = terms.uplift, terms.estimated
    evidence = [_usage_text(u, cfg.window_days) + " (not in plan)" for u in outside_plan]
    if heavy_api:
        evidence.append(
            f"{api_calls:,} API calls in the last {cfg.window_days} days "
            f"(threshold {cfg.api_min_events:,})"
        )
    what = ", ".join(u.name for u in outside_plan) or "the API"
    usage = (
        f"{api_calls:,} API calls"
        if heavy_api
        else f"{outside_plan[0].events:,} {outside_plan[0].name} events"
    )
    return ExpansionOpportunity(
        account_id=contract.account_id,
        kind="integration",
        title=f"Integration package: heavy use of {what}",
        evidence=evidence,
        estimated_arr=estimated,
        formula=(
            f"{money_text(contract.arr)} current ARR x {uplift:.0%} integration uplift "
            f"= {money_text(estimated)}"
        ),
        talk_track=(
            f"Your systems are wired into ours: {usage} in the last {cfg.window_days} days. "
            f"The integration package covers {what} with higher limits and support, "
            f"for about {money_text(estimated)} a year."
        ),
        key=f"{_ref(contract)}:integration:package",
    )


def expansion_opportunities(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
) -> dict[int, list[ExpansionOpportunity]]:
    """Seats, module and integration opportunities per account in force on ``as_of``.

    Reads only data dated before ``as_of`` (contracts: in force on it). Every account in force
    gets a key (an empty list when nothing is found); churned accounts are absent.
    """
    cfg = config.expansion
    contracts = active_contracts(session, on=as_of, account_ids=account_ids)
    if not contracts:
        return {}
    ids = list(contracts) if account_ids is not None else None
    weekly = weekly_usage(session, as_of=as_of, weeks=cfg.seat_weeks, account_ids=ids)
    week_row = weekly.index()
    features = _feature_use(session, as_of=as_of, cfg=cfg, account_ids=ids)
    inputs = {
        a: (
            contract,
            weekly.peak_dau[week_row[a]] if a in week_row else None,
            features.get(a, []),
        )
        for a, contract in contracts.items()
    }
    result, shown = _opportunities(inputs, cfg)
    if shown:
        matrix = strength_matrix(session, as_of=as_of, contracts=shown, window_days=cfg.window_days)
        _add_strength(result, matrix, cfg)
    return result


def expansion_of(
    facts: dict[int, FindingFacts], *, config: ScoringConfig
) -> dict[int, list[ExpansionOpportunity]]:
    """``expansion_opportunities`` of a few accounts from the facts their report already
    extracted (``extract_days(..., findings=True)``): the same opportunities and strengths,
    no table read again. The scan's bulk facts hold only the weeks of the seat rule: ranking
    them raises ``ValueError`` (the scan counts its pipeline with ``pipeline_of``)."""
    cfg = config.expansion
    result, shown = _opportunities(_inputs_of(facts, cfg), cfg)
    if shown:
        _add_strength(result, strength_of_facts({a: facts[a] for a in shown}), cfg)
    return result


Inputs = tuple[ActiveContract, "npt.NDArray[np.float64] | None", list[FeatureUse]]


def _inputs_of(facts: dict[int, FindingFacts], cfg: ExpansionConfig) -> dict[int, Inputs]:
    """Each account in force's contract, weekly peaks and feature use, from its facts."""
    inputs: dict[int, Inputs] = {}
    for account_id, fact in facts.items():
        if fact.contract is None:
            continue
        peaks = fact.weekly_peaks(cfg.seat_weeks)
        uses = fact.feature_use(
            cfg.module_min_users,
            min(cfg.module_min_events, cfg.integration_min_events),
            cfg.api_feature_keys,
        )
        inputs[account_id] = (fact.contract, peaks, uses)
    return inputs


def pipeline_total(found: dict[int, list[ExpansionOpportunity]]) -> tuple[int, Decimal]:
    """How many opportunities ``found`` holds and their estimated ARR (the pipeline)."""
    opportunities = [o for opps in found.values() for o in opps]
    return len(opportunities), sum((o.estimated_arr for o in opportunities), Decimal("0"))


def pipeline_of(facts: dict[int, FindingFacts], *, config: ScoringConfig) -> tuple[int, Decimal]:
    """How many opportunities ``expansion_of(facts, ...)`` finds and their estimated ARR, from
    the rules' numbers alone (nothing worded, nothing ranked): the scan's team figures."""
    cfg = config.expansion
    count, arr = 0, Decimal("0")
    for contract, peaks, uses in _inputs_of(facts, cfg).values():
        for terms in (
            _seat_terms(contract, peaks, cfg),
            _module_terms(contract, uses, cfg),
            _integration_terms(contract, uses, cfg),
        ):
            if terms is not None and terms.estimated >= cfg.min_estimated_arr:
                count += 1
                arr += terms.estimated
    return count, arr


def _opportunities(
    inputs: dict[int, Inputs], cfg: ExpansionConfig
) -> tuple[dict[int, list[ExpansionOpportunity]], dict[int, ActiveContract]]:
    """The opportunities of each account in force, and the accounts that have any."""
    result: dict[int, list[ExpansionOpportunity]] = {}
    shown: dict[int, ActiveContract] = {}
    for account_id, (contract, weekly_peaks, uses) in inputs.items():
        candidates = [
            _seats(contract, weekly_peaks, cfg),
            _module(contract, uses, cfg),
            _integration(contract, uses, cfg),
        ]
        result[account_id] = [
            o for o in candidates if o is not None and o.estimated_arr >= cfg.min_estimated_arr
        ]
        if result[account_id]:
            shown[account_id] = contract
    return result, shown


def _add_strength(
    result: dict[int, list[ExpansionOpportunity]], matrix: StrengthMatrix, cfg: ExpansionConfig
) -> None:
    strength = matrix.strength(cfg.strength)
    for account_id in matrix.ids:
        result[account_id] = [
            o.model_copy(update={"strength": strength[account_id]}) for o in result[account_id]
        ]
