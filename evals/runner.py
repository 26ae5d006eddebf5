"""Run the evaluation set keyless (router + fake model) and, with a key, against real Claude."""

from __future__ import annotations

import html
import json
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from anthropic import Anthropic

from bot.agent import Agent, Usage, load_conversation
from bot.config import Settings
from bot.deps import Deps
from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.router import answer, route
from evals.cases import CASES, Case
from evals.facts import Facts, contains_fact
from tools import db
from tools.demo import generate_demo
from tools.narrative_check import unsupported_numbers
from tools.scoring_config import load_config

TODAY = date(2026, 11, 2)
ACCOUNTS = 30
OWNER = "U0CSM001"
# USD per million tokens: an assumption for the estimate (Sonnet-class list prices), not a quote.
PRICES = {"input": 3.0, "output": 15.0, "cache_read": 0.30, "cache_write": 3.75}


@dataclass
class Outcome:
    """One ask in one mode."""

    case: Case
    mode: str
    tools_ok: bool
    facts_ok: bool
    numbers_ok: bool
    router_ok: bool | None = None
    called: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    model_calls: int = 0
    tokens: int = 0
    cost: float = 0.0

    @property
    def passed(self) -> bool:
        return self.tools_ok and self.facts_ok and self.numbers_ok and self.router_ok is not False


def demo_deps(workdir: Path) -> Deps:
    """A fresh demo database (30 accounts as of TODAY) and the app's dependencies."""
    engine = db.make_engine(f"sqlite:///{workdir / 'eval.db'}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    generate_demo(session_factory=sessions, today=TODAY, accounts=ACCOUNTS)
    return Deps(
        settings=Settings(_env_file=None),
        sessions=sessions,
        clock=lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC),
        config=load_config(),
    )


def _cost(usage: Usage) -> float:
    return (
        usage.input_tokens * PRICES["input"]
        + usage.output_tokens * PRICES["output"]
        + usage.cache_read_tokens * PRICES["cache_read"]
        + usage.cache_write_tokens * PRICES["cache_write"]
    ) / 1_000_000


def _tool_results(deps: Deps, key: str) -> str:
    conversation = load_conversation(deps.sessions, key)
    if conversation is None:
        return ""
    texts = []
    for message in conversation.messages:
        for block in message.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                texts.append(json.dumps(block.get("content"), default=str))
    return "\n".join(texts)


def _agent(deps: Deps, client: Anthropic) -> Agent:
    return Agent(
        client=client,
        session_factory=deps.sessions,
        clock=deps.clock,
        config=deps.config,
        model=deps.settings.anthropic_model,
    )


def _router(case: Case, deps: Deps, facts: list[str]) -> bool | None:
    if case.router is None:
        return None
    intent = replace(route(case.ask), user_id=OWNER)
    if intent.kind.value != case.router:
        return False
    reply = answer(intent, deps)
    shown = reply.text + "\n" + json.dumps(reply.blocks, ensure_ascii=False)
    if reply.thread is not None:
        shown += "\n" + reply.thread.text
    shown = html.unescape(shown)  # Slack text is escaped (&amp;)
    return all(contains_fact(shown, fact) for fact in facts)


def run_keyless(case: Case, deps: Deps, facts: list[str], index: int) -> Outcome:
    """The router, then the Claude loop against the fake model calling the expected tools."""
    fake = FakeMessagesAPI()
    fake.enqueue_tool_use(list(case.tools))

    def compose(body: dict[str, Any]) -> dict[str, Any]:
        results = json.dumps(body["messages"][-1]["content"], default=str)
        found = [fact for fact in facts if contains_fact(results, fact)]
        text = "From the tools: " + ("; ".join(found) if found else "see the details above") + "."
        return {"content": [{"type": "text", "text": text}]}

    fake.enqueue_responder(compose)
    key = f"eval:keyless:{index}"
    result = _agent(deps, fake.client()).run_turn(key, case.ask, user_id=OWNER)
    results = _tool_results(deps, key)
    called = [c.name for c in result.tool_calls]
    missing = [fact for fact in facts if not contains_fact(result.text, fact)]
    invented = unsupported_numbers(result.text.removeprefix("From the tools: "), results)
    return Outcome(
        case=case,
        mode="fake model",
        tools_ok=called == [t for t, _ in case.tools]
        and not any(c.is_error for c in result.tool_calls),
        facts_ok=not missing and not result.fell_back,
        numbers_ok=not invented,
        router_ok=_router(case, deps, facts),
        called=called,
        missing=missing,
        invented=invented,
        model_calls=result.usage.model_calls,
        tokens=result.usage.total_tokens,
        cost=_cost(result.usage),
    )


def run_live(case: Case, deps: Deps, facts: list[str], index: int, client: Anthropic) -> Outcome:
    """The ask to real Claude: its tool choice, the facts in its answer, the number check."""
    key = f"eval:live:{index}:{datetime.now(UTC).timestamp()}"
    result = _agent(deps, client).run_turn(key, case.ask, user_id=OWNER)
    results = _tool_results(deps, key)
    called = [c.name for c in result.tool_calls]
    expected = {t for t, _ in case.tools}
    missing = [fact for fact in facts if not contains_fact(result.text, fact)]
    invented = unsupported_numbers(result.text, [results, case.ask, TODAY.isoformat()])
    return Outcome(
        case=case,
        mode="claude",
        tools_ok=bool(expected & set(called)) and not result.fell_back,
        facts_ok=not missing,
        numbers_ok=not invented,
        called=called,
        missing=missing,
        invented=invented,
        model_calls=result.usage.model_calls,
        tokens=result.usage.total_tokens,
        cost=_cost(result.usage),
    )


def run(*, live_client: Anthropic | None = None, workdir: Path | None = None) -> list[Outcome]:
    """Every case keyless, and live too when a client is given."""
    with tempfile.TemporaryDirectory() as tmp:
        deps = demo_deps(workdir or Path(tmp))
        outcomes: list[Outcome] = []
        with deps.sessions() as session:
            facts_of = Facts(session, as_of=TODAY, config=deps.config)
            expected = [case.facts(facts_of) for case in CASES]
        for i, (case, facts) in enumerate(zip(CASES, expected, strict=True)):
            outcomes.append(run_keyless(case, deps, facts, i))
            if live_client is not None:
                outcomes.append(run_live(case, deps, facts, i, live_client))
        return outcomes
