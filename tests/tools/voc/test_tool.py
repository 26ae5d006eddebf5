"""``customer_voice`` through the registry (what Claude and MCP call) and on the health card."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session

from bot.voc_blocks import health_voice, voice_section
from tests.tools.voc.test_report import AS_OF, HOSTILE, seed
from tests.utils.factories import make_account, make_nps
from tools import db
from tools.agent_tools import default_registry
from tools.registry import ToolContext
from tools.scoring_config import load_config


def call(sessions: db.SessionFactory, **arguments: object) -> tuple[bool, str]:
    ctx = ToolContext(sessions=sessions, as_of=AS_OF, config=load_config(None))
    result = default_registry().call("customer_voice", arguments, ctx)
    return result.is_error, result.content


def test_portfolio_and_account_through_the_registry(
    session: Session, sessions: db.SessionFactory
) -> None:
    seed(session)
    session.commit()
    failed, text = call(sessions)
    assert not failed
    portfolio = json.loads(text)
    assert portfolio["scope"] == "portfolio"
    assert portfolio["items"] == 48
    failed, text = call(sessions, account="unhappy", window_days=30, limit=1)
    assert not failed
    account = json.loads(text)
    assert account["scope"] == "Unhappy Co"
    assert len(account["themes"]) == 1


def test_bad_arguments_and_unknown_accounts_are_short_errors(sessions: db.SessionFactory) -> None:
    assert call(sessions, window_days=3)[0]
    assert call(sessions, since="yesterday")[0]
    failed, text = call(sessions, account="nobody-at-all")
    assert failed
    assert "No account matches" in text


def test_hostile_comment_is_fenced_in_the_tool_and_escaped_on_the_card(
    session: Session, sessions: db.SessionFactory
) -> None:
    account = make_account(session, name="Evil <b> Corp", external_id="evil")
    for n in range(8):
        make_nps(session, account=account, day=AS_OF - timedelta(days=n), score=0, comment=HOSTILE)
    session.commit()
    data = json.loads(call(sessions, account="evil")[1])
    assert data["latest"][0]["untrusted_text"] == HOSTILE
    block = health_voice(session, account.id or 0, AS_OF)
    assert block is not None
    text = block["text"]["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "<https://" not in text


def test_no_voice_no_section(session: Session) -> None:
    account = make_account(session, external_id="silent")
    assert health_voice(session, account.id or 0, AS_OF) is None


def test_section_lists_themes_then_latest_comments(session: Session) -> None:
    from tools.voc import voice_of_customer

    seed(session)
    block = voice_section(voice_of_customer(session, as_of=AS_OF, window_days=90))
    assert block is not None
    text = block["text"]["text"]
    assert text.startswith("*Voice of the customer* (90 days: 36 NPS, 12 ticket)")
    assert "_(tickets)_" in text
    assert text.count("“") == 2


def test_digest_section_shows_portfolio_themes_with_their_change(session: Session) -> None:
    from bot.voc_blocks import digest_voice
    from tests.tools.voc.test_themes import PLANTED

    account = make_account(session, name="Trend <Co>", external_id="trend")
    for n, text in enumerate(PLANTED["bugs"] * 3):
        make_nps(session, account=account, day=AS_OF - timedelta(days=1 + n), score=3, comment=text)
    for n, text in enumerate(PLANTED["support"] * 2):
        make_nps(
            session, account=account, day=AS_OF - timedelta(days=30 + n), score=9, comment=text
        )
    block = digest_voice(session, AS_OF)
    assert block is not None
    text = block["text"]["text"]
    assert text.startswith("*Voice of the customer* (last 28 days vs the 28 before; 12 NPS)")
    assert "-8 vs the previous window" in text  # support: 8 before, none now
    assert "Trend &lt;Co&gt;" in text


def test_markdown_escapes_quotes_and_keeps_the_numbers(session: Session) -> None:
    from tools.voc import voice_of_customer
    from tools.voc.render import voice_markdown

    account = make_account(session, external_id="md")
    for n in range(8):
        comment = "[click](https://evil.example) **now** <script>" if n == 0 else "Great support"
        make_nps(
            session, account=account, day=AS_OF - timedelta(days=1 + n), score=2, comment=comment
        )
    report = voice_of_customer(session, as_of=AS_OF, window_days=30, account_ids=[account.id or 0])
    text = voice_markdown(report)
    assert "Over the last 30 days (8 nps):" in text
    assert "\\[click\\](https://evil.example) \\*\\*now\\*\\* \\<script\\>" in text
    assert "<script>" not in text
