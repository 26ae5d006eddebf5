"""Section narratives: templates by default, Claude (number-checked) when a writer is given.

A narrative only restates numbers found in the document; the templates fill any part a source
cannot write.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from sqlmodel import Session

from tools.facts import money_text
from tools.qbr.model import QbrDocument, SectionKey
from tools.qbr_draft import SECTIONS

if TYPE_CHECKING:
    from tools.narrative import Writer

log = logging.getLogger(__name__)


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
        f"{r.hours_saved:,.0f} hours of manual work saved (≈{money_text(r.value_of_time)})."
    )
    if r.roi_multiple is not None:
        text += (
            f" Annualised, that is ≈{money_text(r.annualised_value)}, {r.roi_multiple:.1f}x the "
            f"{money_text(r.arr)} ARR."
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
            f"The {e.renewal.plan or 'current'} contract ({money_text(e.renewal.arr)} ARR) "
            "renews on "
            f"{e.renewal.renewal_date:%-d %b %Y}, in {e.renewal.days_to_renewal} days."
        )
    if e.opportunities:
        parts.append(
            f"We see {len(e.opportunities)} expansion opportunit"
            f"{'y' if len(e.opportunities) == 1 else 'ies'} worth an estimated "
            f"{money_text(e.total_estimated_arr)} ARR."
        )
    if e.actions:
        parts.append(f"First step: {e.actions[0].title.lower()}.")
    return " ".join(parts) or "No renewal or expansion item is open this quarter."


def executive_summary_template(doc: QbrDocument) -> str:
    """The executive summary from the numbers: the quarter, the value, the first next step."""
    h, r, e = doc.health, doc.roi, doc.expansion
    parts = [f"{doc.account.name} ends {doc.quarter} at {h.score:.0f}/100 ({h.band.value})."]
    parts.append(
        f"The team logged {r.events:,} product actions, an estimated {r.hours_saved:,.0f} "
        f"hours of manual work saved (≈{money_text(r.value_of_time)})."
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
