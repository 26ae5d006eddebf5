"""Set-based extraction of the facts of many accounts at once, as of one or more days.

``extract_raw`` runs a fixed number of aggregate queries (one per source table, ``GROUP BY
account_id`` with the as-of windows in conditional aggregates) and returns NumPy arrays aligned
with ``RawMetrics.ids``. ``extract_days`` does the same for several as-of days in the same
statements (a few accounts; the portfolio is read day by day): ``/health`` reads today and the
trend days' history in one pass. "As of D" means data through the end of D-1 (UTC, complete
days; see ``tools.facts.definitions``): nothing dated D or later is read, so a scan at 00:30
and one at 23:30 of the same day agree.

- usage, feature usage: windows of N complete days ``D-N .. D-1`` (``product``);
- tickets, NPS, invoices (``support``), contacts and interactions (``people``): timestamp
  before the start of D; recency facts (last meaningful interaction, a champion's last
  engagement) count through the end of D;
- contracts (``contracts``): only those with ``start_date <= D``; "in force" means
  ``start <= D <= end``. ``Contract.status`` and ``Account.lifecycle_stage`` are never read.

``Account.tam_health`` is current-only; callers drop it with ``use_static_fields=False``.
The SQL plumbing (scope, statement cache) is in ``sql``; ``RawMetrics`` in ``arrays``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from tools.facts.extract.arrays import BoolArray, FloatArray, IntArray, RawMetrics
from tools.facts.extract.contracts import (
    account_ids_in,
    accounts_with_contracts,
    contract_terms,
    terms_from_rows,
)
from tools.facts.extract.people import people
from tools.facts.extract.product import (
    activity,
    features,
    seats_used_by_account,
    usage,
)
from tools.facts.extract.sql import IN_LIST_LIMIT, Reader, Scope, day_start, end_of
from tools.facts.extract.support import invoices, surveys, tickets
from tools.facts.onboarding import FirstDays, MilestoneReads

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

__all__ = [
    "IN_LIST_LIMIT",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "RawMetrics",
    "Reader",
    "Scope",
    "account_ids_in",
    "contract_terms",
    "day_start",
    "end_of",
    "extract_days",
    "extract_raw",
    "seats_used_by_account",
]


def extract_raw(
    session: Reader,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
    use_static_fields: bool = True,
    id_range: tuple[int, int] | None = None,
    findings: bool = False,
) -> RawMetrics:
    """Raw metrics of every account (or of ``account_ids``) as of ``as_of``, in ~12 queries.

    ``id_range`` (inclusive ``(low, high)``) restricts them to the accounts with ids in it;
    ``findings`` as in ``extract_days``.
    """
    (raw,) = extract_days(
        session,
        days=[as_of],
        config=config,
        account_ids=account_ids,
        use_static_fields=use_static_fields,
        id_range=id_range,
        findings=findings,
    )
    return raw


def extract_days(
    session: Reader,
    *,
    days: Sequence[date],
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
    use_static_fields: bool = True,
    id_range: tuple[int, int] | None = None,
    findings: bool = False,
) -> list[RawMetrics]:
    """``extract_raw`` for each of ``days`` (the first is the main day), from one read of each
    table: the same numbers as one ``extract_raw`` per day. Only the first day gets the
    onboarding facts (``extra``); the others are history (scores, trends).

    ``findings`` (a few accounts, the first day the latest): the same statements also read
    what Lean and expansion need, kept as ``extra["findings"]`` (``tools.facts.findings``), and
    the first days of the onboarding milestones of accounts younger than the onboarding window
    (the usage and feature-usage statements then read those accounts' whole history):
    ``extra["onboarding_progress"]`` (``tools.onboarding.progress_of_first_days``, the same
    progress ``onboarding_progress`` reads, without names) and the trigger from it. Otherwise
    the trigger is read by ``onboarding_triggers`` (its own statements, the scan's path).
    For the whole portfolio (or an id range) on one day, ``findings`` reads only what the
    scan's expansion pipeline needs (the seat rule's weekly peaks and feature use; no daily
    usage nor urgent tickets, no milestones), when ``FindingWindows.in_bulk`` says the
    portfolio's windows hold it."""
    days = list(days)
    if not days:
        return []
    scope = Scope(account_ids, id_range)
    if findings and not (
        (scope.scoped and days[0] == max(days))
        or (len(days) == 1 and _finding_windows(config).in_bulk(config))
    ):
        raise ValueError("findings facts: a few accounts, or the portfolio on one day")
    windows = _finding_windows(config) if findings else None
    bulk = windows is not None and not scope.scoped
    norm = config.health.normalise
    ids, tam, contract_rows, external_ids = accounts_with_contracts(
        session, scope, max(days), use_static_fields
    )
    terms = [terms_from_rows(contract_rows, ids, d) for d in days]
    young = _young(ids, terms[0], days[0], config)
    # A report reads its onboarding accounts' milestones with its own usage and feature rows.
    milestones = _milestone_reads(config, days[0]) if findings and not bulk and young else None
    usage_by_day, daily, first_usage = usage(
        session,
        scope,
        ids,
        days,
        norm.usage_window_days,
        config.activity.measure,
        windows.daily_days if windows and not bulk else 0,
        milestones,
        windows.weeks if windows and bulk else 0,
    )
    plans = [t["plan"] for t in terms]
    features_by_day, feature_rows, catalogue, first_features = features(
        session,
        scope,
        ids,
        plans,
        days,
        norm.adoption_window_days,
        windows.feature_days if windows else 0,
        milestones,
    )
    tickets_by_day, urgent = tickets(
        session, scope, ids, days, config, windows.urgent_days if windows and not bulk else None
    )
    invoices_by_day = invoices(session, scope, ids, days)
    contacts_by_day, interactions_by_day = people(session, scope, ids, days)
    surveys_by_day = surveys(session, scope, ids, days, config)
    out = []
    for k, as_of in enumerate(days):
        raw = _raw(
            as_of,
            ids,
            tam,
            terms[k],
            usage_by_day[k],
            features_by_day[k],
            tickets_by_day[k],
            invoices_by_day[k],
            contacts_by_day[k],
            surveys_by_day[k],
            interactions_by_day[k],
            config,
        )
        if k == 0 and milestones is not None:
            first = FirstDays(milestones, first_usage, first_features, catalogue)
            progress = _progress_of(first, young, config)
            raw.extra["onboarding_progress"] = progress
            raw.extra["onboarding_overdue"] = _triggers_of(progress)
        elif k == 0:
            raw.extra["onboarding_overdue"] = _onboarding(session, young, as_of, config)
        out.append(raw)
    if findings:
        from tools.facts.findings import finding_facts

        out[0].extra["findings"] = finding_facts(
            out[0],
            external_ids=external_ids,
            contract_rows=contract_rows,
            daily=daily,
            feature_rows=feature_rows,
            catalogue=catalogue,
            urgent=urgent,
            bulk=bulk,
        )
    return out


def _finding_windows(config: ScoringConfig) -> Any:
    from tools.facts.findings import FindingWindows

    return FindingWindows.of(config)


def _raw(
    as_of: date,
    ids: IntArray,
    tam: FloatArray,
    terms: dict[str, Any],
    use: list[FloatArray],
    adoption: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    support: list[FloatArray],
    billing: tuple[FloatArray, FloatArray, FloatArray],
    people: dict[str, Any],
    nps: list[FloatArray],
    last_interaction: FloatArray,
    config: ScoringConfig,
) -> RawMetrics:
    is_logins, activity_recent, activity_prior = activity(config, use)
    return RawMetrics(
        as_of=as_of,
        ids=ids,
        tam_health=tam,
        **terms,
        usage_rows_recent=use[0],
        usage_rows_prior=use[1],
        logins_recent=use[2],
        logins_prior=use[3],
        user_days_recent=use[4],
        user_days_prior=use[5],
        seats_used=use[6],
        active_days_recent=use[7],
        active_days_prior=use[8],
        activity_is_logins=is_logins,
        activity_recent=activity_recent,
        activity_prior=activity_prior,
        features_used=adoption[0],
        features_used_any=adoption[1],
        features_available=adoption[2],
        feature_rows=adoption[3],
        tickets_window=support[0],
        sentiment_mean=support[1],
        tickets_spike=support[2],
        tickets_baseline=support[3],
        escalated_window=support[4],
        open_escalated=support[5],
        open_tickets=support[6],
        days_since_interaction=last_interaction,
        invoices=billing[0],
        overdue_amount=billing[1],
        overdue_days=billing[2],
        **people,
        nps_mean=nps[0],
        nps_count=nps[1],
        csat_mean=nps[2],
        nps_promoters=nps[3],
        nps_detractors=nps[4],
        nps_recent_mean=nps[5],
        nps_recent_count=nps[6],
    )


def _young(
    ids: IntArray, terms: dict[str, Any], as_of: date, config: ScoringConfig
) -> dict[int, date]:
    """The onboarding start (first contract start) of the accounts younger than the onboarding
    window as of ``as_of``: the only ones the onboarding-overdue trigger can fire for."""
    tenure = terms["tenure_days"]
    young = tenure < config.onboarding.window_days
    return {
        int(a): as_of - timedelta(days=int(t))
        for a, t in zip(ids[young].tolist(), tenure[young].tolist(), strict=True)
    }


def _milestone_reads(config: ScoringConfig, as_of: date) -> MilestoneReads:
    from tools.onboarding.progress import milestone_reads

    return milestone_reads(config.onboarding, as_of)


def _onboarding(
    session: Reader, young: dict[int, date], as_of: date, config: ScoringConfig
) -> dict[int, list[tuple[str, str, str, str, bool]]]:
    """The onboarding-overdue trigger of the accounts younger than the onboarding window."""
    from tools.onboarding import onboarding_triggers

    return onboarding_triggers(
        session, as_of=as_of, config=config.onboarding, account_ids=sorted(young)
    )


def _progress_of(first: FirstDays, young: dict[int, date], config: ScoringConfig) -> Any:
    """``onboarding_progress`` of the young accounts from the first days the extraction read
    (no statement): a dict of ``tools.onboarding.OnboardingProgress``."""
    from tools.onboarding.progress import progress_of_first_days

    return progress_of_first_days(first, young, config.onboarding)


def _triggers_of(progress: Any) -> dict[int, list[tuple[str, str, str, str, bool]]]:
    from tools.onboarding.signals import triggers_of

    return triggers_of(progress)
