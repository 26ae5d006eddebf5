"""The QBR thread: its two documents, and follow-ups that revise one section at a time.

``/qbr acme`` (or "draft a QBR for acme") posts the draft in a thread; ``link_thread`` records
the thread on the draft. In that thread, "@cs-copilot shorter ROI", "add their goal of cutting
onboarding time" or "make the tone more formal" become a new draft version (``tools.qbr_revise``
without Claude; with Claude the agent revises through ``revise_qbr_section``, told which draft
the thread holds by ``thread_note``). Each revision is posted with its own Publish/Discard
buttons; Publish sends the customer deck to Notion.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from bot import blocks
from bot.blocks import Block
from bot.deps import Deps
from bot.intents import Reply
from tools.db import session_scope
from tools.models import Account, QbrDraft, QbrDraftStatus
from tools.qbr_documents import DECK_SECTIONS, PREP_SECTIONS
from tools.qbr_draft import QbrError, latest_draft
from tools.qbr_revise import apply_revision, parse_revision, save_revision, section_title

SECTION_TEXT_MAX = 2_900
DECK_NOTE = "Customer-facing: no internal risk language. *Publish to Notion* sends this deck."
PREP_NOTE = "Internal: for you and the account team only. Never sent to the customer."


def thread_key(channel: str, thread_ts: str) -> str:
    """The key a conversation thread is stored under (same as the agent's)."""
    return f"{channel}:{thread_ts}"


def link_thread(deps: Deps, draft_id: int, *, channel: str, thread_ts: str) -> None:
    """Record that the draft is being worked on in this thread."""
    with session_scope(deps.sessions) as session:
        draft = session.get(QbrDraft, draft_id)
        if draft is not None and draft.thread_key is None:
            draft.thread_key = thread_key(channel, thread_ts)
            session.add(draft)


def thread_linker(reply: Reply, deps: Deps) -> Callable[[str, str], None] | None:
    """For a reply that starts a QBR thread: links the draft to the thread once it exists."""
    draft_id = reply.thread.extra.get("draft_id") if reply.thread is not None else None
    if not isinstance(draft_id, int):
        return None

    def link(channel: str, ts: str) -> None:
        link_thread(deps, draft_id, channel=channel, thread_ts=ts)

    return link


def _thread_draft(session: Session, key: str) -> QbrDraft | None:
    return session.exec(
        select(QbrDraft)
        .where(QbrDraft.thread_key == key, QbrDraft.status == QbrDraftStatus.DRAFT.value)
        .order_by(col(QbrDraft.version).desc())
    ).first()


def thread_note(deps: Deps, *, channel: str, thread_ts: str) -> str | None:
    """For Claude: which QBR draft this thread holds and its section names, or None."""
    with session_scope(deps.sessions) as session:
        draft = _thread_draft(session, thread_key(channel, thread_ts))
        if draft is None:
            return None
        account = session.get(Account, draft.account_id)
        latest = latest_draft(session, account_id=draft.account_id) or draft
        name = account.name if account else f"account {draft.account_id}"
        keys = ", ".join(k for k in latest.sections if k.startswith(("deck.", "prep.")))
    return (
        f"(Context from cs-copilot, not from the user: this thread holds the QBR draft of "
        f"{name}, latest version v{latest.version}. Revise one section at a time with "
        f"revise_qbr_section; section keys: {keys}. deck.* is customer-facing and must not use "
        "internal risk language.)"
    )


def _section_blocks(key: str, text: str) -> list[Block]:
    return [blocks.section(f"*{blocks.esc(section_title(key))}*\n{blocks.esc(text)}"[:3000])]


def document_reply(title: str, note: str, sections: dict[str, str], keys: dict[str, str]) -> Reply:
    """One of the two documents as a thread message."""
    body: list[Block] = [blocks.header(title), blocks.context(note)]
    for key in keys:
        if sections.get(key):
            body += _section_blocks(key, sections[key][:SECTION_TEXT_MAX])
    rendered = blocks.message(body, title)
    return Reply(blocks=rendered[0], text=rendered[1])


def documents_of(deck: dict[str, str], prep: dict[str, str], account: str) -> list[Reply]:
    """The internal prep doc, then the customer deck, as thread messages."""
    return [
        document_reply(f"Internal prep — {account}", PREP_NOTE, prep, PREP_SECTIONS),
        document_reply(f"Customer deck — {account}", DECK_NOTE, deck, DECK_SECTIONS),
    ]


def revise_in_thread(
    text: str, *, user_id: str | None, channel: str, thread_ts: str, deps: Deps
) -> Reply | None:
    """A follow-up in a QBR thread as a new draft version; None when it is not one."""
    revision = parse_revision(text)
    if revision is None:
        return None
    with session_scope(deps.sessions) as session:
        draft = _thread_draft(session, thread_key(channel, thread_ts))
        if draft is None:
            return None
        latest = latest_draft(session, account_id=draft.account_id) or draft
        if not revision.sections:
            names = ", ".join(f"“{t}”" for t in [*DECK_SECTIONS.values(), *PREP_SECTIONS.values()])
            ask = f"Which section should be shorter? For example “shorter ROI”. Sections: {names}."
            return Reply(*blocks.message([blocks.section(ask)], ask))
        try:
            changed = apply_revision(revision, {str(k): str(v) for k, v in latest.sections.items()})
        except QbrError as exc:
            say = f"I can't make that change: {exc}."
            return Reply(*blocks.message([blocks.section(blocks.esc(say))], say))
        if not changed:
            say = f"Nothing to change in {revision.label}; the draft stays at v{latest.version}."
            return Reply(*blocks.message([blocks.section(blocks.esc(say))], say))
        view = save_revision(
            session, account_id=draft.account_id, changed=changed, created_by=user_id
        )
    head = f":pencil2: *v{view.version}*: revised {blocks.esc(revision.label)}."
    body: list[Block] = [blocks.section(head)]
    for key, new in changed.items():
        body += _section_blocks(key, new[:SECTION_TEXT_MAX])
    body.append(blocks.qbr_draft_controls(view.draft_id, version=view.version))
    rendered = blocks.message(body, f"QBR draft v{view.version}: revised {revision.label}")
    return Reply(blocks=rendered[0], text=rendered[1], account_id=view.account_id)
