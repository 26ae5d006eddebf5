"""A scripted Claude for the agent tests: three small tools and an ``Agent`` wired to the fake
Messages API (``bot.harness.fake_anthropic``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field

from bot.agent import Agent
from bot.harness.fake_anthropic import FakeMessagesAPI
from tools import db
from tools.registry import Registry, ToolContext, ToolError, make_tool
from tools.scoring_config import ScoringConfig

TODAY = date(2026, 3, 31)
FALLBACK_TEXT = "FALLBACK: try /health <account>"


def account_score(
    ctx: ToolContext, *, account: Annotated[str, Field(min_length=1)]
) -> dict[str, Any]:
    """The health score of an account (test tool)."""
    if account == "nobody":
        raise ToolError("No account matches 'nobody'.")
    return {"account": account, "score": 61, "band": "AMBER", "as_of": ctx.as_of}


def portfolio(ctx: ToolContext, *, limit: int = 3) -> dict[str, Any]:
    """Portfolio numbers (test tool)."""
    return {"accounts": 240, "limit": limit}


def explode(ctx: ToolContext) -> dict[str, Any]:
    """Always fails with an internal error (test tool)."""
    raise RuntimeError("secret internal detail sk-ant-should-not-leak")


def tiny_registry() -> Registry:
    return Registry([make_tool(account_score), make_tool(portfolio), make_tool(explode)])


def make_agent(
    fake: FakeMessagesAPI,
    sessions: db.SessionFactory,
    *,
    max_retries: int = 0,
    registry: Registry | None = None,
    **kwargs: Any,
) -> Agent:
    return Agent(
        client=fake.client(max_retries=max_retries),
        session_factory=sessions,
        clock=lambda: TODAY,
        config=ScoringConfig(),
        registry=registry or tiny_registry(),
        model="claude-test-model",
        fallback=lambda text, user: FALLBACK_TEXT,
        **kwargs,
    )
