"""``make bench``'s Claude tasks run to the end: a QBR draft names its voice-of-the-customer themes
through the same client on the side, and the scripted agent calls still get their replies."""

from __future__ import annotations

import json

from bench.bench_agent import TASKS, TODAY, _run_task, _theme_names
from bot.harness.fake_anthropic import FakeMessagesAPI
from tools import db
from tools.demo import generate_demo


def test_side_calls_do_not_take_the_scripted_replies() -> None:
    fake = FakeMessagesAPI()
    fake.side = _theme_names
    fake.enqueue_text("the agent's answer")
    client = fake.client()
    label = client.messages.create(
        model="m",
        max_tokens=50,
        messages=[{"role": "user", "content": "Name them.\nParts to write: t1, t2.\n<evidence/>"}],
    )
    assert json.loads(label.content[0].text) == {  # type: ignore[union-attr]
        "t1": "Customer theme A",
        "t2": "Customer theme B",
    }
    answer = client.messages.create(
        model="m", max_tokens=50, messages=[{"role": "user", "content": "How is Acme?"}]
    )
    assert answer.content[0].text == "the agent's answer"  # type: ignore[union-attr]
    assert fake.pending == 0
    assert fake.unscripted_calls == 0


def test_the_qbr_task_does_not_fall_back(sessions: db.SessionFactory) -> None:
    generate_demo(session_factory=sessions, today=TODAY, accounts=40, months=4)
    measured = _run_task(sessions, "qbr_draft_and_revision", TASKS["qbr_draft_and_revision"])
    calls = next(m for m in measured if m.name.endswith(".model_calls"))
    assert calls.value == 4  # two turns, a tool call and an answer each
