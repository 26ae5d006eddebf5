"""Saving a QBR as a versioned draft and loading it back with the sections revised since."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from tools.models import QbrDocumentRecord, QbrDraft, utcnow
from tools.qbr.build import build_qbr
from tools.qbr.model import QbrDocument
from tools.qbr.narratives import NarrativeSource
from tools.qbr_draft import SECTIONS, QbrDraftView, QbrError, next_version
from tools.scoring_config import ScoringConfig

if TYPE_CHECKING:
    from tools.narrative import Writer
    from tools.voc.labels import Labeller


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
    labeller: Labeller | None = None,
) -> QbrDraftView:
    """Build the account's QBR and save it as a new draft version (``build_qbr``)."""
    document = build_qbr(
        session,
        account_id=account_id,
        as_of=as_of,
        config=config,
        narratives=narratives,
        writer=writer,
        labeller=labeller,
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
