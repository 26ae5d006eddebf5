"""/health's voice section with Claude naming the themes in the background (fake API)."""

from __future__ import annotations

from sqlmodel import Session

from bot.harness.fake_anthropic import FakeMessagesAPI
from bot.voc_blocks import NAMED_BY_CLAUDE, health_voice, labels_written, theme_labeller
from tests.tools.voc.test_labels import MODEL, name_by_first_term
from tests.tools.voc.test_report import AS_OF, seed
from tools import db


def test_the_card_never_waits_for_claude_and_shows_its_names_next_time(
    session: Session, sessions: db.SessionFactory
) -> None:
    unhappy, _ = seed(session)
    session.commit()
    fake = FakeMessagesAPI()
    fake.enqueue_responder(name_by_first_term)
    client = fake.client()
    labeller = theme_labeller(client, MODEL, sessions=sessions)
    assert theme_labeller(client, MODEL, sessions=sessions) is labeller  # one per client
    account = unhappy.id or 0

    first = health_voice(session, account, AS_OF, labeller=labeller)
    assert first is not None
    assert "About" not in first["text"]["text"]  # the top words, at once
    assert NAMED_BY_CLAUDE not in first["text"]["text"]
    labels_written()
    assert len(fake.requests) == 1

    session.expire_all()
    second = health_voice(session, account, AS_OF, labeller=labeller)
    assert second is not None
    text = second["text"]["text"]
    assert "*About reorg*" in text
    assert NAMED_BY_CLAUDE in text
    labels_written()
    assert len(fake.requests) == 1  # named once, then from the cache
    assert theme_labeller(None, MODEL, sessions=sessions) is None
