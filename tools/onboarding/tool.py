"""The ``onboarding_status`` tool for Claude and MCP (registered in ``tools/agent_tools/``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from tools import accounts as account_lookup
from tools.db import session_scope
from tools.onboarding.progress import onboarding_progress
from tools.registry import ToolContext


def onboarding_status(
    ctx: ToolContext,
    *,
    account: Annotated[
        str | None,
        Field(max_length=200, description="One account; omit for every account onboarding."),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=50, description="Most accounts to return.")] = 20,
) -> dict[str, Any]:
    """Onboarding and time to value. With `account`: its onboarding start, age in days, each
    milestone (first activity, active users, features adopted, integration) with the day it was
    reached or its due day and status (done/pending/overdue), and days to first value. Without:
    every account still inside the onboarding window, overdue ones first.
    """
    onboarding = ctx.config.onboarding
    with session_scope(ctx.sessions) as session:
        ids = None
        if account is not None:
            ids = [int(account_lookup.resolve_account(session, query=account).id or 0)]
        progress = onboarding_progress(
            session,
            as_of=ctx.as_of,
            config=onboarding,
            account_ids=ids,
            only_onboarding=account is None,
        )
    rows = sorted(progress.values(), key=lambda p: (not p.overdue, p.age_days, p.account))
    return {
        "as_of": ctx.as_of,
        "window_days": onboarding.window_days,
        "first_value_milestone": onboarding.first_value,
        "count": len(rows),
        "overdue": sum(1 for p in rows if p.overdue),
        "accounts": [p.model_dump(exclude={"account_id"}) for p in rows[:limit]],
    }
