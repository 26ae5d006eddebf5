"""Every surface that shows themes names them the same way (``bot.voc_blocks.theme_labeller``):
Claude's checked name with a client, the top words without one. Claude is the fake Messages API
at the HTTP boundary; its names are untrusted text, escaped on the way to Slack."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import anyio
from mcp import Client
from sqlmodel import Session

from bot.agent import Agent
from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.mcp.server import McpSettings, build_server
from bot.qbr_thread import documents_of
from bot.voc_blocks import theme_labeller
from tests.tools.voc.test_labels import MODEL, evidence_of, name_by_first_term
from tests.tools.voc.test_report import AS_OF, seed
from tests.utils.factories import make_contract
from tools import db
from tools.agent_tools import default_registry
from tools.qbr import build_qbr
from tools.registry import ToolContext
from tools.scoring_config import load_config
from tools.voc import reference

CONFIG = load_config(None)


def _unhappy(session: Session) -> int:
    """Seeded voice (reorg and price comments, bugs tickets) on an account with a contract."""
    unhappy, happy = seed(session)
    for account in (unhappy, happy):
        start = AS_OF - timedelta(days=200)
        make_contract(session, account=account, start=start, end=start + timedelta(days=365))
    session.commit()
    reference.clear()
    return unhappy.id or 0


def naming(name: Any) -> FakeMessagesAPI:
    fake = FakeMessagesAPI()
    for _ in range(4):
        fake.enqueue_responder(name)
    return fake


def _qbr(session: Session, account_id: int, client: Any) -> tuple[str, str]:
    doc = build_qbr(
        session,
        account_id=account_id,
        as_of=AS_OF,
        config=CONFIG,
        labeller=theme_labeller(client, MODEL),
    )
    return doc.prep["prep.themes"], doc.health.voice


def test_qbr_prep_and_health_voice_show_claudes_names_and_top_words_without_a_key(
    session: Session,
) -> None:
    account = _unhappy(session)
    fake = naming(name_by_first_term)
    prep, health = _qbr(session, account, fake.client())
    assert "**About reorg**" in prep
    assert "**About reorg**" in health
    assert "**About price**" in prep

    plain_prep, plain_health = _qbr(session, account, None)
    assert "About" not in plain_prep
    assert "About" not in plain_health
    assert "**reorg" in plain_prep  # the top words, led by the theme's first term


def test_claudes_names_in_the_qbr_prep_are_escaped_on_the_way_to_slack(session: Session) -> None:
    account = _unhappy(session)

    def hostile(request: dict[str, Any]) -> dict[str, Any]:
        themes = evidence_of(request)["themes"]
        names = {part: f"<!here> _{t['terms'][0]}_ pain" for part, t in themes.items()}
        return {"content": [{"type": "text", "text": json.dumps(names)}]}

    prep, _ = _qbr(session, account, naming(hostile).client())
    assert r"\<!here\> \_reorg\_ pain" in prep  # markdown-escaped in the document
    reply = documents_of({}, {"prep.themes": prep}, "Unhappy Co")[0]
    posted = "\n".join(str(b["text"]["text"]) for b in reply.blocks if b["type"] == "section")
    assert "<!here>" not in posted
    assert r"\&lt;!here\&gt; \_reorg\_ pain" in posted  # then escaped for mrkdwn


def _voice(sessions: db.SessionFactory, client: Any, **arguments: Any) -> dict[str, Any]:
    ctx = ToolContext(
        sessions=sessions,
        as_of=AS_OF,
        config=CONFIG,
        theme_labeller=theme_labeller(client, MODEL),
    )
    result = default_registry().call("customer_voice", arguments, ctx)
    assert not result.is_error, result.content
    return dict(json.loads(result.content))


def test_customer_voice_shows_claudes_names_and_top_words_without_a_key(
    session: Session, sessions: db.SessionFactory
) -> None:
    account = _unhappy(session)
    fake = naming(name_by_first_term)
    named = _voice(sessions, fake.client(), account="Unhappy Co")
    labels = {t["label"]: t["label_source"] for t in named["themes"]}
    assert labels["About reorg"] == "claude"
    assert all(t["label"] == f"About {t['terms'][0]}" for t in named["themes"])
    plain = _voice(sessions, None, account="Unhappy Co")
    assert all(t["label"] == " · ".join(t["terms"]) for t in plain["themes"])
    assert all(t["label_source"] == "top words" for t in plain["themes"])
    assert account


def test_a_name_with_a_number_its_theme_lacks_leaves_the_top_words(
    session: Session, sessions: db.SessionFactory
) -> None:
    _unhappy(session)

    def counting(request: dict[str, Any]) -> dict[str, Any]:
        themes = evidence_of(request)["themes"]
        names = {part: f"{t['terms'][0]} hit 97 teams" for part, t in themes.items()}
        return {"content": [{"type": "text", "text": json.dumps(names)}]}

    fake = naming(counting)
    voice = _voice(sessions, fake.client())
    assert len(fake.requests) == 2  # asked once more, naming the number
    assert all(t["label"] == " · ".join(t["terms"]) for t in voice["themes"])
    assert all("97" not in t["label"] for t in voice["themes"])


def test_customer_voice_over_mcp_shows_claudes_names(
    session: Session, sessions: db.SessionFactory
) -> None:
    _unhappy(session)
    fake = naming(name_by_first_term)
    settings = McpSettings(
        sessions=sessions,
        config=CONFIG,
        today=lambda: AS_OF,
        theme_labeller=theme_labeller(fake.client(), MODEL),
    )
    server = build_server(settings)

    async def main() -> Any:
        async with Client(server) as client:
            return await client.call_tool("customer_voice", {"limit": 3})

    result = anyio.run(main)
    themes = json.loads(result.content[0].text)["themes"]
    assert themes
    assert all(t["label"] == f"About {t['terms'][0]}" for t in themes)
    assert all(t["label_source"] == "claude" for t in themes)


def test_the_agent_gives_its_tool_call_claudes_names(
    session: Session, sessions: db.SessionFactory
) -> None:
    _unhappy(session)
    fake = FakeMessagesAPI()
    fake.enqueue_tool_use([("customer_voice", {"account": "Unhappy Co"})])
    fake.enqueue_responder(name_by_first_term)  # the tool's labeller, same client
    fake.enqueue_text("Reorg and price.")
    agent = Agent(
        client=fake.client(),
        session_factory=sessions,
        clock=lambda: AS_OF,
        config=CONFIG,
        model=MODEL,
    )
    result = agent.run_turn("T-voc", "what do they say?", user_id=None)
    assert result.text == "Reorg and price."
    tool_result = fake.requests[2]["messages"][2]["content"][0]
    assert tool_result["type"] == "tool_result"
    assert "About reorg" in json.dumps(tool_result)
