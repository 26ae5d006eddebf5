"""Revise one QBR section from a follow-up in its thread, without Claude.

``parse_revision("shorter ROI")`` -> ``Revision(op="shorter", sections=("deck.value_delivered",))``;
``apply_revision`` rewrites the named section deterministically and ``revise_from_request``
saves the result as the draft's next version (one section per revision, except "more formal"
without a section, which rewrites the customer deck's wording in one version). Understood:

- shorter / shorten / more concise / trim <section>
- add their goal of <goal> / their goal is <goal> (goals and outcomes)
- more formal / formal tone [<section>]

A customer-deck section is checked for internal terms before it is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from tools.models import QbrDraft, utcnow
from tools.qbr_documents import (
    DECK_SECTIONS,
    GOALS_HEADING,
    PREP_SECTIONS,
    internal_terms_in,
)
from tools.qbr_draft import MAX_SECTION_CHARS, QbrDraftView, QbrError, latest_draft, next_version

ALIASES: tuple[tuple[str, str], ...] = (
    (r"\broi\b|\bvalue\b|\bimpact\b|\bsavings?\b|\bbusiness case\b", "deck.value_delivered"),
    (r"\bgoals?\b|\boutcomes?\b", "deck.goals_outcomes"),
    (r"\badoption\b|\bfeatures?\b|\busage\b", "deck.adoption"),
    (r"\broadmap\b|\basks?\b|\brequests?\b", "deck.roadmap_asks"),
    (r"\bnext steps?\b|\bactions?\b", "deck.next_steps"),
    (r"\brisk\b|\brenewal\b", "prep.risk"),
    (r"\bplaybooks?\b", "prep.playbooks"),
    (r"\btalk track\b|\btalking points\b", "prep.talk_track"),
    (r"\bstakeholders?\b|\bcontacts?\b", "prep.stakeholders"),
    (r"\bthemes?\b|\btickets?\b|\bnps\b", "prep.themes"),
    (r"\binteractions?\b|\bmeetings?\b", "prep.interactions"),
)
_SHORTER = re.compile(
    r"\b(?:shorter|shorten|more concise|concise|trim|tighten|cut down|less detail|briefer)\b",
    re.IGNORECASE,
)
_FORMAL = re.compile(r"\b(?:more formal|formal|more professional)\b", re.IGNORECASE)
_GOAL = re.compile(
    r"(?:add|include|note|record|capture)\s+(?:their|the|a|our|that their)?\s*goal\s+"
    r"(?:of\s+|to\s+|is\s+|:\s*)?(?P<goal>.+)|their\s+goal\s+is\s+(?:to\s+)?(?P<goal2>.+)",
    re.IGNORECASE,
)
_FORMAL_WORDS: tuple[tuple[str, str], ...] = (
    (r"\bwe're\b", "we are"),
    (r"\byou're\b", "you are"),
    (r"\bdon't\b", "do not"),
    (r"\bisn't\b", "is not"),
    (r"\bit's\b", "it is"),
    (r"\blet's\b", "let us"),
    (r"≈\$", "approximately $"),
    (r"\babout\b", "approximately"),
    (r"\bWhere your team is strongest\b", "Areas of strongest adoption"),
    (r"\bWhere there is more to gain\b", "Areas with further potential"),
    (r"\bWhat your team raised with us this quarter\b", "Requests raised by your organisation"),
    (r"\bin your words\b", "as submitted"),
    (r"\bExplore whether\b", "Assess whether"),
    (r"\bA short enablement session\b", "A structured enablement session"),
    (r"\bConfirm your goals\b", "Formally confirm your objectives"),
    (r"\bTo confirm together in this review\b", "To be confirmed during this review"),
    (r"\bGoals you shared with us\b", "Objectives you have shared with us"),
    (r"!", "."),
)
KEEP_ALL_AFTER = ("**Assumptions",)
SHORT_LIST = 3


@dataclass(frozen=True)
class Revision:
    """One understood follow-up: what to do, to which sections."""

    op: str
    sections: tuple[str, ...]
    detail: str = ""

    @property
    def label(self) -> str:
        names = ", ".join(section_title(s) for s in self.sections)
        what = {"shorter": "shorter", "formal": "more formal", "add_goal": "goal added"}[self.op]
        return f"{names} ({what})"


def section_title(key: str) -> str:
    """The reader's name of a section key."""
    return {**DECK_SECTIONS, **PREP_SECTIONS}.get(key, key)


def section_named(text: str) -> str | None:
    """The section a follow-up names ("ROI" -> deck.value_delivered), or None."""
    for pattern, key in ALIASES:
        if re.search(pattern, text, re.IGNORECASE):
            return key
    return None


def parse_revision(text: str) -> Revision | None:
    """The revision a follow-up asks for, or None when it is not one."""
    goal = _GOAL.search(text)
    if goal:
        detail = (goal.group("goal") or goal.group("goal2") or "").strip(" .!?\"'")
        if detail:
            return Revision("add_goal", ("deck.goals_outcomes",), detail[:300])
    if _SHORTER.search(text):
        named = section_named(_SHORTER.sub(" ", text))
        return Revision("shorter", (named,)) if named else Revision("shorter", ())
    if _FORMAL.search(text):
        named = section_named(_FORMAL.sub(" ", text).replace("tone", " "))
        return Revision("formal", (named,) if named else tuple(DECK_SECTIONS))
    return None


def _shorter(text: str) -> str:
    out: list[str] = []
    in_list = 0
    keep_all = False
    for line in text.splitlines():
        item = bool(re.match(r"^(?:- |\* |\d+\. )", line))
        if not item:
            in_list = 0
            keep_all = any(line.startswith(k) for k in KEEP_ALL_AFTER)
            if line.strip() and not line.startswith("**") and len(line) > 160:
                line = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
            out.append(line)
            continue
        in_list += 1
        if keep_all or in_list <= SHORT_LIST:
            out.append(line)
    return "\n".join(out).strip()


def _formal(text: str) -> str:
    for pattern, replacement in _FORMAL_WORDS:
        text = re.sub(pattern, replacement, text)
    return text


def _add_goal(text: str, goal: str) -> str:
    goal = goal[0].upper() + goal[1:]
    line = f"- {goal}."
    if GOALS_HEADING not in text:
        return f"{GOALS_HEADING}\n{line}\n\n{text}".strip()
    head, rest = text.split(GOALS_HEADING, 1)
    block, _, tail = rest.partition("\n\n")
    kept = [
        item
        for item in block.strip("\n").splitlines()
        if item.strip() and "To confirm together in this review" not in item
    ]
    if line not in kept:
        kept.append(line)
    body = f"{head}{GOALS_HEADING}\n" + "\n".join(kept)
    return body + (f"\n\n{tail}" if tail else "")


def apply_revision(revision: Revision, sections: dict[str, str]) -> dict[str, str]:
    """The sections the revision changes, with their new text (unchanged ones left out)."""
    changed: dict[str, str] = {}
    for key in revision.sections:
        old = sections.get(key)
        if old is None:
            raise QbrError(f"this draft has no {section_title(key)} section")
        if revision.op == "shorter":
            new = _shorter(old)
        elif revision.op == "formal":
            new = _formal(old)
        else:
            new = _add_goal(old, revision.detail)
        if key.startswith("deck."):
            terms = internal_terms_in(new)
            if terms and not internal_terms_in(old):
                raise QbrError(f"the customer deck cannot say {', '.join(terms)}")
        if new != old:
            changed[key] = new[:MAX_SECTION_CHARS]
    return changed


def save_revision(
    session: Session,
    *,
    account_id: int,
    changed: dict[str, str],
    created_by: str | None = None,
) -> QbrDraftView:
    """The account's latest draft with ``changed`` applied, saved as the next version."""
    current = latest_draft(session, account_id=account_id)
    if current is None:
        raise QbrError("this account has no QBR draft yet")
    draft = QbrDraft(
        account_id=account_id,
        version=next_version(session, account_id),
        sections={**current.sections, **changed},
        thread_key=current.thread_key,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(draft)
    session.flush()
    return QbrDraftView(
        draft_id=draft.id or 0,
        account_id=account_id,
        version=draft.version,
        status=draft.status,
        sections={k: str(v) for k, v in draft.sections.items()},
    )
