"""``build_qbr``: one account's QBR for the quarter ending on a day, with its narratives and
documents (customer deck, internal prep)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session

from tools.facts import window_start
from tools.qbr.model import QUARTER_DAYS, QbrDocument, RoiAssumptions
from tools.qbr.narratives import NarrativeSource, write_narratives, write_verified_narratives
from tools.qbr.sections import (
    adoption_section,
    expansion_section,
    health_section,
    quarter_label,
    roi_section,
)
from tools.results import AccountReport
from tools.scoring import account_report
from tools.scoring_config import ScoringConfig

if TYPE_CHECKING:
    from tools.narrative import Writer
    from tools.voc.labels import Labeller


def build_qbr(
    session: Session,
    *,
    account_id: int,
    as_of: date,
    config: ScoringConfig,
    narratives: NarrativeSource | None = None,
    assumptions: RoiAssumptions | None = None,
    writer: Writer | None = None,
    labeller: Labeller | None = None,
) -> QbrDocument:
    """The QBR of one account for the quarter before ``as_of``: the 91 complete days
    ``as_of`` - 91 .. ``as_of`` - 1 (today has no usage rows yet; ``tools.facts.definitions``).

    With a ``writer`` (Claude) the narratives are model-written and number-checked, else they
    come from ``narratives`` or the templates. With a ``labeller`` (Claude) the voice of the
    customer's themes carry Claude's checked names, else their top words."""
    start = window_start(as_of, QUARTER_DAYS)
    report = account_report(session, account_id=account_id, as_of=as_of, config=config)
    _, health = health_section(session, report, as_of, start, config, labeller=labeller)
    roi = roi_section(
        session, report.account, report.lean, start, as_of, assumptions or RoiAssumptions()
    )
    adoption = adoption_section(session, report.account, as_of)
    expansion = expansion_section(
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
    return with_documents(session, doc, report, labeller=labeller)


def with_documents(
    session: Session, doc: QbrDocument, report: AccountReport, *, labeller: Labeller | None = None
) -> QbrDocument:
    """``doc`` with its customer deck and internal prep doc (``tools.qbr_documents``)."""
    from tools.qbr_documents import deck_sections, prep_sections

    return doc.model_copy(
        update={
            "deck": deck_sections(session, doc),
            "prep": prep_sections(session, doc, report, labeller=labeller),
        }
    )
