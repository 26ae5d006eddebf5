"""A minimal, versioned QBR draft: four markdown sections built from the scoring numbers.

Every revision is a new ``QbrDraft`` row with the next version, so nothing a CSM wrote is lost.
Drafts are only drafts: publishing is a person's click, elsewhere.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from tools.models import (
    Account,
    QbrDraft,
    QbrDraftStatus,
    utcnow,
)

SECTIONS: tuple[str, ...] = (
    "health_summary",
    "roi_impact",
    "adoption_scorecard",
    "expansion_next_steps",
)
SECTION_TITLES = {
    "health_summary": "Health summary",
    "roi_impact": "ROI & impact",
    "adoption_scorecard": "Adoption scorecard",
    "expansion_next_steps": "Expansion & next steps",
}
MAX_SECTION_CHARS = 6_000


class QbrError(ValueError):
    """A QBR request that cannot be met (unknown section, no draft yet)."""


class QbrDraftView(BaseModel):
    """One version of a draft, as tools and renderers see it."""

    draft_id: int
    account_id: int
    account_name: str | None = None
    version: int
    status: str
    sections: dict[str, str]


def _view(draft: QbrDraft, account_name: str | None = None) -> QbrDraftView:
    return QbrDraftView(
        draft_id=draft.id or 0,
        account_id=draft.account_id,
        account_name=account_name,
        version=draft.version,
        status=draft.status,
        sections={k: str(v) for k, v in draft.sections.items()},
    )


def latest_draft(session: Session, *, account_id: int) -> QbrDraft | None:
    """The newest draft (status draft) of the account, or None."""
    return session.exec(
        select(QbrDraft)
        .where(QbrDraft.account_id == account_id, QbrDraft.status == QbrDraftStatus.DRAFT.value)
        .order_by(col(QbrDraft.version).desc())
    ).first()


def next_version(session: Session, account_id: int) -> int:
    """The version number the account's next QBR draft gets."""
    top = session.exec(
        select(func.max(QbrDraft.version)).where(QbrDraft.account_id == account_id)
    ).one()
    return int(top or 0) + 1


def revise_section(
    session: Session,
    *,
    account_id: int,
    section: str,
    text: str,
    created_by: str | None = None,
) -> QbrDraftView:
    """A new version of the latest draft with ``section`` replaced by ``text``."""
    if section not in SECTIONS:
        raise QbrError(f"unknown section {section!r}; sections are {', '.join(SECTIONS)}")
    current = latest_draft(session, account_id=account_id)
    if current is None:
        raise QbrError("this account has no QBR draft yet; create one with draft_qbr first")
    sections = dict(current.sections)
    sections[section] = text.strip()[:MAX_SECTION_CHARS]
    draft = QbrDraft(
        account_id=account_id,
        version=next_version(session, account_id),
        sections=sections,
        thread_key=current.thread_key,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(draft)
    session.flush()
    return _view(draft)


def discard_draft(session: Session, *, draft_id: int) -> bool:
    """Mark every still-open version of the draft's account up to this one discarded.

    Guarded: only versions in status ``draft`` change, so a double click or a Slack retry
    discards once; returns whether anything changed.
    """
    draft = session.get(QbrDraft, draft_id)
    if draft is None or draft.status != QbrDraftStatus.DRAFT.value:
        return False
    result = session.execute(
        update(QbrDraft)
        .where(
            col(QbrDraft.account_id) == draft.account_id,
            col(QbrDraft.version) <= draft.version,
            col(QbrDraft.status) == QbrDraftStatus.DRAFT.value,
        )
        .values(status=QbrDraftStatus.DISCARDED.value)
    )
    session.flush()
    return bool(getattr(result, "rowcount", 0))


def draft_view(session: Session, *, draft_id: int) -> QbrDraftView | None:
    """One draft version by id, or None."""
    draft = session.get(QbrDraft, draft_id)
    if draft is None:
        return None
    account = session.get(Account, draft.account_id)
    return _view(draft, account.name if account is not None else None)
