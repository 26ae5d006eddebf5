"""The QBR: a document of four sections built from the scoring tools, saved as versioned drafts.

Every number comes from the tools (``account_report``, health history) and the metric layer
(``tools.facts``: quarter totals, feature adoption, the contract in force); the narratives come
from a ``NarrativeSource`` (a template by default, Claude when a writer is given) and never add
numbers of their own. A document is saved as a ``QbrDraft`` version (the four sections as
markdown, so the agent's revision tools keep working) plus a ``QbrDocumentRecord`` holding the
structured document. A later revision of a section (a new draft version whose section text
differs) overrides that section's body when the draft is rendered or published.

Modules: ``model`` (the document), ``sections`` (building each section), ``narratives``
(templates and Claude), ``build`` (``build_qbr``), ``store`` (save, load, create a draft).
Rendering is in ``tools.qbr_render``; the deck and prep documents in ``tools.qbr_documents``.
"""

from tools.qbr.build import build_qbr, with_documents
from tools.qbr.model import (
    QUARTER_DAYS,
    Action,
    AdoptionRow,
    AdoptionSection,
    ExpansionSection,
    HealthPoint,
    HealthSection,
    QbrDocument,
    RenewalTerms,
    RoiAssumptions,
    RoiSection,
    SectionKey,
    UnderUsedFeature,
    ValueMetric,
)
from tools.qbr.narratives import (
    NarrativeSource,
    TemplateNarratives,
    executive_summary_template,
    section_templates,
    with_narratives,
    write_narratives,
    write_verified_narratives,
)
from tools.qbr.sections import quarter_label
from tools.qbr.store import create_qbr_draft, load_qbr, save_qbr

__all__ = [
    "QUARTER_DAYS",
    "Action",
    "AdoptionRow",
    "AdoptionSection",
    "ExpansionSection",
    "HealthPoint",
    "HealthSection",
    "NarrativeSource",
    "QbrDocument",
    "RenewalTerms",
    "RoiAssumptions",
    "RoiSection",
    "SectionKey",
    "TemplateNarratives",
    "UnderUsedFeature",
    "ValueMetric",
    "build_qbr",
    "create_qbr_draft",
    "executive_summary_template",
    "load_qbr",
    "quarter_label",
    "save_qbr",
    "section_templates",
    "with_documents",
    "with_narratives",
    "write_narratives",
    "write_verified_narratives",
]
