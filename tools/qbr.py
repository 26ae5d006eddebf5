"""The QBR document model: four sections built from the scoring tools, saved as versioned drafts.

Every number comes from the tools (``account_report``, health history, feature usage); the
narratives come from a ``NarrativeSource`` (a template by default, Claude later) and never add
numbers of their own. A document is saved as a ``QbrDraft`` version (the four sections as
markdown, so the agent's revision tools keep working) plus a ``QbrDocumentRecord`` holding the
structured document. A later revision of a section (a new draft version whose section text
differs) overrides that section's body when the draft is rendered or published.
"""

from __future__ import annotations

import logging
import math
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from tools.facts.usage import feature_adoption
from tools.health import health_score_for
from tools.history import health_history
from tools.insights import SignalMove, signal_moves
from tools.lean import active_contracts
from tools.models import (
    Feature,
    FeatureUsage,
    QbrDocumentRecord,
    QbrDraft,
    UsageDaily,
    utcnow,
)
from tools.qbr_draft import SECTIONS, QbrDraftView, QbrError, next_version
from tools.results import (
    AccountReport,
    AccountSummary,
    Band,
    Driver,
    ExpansionOpportunity,
    HealthResult,
    LeanFinding,
    TriggerHit,
)
from tools.scoring import account_report
from tools.scoring_config import ScoringConfig
from tools.voc import voice_of_customer
from tools.voc.render import voice_markdown

if TYPE_CHECKING:
    from tools.narrative import Writer

log = logging.getLogger(__name__)

SectionKey = Literal["health_summary", "roi_impact", "adoption_scorecard", "expansion_next_steps"]
QUARTER_DAYS = 91
HISTORY_POINTS = 12
HISTORY_STEP_DAYS = 14


class RoiAssumptions(BaseModel):
    """The stated assumptions behind the ROI estimates (shown verbatim in every QBR)."""

    minutes_saved_per_event: float = Field(
        default=1.0, ge=0, description="Minutes of manual work one product action replaces."
    )
    minutes_saved_per_integration_event: float = Field(
        default=0.02, ge=0, description="Minutes one automated integration/API event replaces."
    )
    hourly_cost: Decimal = Field(
        default=Decimal("55"), ge=0, description="Loaded cost of one hour of a user's time ($)."
    )

    def statements(self) -> list[str]:
        """The assumptions in plain words."""
        return [
            f"Each product action (feature event) saves {_minutes(self.minutes_saved_per_event)} "
            "of manual work.",
            "Each integration/API event saves "
            f"{_minutes(self.minutes_saved_per_integration_event)} "
            "(automated sync instead of copy-paste).",
            f"An hour of a user's time costs ${self.hourly_cost:,.0f} (loaded).",
            "Annualised figures multiply the last 91 days by 4.",
        ]


def _minutes(value: float) -> str:
    return f"{value:g} minute" + ("" if value == 1 else "s")


# -- the document --------------------------------------------------------------------------------


class HealthPoint(BaseModel):
    """The health score and band on one day."""

    day: date
    score: float
    band: Band


class HealthSection(BaseModel):
    score: float
    band: Band
    start_score: float | None = None
    start_band: Band | None = None
    band_trend: str
    history: list[HealthPoint] = Field(description="Oldest first.")
    drivers: list[Driver]
    movers: list[SignalMove]
    churn_level: str
    churn_triggers: list[TriggerHit]
    narrative: str = ""
    voice: str = Field(default="", description="Voice of the customer over the quarter (markdown).")


class ValueMetric(BaseModel):
    """One quantified value delivered, with how it was computed."""

    label: str
    value: str
    basis: str


class RoiSection(BaseModel):
    plan: str | None
    arr: Decimal
    seats_purchased: int
    seats_used: int | None
    events: int
    integration_events: int
    hours_saved: float
    value_of_time: Decimal
    annualised_value: Decimal
    roi_multiple: float | None
    metrics: list[ValueMetric]
    assumptions: list[str]
    waste: list[str] = Field(description="Lean findings with their cost where priced.")
    narrative: str = ""


class AdoptionRow(BaseModel):
    feature: str
    name: str
    tier: str
    in_plan: bool
    users: int
    events: int
    adoption: float
    benchmark: float
    status: Literal["above", "below", "unused", "not_in_plan"]


class UnderUsedFeature(BaseModel):
    feature: str
    name: str
    adoption: float
    benchmark: float
    users_to_benchmark: int
    recommendation: str


class AdoptionSection(BaseModel):
    peak_active_users: int
    rows: list[AdoptionRow]
    in_plan_features: int
    at_benchmark: int
    under_used: list[UnderUsedFeature]
    narrative: str = ""


class RenewalTerms(BaseModel):
    plan: str | None
    arr: Decimal
    seats_purchased: int
    start_date: date | None = None
    renewal_date: date | None
    days_to_renewal: int | None
    arr_at_risk: Decimal = Decimal("0")


class Action(BaseModel):
    title: str
    detail: str
    owner: str = "CSM"
    source: str = Field(description="churn | lean | adoption | expansion | renewal")


class ExpansionSection(BaseModel):
    opportunities: list[ExpansionOpportunity]
    total_estimated_arr: Decimal
    renewal: RenewalTerms
    actions: list[Action]
    narrative: str = ""


class QbrDocument(BaseModel):
    """A QBR for one account and quarter; renderers read this and never compute numbers."""

    account: AccountSummary
    as_of: date
    quarter: str = Field(description='e.g. "Q4 2026"')
    period_start: date
    health: HealthSection
    roi: RoiSection
    adoption: AdoptionSection
    expansion: ExpansionSection
    executive_summary: str = ""
    narratives_by: str = "template"
    draft_id: int | None = None
    version: int | None = None
    overrides: dict[str, str] = Field(
        default_factory=dict, description="Sections a person or Claude rewrote (markdown)."
    )
    deck: dict[str, str] = Field(
        default_factory=dict, description="The customer deck's sections (deck.*), markdown."
    )
    prep: dict[str, str] = Field(
        default_factory=dict, description="The internal prep doc's sections (prep.*), markdown."
    )

    @property
    def title(self) -> str:
        """The page title, e.g. "Acme Corp — Q4 2026 QBR"."""
        return f"{self.account.name} — {self.quarter} QBR"


# -- narratives ----------------------------------------------------------------------------------


class NarrativeSource(Protocol):
    """Writes the 2-3 sentence narrative of one section from the document's numbers."""

    name: str

    def narrative(self, section: SectionKey, document: QbrDocument) -> str:
        """The narrative of ``section``; it may only restate numbers found in ``document``."""
        ...


class TemplateNarratives:
    """Deterministic narratives from templates (the default, and the fallback for Claude)."""

    name = "template"

    def narrative(self, section: SectionKey, document: QbrDocument) -> str:
        """The templated narrative of ``section``."""
        writer = {
            "health_summary": _health_narrative,
            "roi_impact": _roi_narrative,
            "adoption_scorecard": _adoption_narrative,
            "expansion_next_steps": _expansion_narrative,
        }[section]
        return writer(document)


def _health_narrative(doc: QbrDocument) -> str:
    h = doc.health
    first = f"{doc.account.name} ends {doc.quarter} at {h.score:.0f}/100 ({h.band.value})"
    if h.start_score is not None:
        first += f", {h.score - h.start_score:+.0f} points since {doc.period_start:%-d %b}"
    parts = [first + "."]
    hurting = [m for m in h.movers if m.points < 0][:2]
    helping = [m for m in h.movers if m.points > 0][:1]
    if hurting:
        parts.append(
            "The score was pulled down most by "
            + " and ".join(f"{m.label} ({m.points:+.1f})" for m in hurting)
            + "."
        )
    if helping:
        parts.append(f"{helping[0].label} helped ({helping[0].points:+.1f}).")
    if h.churn_level != "low":
        parts.append(f"Churn risk is {h.churn_level}.")
    return " ".join(parts[:3]) if len(parts) <= 3 else " ".join([parts[0], parts[1], parts[-1]])


def _roi_narrative(doc: QbrDocument) -> str:
    r = doc.roi
    text = (
        f"Over the last 91 days the team logged {r.events:,} product actions, an estimated "
        f"{r.hours_saved:,.0f} hours of manual work saved (≈${r.value_of_time:,.0f})."
    )
    if r.roi_multiple is not None:
        text += (
            f" Annualised, that is ≈${r.annualised_value:,.0f}, {r.roi_multiple:.1f}x the "
            f"${r.arr:,.0f} ARR."
        )
    if r.waste:
        text += f" Watch: {r.waste[0]}."
    return text


def _adoption_narrative(doc: QbrDocument) -> str:
    a = doc.adoption
    text = (
        f"{a.at_benchmark} of {a.in_plan_features} features in the plan are at or above "
        "benchmark adoption."
    )
    if a.under_used:
        names = ", ".join(u.name for u in a.under_used[:3])
        text += f" The biggest gaps are {names}; each has a recommendation below."
    else:
        text += " No feature in the plan is below benchmark."
    return text


def _expansion_narrative(doc: QbrDocument) -> str:
    e = doc.expansion
    parts = []
    if e.renewal.renewal_date is not None:
        parts.append(
            f"The {e.renewal.plan or 'current'} contract (${e.renewal.arr:,.0f} ARR) renews on "
            f"{e.renewal.renewal_date:%-d %b %Y}, in {e.renewal.days_to_renewal} days."
        )
    if e.opportunities:
        parts.append(
            f"We see {len(e.opportunities)} expansion opportunit"
            f"{'y' if len(e.opportunities) == 1 else 'ies'} worth an estimated "
            f"${e.total_estimated_arr:,.0f} ARR."
        )
    if e.actions:
        parts.append(f"First step: {e.actions[0].title.lower()}.")
    return " ".join(parts) or "No renewal or expansion item is open this quarter."


# -- building ------------------------------------------------------------------------------------


def quarter_label(day: date) -> str:
    """The calendar quarter of ``day``, e.g. "Q4 2026"."""
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def _band_trend(history: list[HealthPoint]) -> str:
    bands: list[str] = []
    for point in history:
        if not bands or bands[-1] != point.band.value:
            bands.append(point.band.value)
    return " → ".join(bands) if bands else "no history"


def _health_section(
    session: Session,
    report: AccountReport,
    as_of: date,
    start: date,
    config: ScoringConfig,
) -> tuple[HealthResult, HealthSection]:
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
                session, as_of=as_of, window_days=QUARTER_DAYS, account_ids=[account_id]
            )
        ),
    )
    return health, section


def _event_totals(session: Session, account_id: int, since: date, until: date) -> tuple[int, int]:
    rows = session.exec(
        select(Feature.is_integration, func.sum(FeatureUsage.events))
        .join(Feature, col(Feature.id) == col(FeatureUsage.feature_id))
        .where(
            FeatureUsage.account_id == account_id,
            col(FeatureUsage.day) >= since,
            col(FeatureUsage.day) <= until,
        )
        .group_by(col(Feature.is_integration))
    ).all()
    product = sum(int(n or 0) for integ, n in rows if not integ)
    integration = sum(int(n or 0) for integ, n in rows if integ)
    return product, integration


def _usage_totals(session: Session, account_id: int, since: date, until: date) -> tuple[int, float]:
    logins, avg_active = session.exec(
        select(func.sum(UsageDaily.logins), func.avg(UsageDaily.active_users)).where(
            UsageDaily.account_id == account_id,
            col(UsageDaily.day) >= since,
            col(UsageDaily.day) <= until,
        )
    ).one()
    return int(logins or 0), float(avg_active or 0.0)


def _roi_section(
    session: Session,
    account: AccountSummary,
    lean: list[LeanFinding],
    start: date,
    as_of: date,
    assumptions: RoiAssumptions,
) -> RoiSection:
    events, integration = _event_totals(session, account.account_id, start, as_of)
    prev_events, prev_integration = _event_totals(
        session, account.account_id, start - timedelta(days=QUARTER_DAYS), start - timedelta(days=1)
    )
    logins, avg_active = _usage_totals(session, account.account_id, start, as_of)
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
            basis=f"feature events {start} to {as_of}"
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
            value=f"${value:,.0f}",
            basis=f"{hours:,.0f} h x ${assumptions.hourly_cost:,.0f}/h",
        ),
        ValueMetric(label="Logins", value=f"{logins:,}", basis="sum of daily logins, 91 days"),
        ValueMetric(
            label="Average daily active users",
            value=f"{avg_active:,.0f}",
            basis="mean of daily active users, 91 days",
        ),
    ]
    if multiple is not None:
        metrics.append(
            ValueMetric(
                label="Value vs ARR (est.)",
                value=f"{multiple:.1f}x",
                basis=f"${annual:,.0f} annualised ÷ ${account.arr:,.0f} ARR",
            )
        )
    waste = [
        f"{f.title} (${f.annual_cost:,.0f}/year)"
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


def _adoption_section(session: Session, account: AccountSummary, as_of: date) -> AdoptionSection:
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


def _expansion_section(
    session: Session,
    account: AccountSummary,
    report_churn: Any,
    lean: list[LeanFinding],
    opps: list[ExpansionOpportunity],
    under: list[UnderUsedFeature],
    as_of: date,
) -> ExpansionSection:
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


def build_qbr(
    session: Session,
    *,
    account_id: int,
    as_of: date,
    config: ScoringConfig,
    narratives: NarrativeSource | None = None,
    assumptions: RoiAssumptions | None = None,
    writer: Writer | None = None,
) -> QbrDocument:
    """The QBR of one account for the quarter ending ``as_of`` (the last 91 days).

    With a ``writer`` (Claude) the narratives are model-written and number-checked, else they
    come from ``narratives`` or the templates."""
    start = as_of - timedelta(days=QUARTER_DAYS - 1)
    report = account_report(session, account_id=account_id, as_of=as_of, config=config)
    _, health = _health_section(session, report, as_of, start, config)
    roi = _roi_section(
        session, report.account, report.lean, start, as_of, assumptions or RoiAssumptions()
    )
    adoption = _adoption_section(session, report.account, as_of)
    expansion = _expansion_section(
        session,
        report.account,
        report.churn,
        report.lean,
        report.expansion,
        adoption.under_used,
        as_of,
    )
    doc = QbrDocument(
        account=report.account,
        as_of=as_of,
        quarter=quarter_label(as_of),
        period_start=start,
        health=health,
        roi=roi,
        adoption=adoption,
        expansion=expansion,
    )
    if writer is not None:
        doc = write_verified_narratives(session, doc, writer)
    else:
        doc = write_narratives(doc, narratives)
    return with_documents(session, doc, report)


def with_documents(session: Session, doc: QbrDocument, report: AccountReport) -> QbrDocument:
    """``doc`` with its customer deck and internal prep doc (``tools.qbr_documents``)."""
    from tools.qbr_documents import deck_sections, prep_sections

    return doc.model_copy(
        update={
            "deck": deck_sections(session, doc),
            "prep": prep_sections(session, doc, report),
        }
    )


def executive_summary_template(doc: QbrDocument) -> str:
    """The executive summary from the numbers: the quarter, the value, the first next step."""
    h, r, e = doc.health, doc.roi, doc.expansion
    parts = [f"{doc.account.name} ends {doc.quarter} at {h.score:.0f}/100 ({h.band.value})."]
    parts.append(
        f"The team logged {r.events:,} product actions, an estimated {r.hours_saved:,.0f} "
        f"hours of manual work saved (≈${r.value_of_time:,.0f})."
    )
    if e.actions:
        parts.append(f"Next step: {e.actions[0].title.lower()}.")
    return " ".join(parts)


def section_templates(doc: QbrDocument) -> dict[str, str]:
    """Every narrative part from the templates (the fallback for each model-written part)."""
    template = TemplateNarratives()
    texts = {"executive_summary": executive_summary_template(doc)}
    for key in SECTIONS:
        section: SectionKey = key  # type: ignore[assignment]
        texts[key] = template.narrative(section, doc)
    return texts


def with_narratives(doc: QbrDocument, texts: dict[str, str], narratives_by: str) -> QbrDocument:
    """``doc`` with the executive summary and section narratives of ``texts``."""
    return doc.model_copy(
        update={
            "executive_summary": texts.get("executive_summary", doc.executive_summary),
            "health": doc.health.model_copy(update={"narrative": texts["health_summary"]}),
            "roi": doc.roi.model_copy(update={"narrative": texts["roi_impact"]}),
            "adoption": doc.adoption.model_copy(update={"narrative": texts["adoption_scorecard"]}),
            "expansion": doc.expansion.model_copy(
                update={"narrative": texts["expansion_next_steps"]}
            ),
            "narratives_by": narratives_by,
        }
    )


def write_verified_narratives(session: Session, doc: QbrDocument, writer: Writer) -> QbrDocument:
    """The executive summary and section narratives from ``writer`` (Claude), every number
    checked against the document (``tools.narrative``); the templates fill what fails."""
    from tools.narrative import narrate
    from tools.narrative_kinds import qbr_request

    result = narrate(session, qbr_request(doc, section_templates(doc)), writer)
    return with_narratives(doc, result.texts, result.label)


def write_narratives(doc: QbrDocument, source: NarrativeSource | None) -> QbrDocument:
    """Fill every section's narrative from ``source``; the template fills any it cannot."""
    template = TemplateNarratives()
    used = template.name
    texts: dict[str, str] = {"executive_summary": executive_summary_template(doc)}
    for key in SECTIONS:
        section: SectionKey = key  # type: ignore[assignment]
        text = ""
        if source is not None:
            try:
                text = source.narrative(section, doc).strip()
                used = source.name
            except Exception:  # fail open: a narrative writer must never block a QBR
                log.warning("narrative source %s failed for %s", source.name, key, exc_info=True)
        texts[key] = text or template.narrative(section, doc)
    return with_narratives(doc, texts, used)


# -- persistence ---------------------------------------------------------------------------------


def save_qbr(
    session: Session,
    *,
    document: QbrDocument,
    thread_key: str | None = None,
    created_by: str | None = None,
) -> QbrDraftView:
    """Save ``document`` as the account's next draft version (sections as markdown + the model)."""
    from tools.qbr_render import section_markdown

    account_id = document.account.account_id
    draft = QbrDraft(
        account_id=account_id,
        version=next_version(session, account_id),
        sections={**section_markdown(document), **document.deck, **document.prep},
        thread_key=thread_key,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(draft)
    session.flush()
    payload = document.model_copy(update={"draft_id": None, "version": None, "overrides": {}})
    session.add(
        QbrDocumentRecord(
            draft_id=draft.id or 0,
            account_id=account_id,
            quarter=document.quarter,
            as_of=document.as_of,
            document=payload.model_dump(mode="json"),
        )
    )
    session.flush()
    return QbrDraftView(
        draft_id=draft.id or 0,
        account_id=account_id,
        account_name=document.account.name,
        version=draft.version,
        status=draft.status,
        sections={k: str(v) for k, v in draft.sections.items()},
    )


def create_qbr_draft(
    session: Session,
    *,
    account_id: int,
    as_of: date,
    config: ScoringConfig,
    narratives: NarrativeSource | None = None,
    thread_key: str | None = None,
    created_by: str | None = None,
    writer: Writer | None = None,
) -> QbrDraftView:
    """Build the account's QBR and save it as a new draft version."""
    document = build_qbr(
        session,
        account_id=account_id,
        as_of=as_of,
        config=config,
        narratives=narratives,
        writer=writer,
    )
    return save_qbr(session, document=document, thread_key=thread_key, created_by=created_by)


def _base_record(session: Session, draft: QbrDraft) -> tuple[QbrDocumentRecord, QbrDraft] | None:
    row = session.exec(
        select(QbrDocumentRecord, QbrDraft)
        .join(QbrDraft, col(QbrDraft.id) == col(QbrDocumentRecord.draft_id))
        .where(QbrDraft.account_id == draft.account_id, QbrDraft.version <= draft.version)
        .order_by(col(QbrDraft.version).desc())
    ).first()
    return (row[0], row[1]) if row else None


def load_qbr(
    session: Session, *, draft_id: int, config: ScoringConfig | None = None
) -> QbrDocument:
    """The document of one draft version, with sections revised since its build as overrides.

    A draft saved without a structured document (an older agent draft) is rebuilt from the
    tools as of the draft's creation day when ``config`` is given; its sections become overrides.
    """
    draft = session.get(QbrDraft, draft_id)
    if draft is None:
        raise QbrError(f"no QBR draft with id {draft_id}")
    base = _base_record(session, draft)
    if base is not None:
        record, base_draft = base
        document = QbrDocument.model_validate(record.document)
        base_sections = base_draft.sections
    elif config is not None:
        document = build_qbr(
            session, account_id=draft.account_id, as_of=draft.created_at.date(), config=config
        )
        base_sections = {}
    else:
        raise QbrError(f"QBR draft {draft_id} has no document; rebuild it with build_qbr")
    overrides = {
        key: str(text)
        for key, text in draft.sections.items()
        if key in SECTIONS and text and text != base_sections.get(key)
    }
    stored = {str(k): str(v) for k, v in draft.sections.items()}
    deck = {k: v for k, v in stored.items() if k.startswith("deck.")} or document.deck
    prep = {k: v for k, v in stored.items() if k.startswith("prep.")} or document.prep
    return document.model_copy(
        update={
            "draft_id": draft.id,
            "version": draft.version,
            "overrides": overrides,
            "deck": deck,
            "prep": prep,
        }
    )
