"""Claude's write tools: they create drafts and proposals only; nothing here sends or publishes.

A QBR draft and a hand-off proposal each need a person (a button) before anyone else sees them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from sqlmodel import Session

from tools import handoff_draft, qbr_draft, qbr_revise
from tools.agent_tools.common import AccountArg, account_id_of, label, resolve
from tools.db import session_scope
from tools.expansion import expansion_opportunities as expansion_for
from tools.qbr import create_qbr_draft
from tools.registry import CreatedRecord, ToolContext, ToolError

SectionName = Literal[
    "health_summary",
    "roi_impact",
    "adoption_scorecard",
    "expansion_next_steps",
    "deck.goals_outcomes",
    "deck.value_delivered",
    "deck.adoption",
    "deck.roadmap_asks",
    "deck.next_steps",
    "prep.risk",
    "prep.playbooks",
    "prep.talk_track",
    "prep.stakeholders",
    "prep.themes",
    "prep.interactions",
]


def draft_qbr(ctx: ToolContext, *, account: AccountArg) -> dict[str, Any]:
    """Create a new QBR draft version for an account with four markdown sections built from
    its numbers: health_summary, roi_impact, adoption_scorecard, expansion_next_steps.

    Only a draft: a person publishes it with a button. Show the user the sections and offer
    to revise any of them with revise_qbr_section.
    """
    ctx.claim_write()
    with session_scope(ctx.sessions) as session:
        acct = resolve(session, account)
        view = create_qbr_draft(
            session,
            account_id=account_id_of(acct),
            as_of=ctx.as_of,
            config=ctx.config,
            thread_key=ctx.thread_key,
            created_by=ctx.user_id,
            labeller=ctx.theme_labeller,
        )
    ctx.created.append(
        CreatedRecord("qbr_draft", view.draft_id, view.account_id, f"QBR v{view.version}")
    )
    return {**view.model_dump(), "note": "Draft only; publishing needs a person."}


def revise_qbr_section(
    ctx: ToolContext,
    *,
    account: AccountArg,
    section: SectionName,
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=6000,
            description="The full new markdown of the section. Use only numbers from tools.",
        ),
    ],
) -> dict[str, Any]:
    """Replace one section of the account's latest QBR draft, saving a new version (older
    versions are kept). Use after draft_qbr when the user asks to change a section.

    A QBR has an internal prep doc (prep.*: risk, playbooks, talk track, stakeholders, themes,
    interactions) and a customer deck (deck.*: goals and outcomes, value delivered, adoption,
    roadmap asks, next steps). deck.* text must not use internal risk language (churn, risk,
    ARR at risk, bands, health score, playbooks...). Every number must already be in the draft.
    """
    ctx.claim_write()
    with session_scope(ctx.sessions) as session:
        acct = resolve(session, account)
        try:
            check_revision(session, account_id_of(acct), section, text)
            view = qbr_revise.save_revision(
                session,
                account_id=account_id_of(acct),
                changed={section: text.strip()[: qbr_draft.MAX_SECTION_CHARS]},
                created_by=ctx.user_id,
            )
        except qbr_draft.QbrError as exc:
            raise ToolError(str(exc)) from exc
    ctx.created.append(
        CreatedRecord("qbr_draft", view.draft_id, view.account_id, f"QBR v{view.version}")
    )
    return {"draft_id": view.draft_id, "version": view.version, "section": section}


def check_revision(session: Session, account_id: int, section: str, text: str) -> None:
    """Refuse a revision that puts internal terms in the customer deck or states a number
    that is neither in the draft nor in its structured document."""
    from tools.narrative_check import unsupported_numbers
    from tools.qbr import load_qbr
    from tools.qbr_documents import internal_terms_in

    current = qbr_draft.latest_draft(session, account_id=account_id)
    if current is None:
        raise qbr_draft.QbrError("this account has no QBR draft yet; create one with draft_qbr")
    if section.startswith("deck.") and (terms := internal_terms_in(text)):
        raise qbr_draft.QbrError(
            f"the customer deck must not use internal terms ({', '.join(terms)}); rewrite "
            "the section in customer language"
        )
    try:
        evidence: object = [load_qbr(session, draft_id=current.id or 0).model_dump(mode="json")]
    except qbr_draft.QbrError:
        evidence = []
    invented = unsupported_numbers(text, [evidence, dict(current.sections)])
    if invented:
        raise qbr_draft.QbrError(
            f"these numbers are not in the draft or the tools: {', '.join(invented)}; "
            "use only numbers from the draft"
        )


def propose_expansion_handoff(
    ctx: ToolContext,
    *,
    account: AccountArg,
    opportunity_key: Annotated[
        str | None,
        Field(max_length=255, description="`key` from expansion_opportunities; default: largest."),
    ] = None,
) -> dict[str, Any]:
    """Propose an expansion hand-off to Sales for one detected opportunity of an account.

    Creates a PROPOSAL only (status "proposed"); a person reviews and approves it in Slack
    before anything reaches Sales. Evidence, estimated ARR and talk track come from the data.
    Only propose when the user asked for it; at most a few per request.
    """
    ctx.claim_write()
    with session_scope(ctx.sessions) as session:
        acct = resolve(session, account)
        account_id = account_id_of(acct)
        opps = expansion_for(
            session, as_of=ctx.as_of, config=ctx.config, account_ids=[account_id]
        ).get(account_id, [])
        if opportunity_key is not None:
            opps = [o for o in opps if o.key == opportunity_key]
        if not opps:
            raise ToolError(
                f"No matching expansion opportunity for {acct.name}; a hand-off needs evidence "
                "from the data (see expansion_opportunities)."
            )
        best = max(opps, key=lambda o: o.estimated_arr)
        view = handoff_draft.propose_handoff(
            session, opportunity=best, thread_key=ctx.thread_key, proposed_by=ctx.user_id
        )
    ctx.created.append(CreatedRecord("handoff_proposal", view.proposal_id, account_id, view.title))
    return {
        **label(acct),
        **view.model_dump(),
        "note": "Proposal only: a person must approve it before it is sent to Sales.",
    }
