"""Claude's tools for the questions behind the keyless router's newer asks: what moved a score,
an account's tickets, who has gone quiet. They call ``tools.insights``, as the router does, so
Claude and the router give the same numbers. Ticket subjects are wrapped as ``untrusted_text``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from tools import accounts as account_lookup
from tools.agent_tools.common import AccountArg
from tools.db import session_scope
from tools.insights import quiet_accounts, score_change, ticket_summary
from tools.registry import ToolContext


def score_movers(
    ctx: ToolContext,
    *,
    account: AccountArg,
    days: Annotated[int, Field(ge=7, le=365)] = 30,
) -> dict[str, Any]:
    """Why an account's health score moved: the score now and ``days`` ago, the change, and
    the signals whose contribution moved it most (negative first). Use for "why did X drop"."""
    with session_scope(ctx.sessions) as session:
        acct = account_lookup.resolve_account(session, query=account)
        change = score_change(
            session, account_id=acct.id or 0, as_of=ctx.as_of, config=ctx.config, days=days
        )
    return {"account": acct.name, **change.model_dump(mode="json")}


def account_tickets(
    ctx: ToolContext,
    *,
    account: AccountArg,
    days: Annotated[int, Field(ge=7, le=365)] = 90,
) -> dict[str, Any]:
    """An account's support tickets over the last ``days`` days: opened, open now, urgent open,
    escalated, by priority, average sentiment, median days to close, recent subjects."""
    with session_scope(ctx.sessions) as session:
        acct = account_lookup.resolve_account(session, query=account)
        summary = ticket_summary(session, account_id=acct.id or 0, as_of=ctx.as_of, days=days)
    data = summary.model_dump(mode="json", exclude={"untrusted_subjects"})
    data["recent"] = [{"untrusted_text": s} for s in summary.untrusted_subjects]
    return {"account": acct.name, **data}


def quiet_accounts_list(
    ctx: ToolContext,
    *,
    days: Annotated[int, Field(ge=1, le=365)] = 30,
    owner_slack_id: Annotated[
        str | None, Field(max_length=32, description="Only this owner's accounts ('my').")
    ] = None,
    segment: Annotated[str | None, Field(max_length=32)] = None,
    limit: Annotated[int, Field(ge=1, le=50)] = 20,
) -> dict[str, Any]:
    """Active accounts with no product activity (logins or active users, per the scoring
    config's activity measure) in the last ``days`` days, longest silence first."""
    with session_scope(ctx.sessions) as session:
        quiet = quiet_accounts(
            session,
            as_of=ctx.as_of,
            days=days,
            owner_slack_id=owner_slack_id,
            segment=segment,
            config=ctx.config,
        )
    return {
        "as_of": ctx.as_of.isoformat(),
        "days": days,
        "count": len(quiet),
        "accounts": [
            {
                "account": q.account.name,
                "last_active": q.last_active.isoformat() if q.last_active else None,
                "days_since_active": q.days_since_active,
                "arr": str(q.account.arr),
            }
            for q in quiet[:limit]
        ],
    }


INSIGHT_TOOLS = (score_movers, account_tickets, quiet_accounts_list)
