"""The tool registry: schemas from signatures, validation, errors, output size, the real tools."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field
from sqlmodel import col, select

from bot.agent import system_blocks
from bot.harness.fake_anthropic import MIN_CACHEABLE_TOKENS, estimate_tokens
from tests.utils.agent_book import INJECTION, TODAY, seed_book
from tools import db
from tools.agent_tools import default_registry
from tools.models import HandoffProposal, QbrDraft
from tools.registry import (
    MAX_OUTPUT_CHARS,
    Registry,
    ToolContext,
    ToolError,
    make_tool,
    to_compact_json,
)
from tools.scoring_config import ScoringConfig, load_config

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
EXPECTED_TOOLS = {
    "find_accounts",
    "account_overview",
    "account_health",
    "churn_risk",
    "lean_waste",
    "feature_adoption",
    "expansion_opportunities",
    "portfolio_metrics",
    "renewals_in_window",
    "customer_voice",
    "score_movers",
    "account_tickets",
    "quiet_accounts_list",
    "onboarding_status",
    "draft_qbr",
    "revise_qbr_section",
    "propose_expansion_handoff",
}


def sample(
    ctx: ToolContext,
    *,
    account: Annotated[str, Field(min_length=1, description="Which account.")],
    kind: Literal["muda", "mura"] | None = None,
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """A sample tool.

    Second paragraph.
    """
    if account == "bad":
        raise ToolError("No account matches 'bad'.")
    return {"account": account, "kind": kind, "limit": limit, "items": list(range(limit))}


def offline_ctx() -> ToolContext:
    def no_db() -> Any:
        raise AssertionError("sample tools do not use the database")

    return ToolContext(sessions=no_db, as_of=TODAY, config=ScoringConfig())


# -- schema and dispatch -----------------------------------------------------------------------


def test_schema_comes_from_the_signature() -> None:
    tool = make_tool(sample)
    assert tool.name == "sample"
    assert tool.description == "A sample tool.\n\nSecond paragraph."
    assert tool.input_schema() == {
        "type": "object",
        "additionalProperties": False,
        "required": ["account"],
        "properties": {
            "account": {"type": "string", "minLength": 1, "description": "Which account."},
            "kind": {
                "anyOf": [{"type": "string", "enum": ["muda", "mura"]}, {"type": "null"}],
                "default": None,
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        },
    }


def test_tool_definitions_are_rejected_when_malformed() -> None:
    def positional(ctx: ToolContext, account: str) -> None:
        """Doc."""

    def undocumented(ctx: ToolContext) -> None:
        pass

    def no_ctx(*, account: str) -> None:
        """Doc."""

    for func in (positional, undocumented, no_ctx):
        with pytest.raises(ValueError, match=func.__name__):
            make_tool(func)


def test_call_validates_before_running() -> None:
    registry = Registry([make_tool(sample)])
    ctx = offline_ctx()

    ok = registry.call("sample", {"account": "acme", "limit": 2}, ctx)
    assert not ok.is_error
    assert json.loads(ok.content) == {"account": "acme", "limit": 2, "items": [0, 1]}

    for bad in ({"account": ""}, {"account": "a", "limit": 0}, {"account": "a", "x": 1}, {}):
        result = registry.call("sample", bad, ctx)
        assert result.is_error
        assert result.content.startswith("Invalid input for sample")

    missing = registry.call("sample", {"account": "bad"}, ctx)
    assert (missing.is_error, missing.content) == (True, "No account matches 'bad'.")
    assert registry.call("nope", {}, ctx).is_error


def test_output_is_compact_and_capped() -> None:
    big = {"rows": [{"account": f"Account {i}", "score": i / 3} for i in range(2000)]}
    text = to_compact_json(big)
    assert len(text) <= MAX_OUTPUT_CHARS
    data = json.loads(text)
    assert data["rows"][-1].endswith("more")
    assert data["rows"][-1].startswith("…and ")
    assert data["rows"][1] == {"account": "Account 1", "score": 0.33}
    assert ", " not in to_compact_json({"a": [1, 2]})


def test_default_registry_has_the_tools_claude_needs() -> None:
    registry = default_registry()
    assert set(registry.names()) == EXPECTED_TOOLS
    writes = {t.name for t in registry.tools.values() if t.writes}
    assert writes == {"draft_qbr", "revise_qbr_section", "propose_expansion_handoff"}
    for definition in registry.definitions():
        assert TOOL_NAME.match(definition["name"])
        assert definition["input_schema"]["type"] == "object"
        assert len(definition["description"]) > 40
        assert not re.search(r"send|post|publish|approve", definition["name"])
    assert registry.definitions()[-1]["cache_control"] == {"type": "ephemeral"}


def test_cached_prefix_is_long_enough_to_cache() -> None:
    prefix = {"tools": default_registry().definitions(), "system": system_blocks()}
    assert estimate_tokens(prefix) >= 2 * MIN_CACHEABLE_TOKENS


# -- the real tools on a small demo book ------------------------------------------------------


@pytest.fixture(scope="module")
def book_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    path = tmp_path_factory.mktemp("book") / "book.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    seed_book(db.session_factory(engine))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def book(book_template: Path, tmp_path: Path) -> Iterator[db.SessionFactory]:
    path = tmp_path / "book.db"
    shutil.copy(book_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    yield db.session_factory(engine)
    engine.dispose()


def ctx_for(sessions: db.SessionFactory) -> ToolContext:
    return ToolContext(
        sessions=sessions, as_of=TODAY, config=load_config(), thread_key="T1", user_id="U1"
    )


def call(ctx: ToolContext, name: str, **args: Any) -> Any:
    result = default_registry().call(name, args, ctx)
    assert not result.is_error, result.content
    return json.loads(result.content)


def test_read_tools_answer_from_the_scoring_engine(book: db.SessionFactory) -> None:
    ctx = ctx_for(book)
    assert call(ctx, "find_accounts", query="acme")["matches"][0]["external_id"] == "acme"
    health = call(ctx, "account_health", account="Acme Corp")
    assert health["band"] in {"GREEN", "AMBER", "RED"}
    assert health["drivers"]
    assert len(health["history"]) == 3
    assert call(ctx, "churn_risk")["count"] >= 1
    assert "level" in call(ctx, "churn_risk", account="globex")
    assert "findings" in call(ctx, "lean_waste")
    assert call(ctx, "feature_adoption", account="acme")["features"]
    assert "opportunities" in call(ctx, "expansion_opportunities")
    assert call(ctx, "portfolio_metrics")["active_accounts"] > 0
    assert "renewals" in call(ctx, "renewals_in_window", days=120)
    for name in EXPECTED_TOOLS:  # every output fits the cap
        assert len(default_registry().call(name, {"account": "acme"}, ctx).content) <= 8000


def test_account_text_is_wrapped_as_untrusted(book: db.SessionFactory) -> None:
    overview = call(ctx_for(book), "account_overview", account="acme")
    texts = [t["untrusted_text"] for t in overview["recent_tickets"]]
    assert INJECTION in texts
    raw = json.dumps(overview)
    assert raw.count(INJECTION) == 1
    assert f'"untrusted_text": "{INJECTION}"' in raw


def test_unknown_account_gives_suggestions(book: db.SessionFactory) -> None:
    result = default_registry().call("account_health", {"account": "acme crop"}, ctx_for(book))
    if result.is_error:  # fuzzy matching may resolve it; either way no traceback
        assert "acme" in result.content.lower()
    missing = default_registry().call("account_overview", {"account": "zzzzqqq"}, ctx_for(book))
    assert missing.is_error
    assert missing.content.startswith("No account matches 'zzzzqqq'.")


def test_qbr_draft_and_revision_are_versions(book: db.SessionFactory) -> None:
    ctx = ctx_for(book)
    draft = call(ctx, "draft_qbr", account="acme")
    assert draft["version"] == 1
    assert {
        "health_summary",
        "roi_impact",
        "adoption_scorecard",
        "expansion_next_steps",
    } <= set(draft["sections"])
    assert "/100" in draft["sections"]["health_summary"]
    revised = call(
        ctx, "revise_qbr_section", account="acme", section="roi_impact", text="**New ROI**"
    )
    assert revised["version"] == 2
    with book() as s:
        rows = s.exec(select(QbrDraft).order_by(col(QbrDraft.version))).all()
    assert [r.version for r in rows] == [1, 2]
    assert rows[1].sections["roi_impact"] == "**New ROI**"
    assert rows[1].sections["health_summary"] == rows[0].sections["health_summary"]
    assert all(r.status == "draft" for r in rows)
    assert [c.kind for c in ctx.created] == ["qbr_draft", "qbr_draft"]


def test_handoff_proposals_are_idempotent_and_only_proposed(book: db.SessionFactory) -> None:
    ctx = ctx_for(book)
    pipeline = call(ctx, "expansion_opportunities")["opportunities"]
    assert pipeline, "the demo book has expansion stories"
    target = pipeline[0]
    first = call(
        ctx, "propose_expansion_handoff", account=target["account"], opportunity_key=target["key"]
    )
    again = call(
        ctx, "propose_expansion_handoff", account=target["account"], opportunity_key=target["key"]
    )
    assert (first["created"], again["created"]) == (True, False)
    assert first["status"] == "proposed"
    assert first["proposal_id"] == again["proposal_id"]
    with book() as s:
        rows = s.exec(select(HandoffProposal)).all()
    assert [(r.status, r.key) for r in rows] == [("proposed", target["key"])]


def test_write_budget_per_turn(book: db.SessionFactory) -> None:
    ctx = ctx_for(book)
    ctx.max_writes = 1
    registry = default_registry()
    assert not registry.call("draft_qbr", {"account": "acme"}, ctx).is_error
    second = registry.call("draft_qbr", {"account": "globex"}, ctx)
    assert second.is_error
    assert "At most 1" in second.content
