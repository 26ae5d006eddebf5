"""Claude loop cost per task, with a scripted model that behaves like a sensible one.

Three tasks run through the real SDK, the real tools and a demo book (240 accounts, 12 months):
a single-account health question, an at-risk question, and a QBR draft plus one revision.
Model calls are exact. Tokens are ESTIMATES made by the fake from the real request bodies
(JSON characters / 4); prompt caching is simulated (≥512-token prefix with cache_control).
Target: ≤ 2 model calls for a single-account health question.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import Measurement
from bot.agent import Agent, TurnResult
from bot.harness.fake_anthropic import FakeMessagesAPI
from tools import db
from tools.demo import generate_demo
from tools.scoring_config import load_config

TODAY = date(2026, 3, 31)
Script = Callable[[FakeMessagesAPI], None]


def _last_tool_result(request: dict[str, Any]) -> Any:
    block = request["messages"][-1]["content"][0]
    return json.loads(block["content"])


def _answer(render: Callable[[Any], str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def respond(request: dict[str, Any]) -> dict[str, Any]:
        text = render(_last_tool_result(request))
        return {"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}

    return respond


def _health_script(fake: FakeMessagesAPI) -> None:
    fake.enqueue_tool_use([("account_overview", {"account": "acme"})], thinking="overview")
    fake.enqueue_responder(
        _answer(
            lambda r: (
                f"*{r['account']['name']}* is *{r['health']['band']}* at "
                f"{r['health']['score']}/100; churn risk {r['churn']['level']}."
            )
        )
    )


def _at_risk_script(fake: FakeMessagesAPI) -> None:
    fake.enqueue_tool_use([("churn_risk", {"limit": 10})])
    fake.enqueue_responder(
        _answer(
            lambda r: "\n".join(
                f"• {a['account']}: {a['band']} {a['score']}, {a['level']} risk"
                for a in r["accounts"]
            )
        )
    )


def _qbr_script(fake: FakeMessagesAPI) -> None:
    fake.enqueue_tool_use([("draft_qbr", {"account": "acme"})])
    fake.enqueue_responder(_answer(lambda r: f"Draft v{r['version']} is ready."))


def _revision_script(fake: FakeMessagesAPI) -> None:
    fake.enqueue_tool_use(
        [
            (
                "revise_qbr_section",
                {"account": "acme", "section": "roi_impact", "text": "Shorter ROI section."},
            )
        ]
    )
    fake.enqueue_responder(_answer(lambda r: f"Updated {r['section']} (v{r['version']})."))


def _theme_names(request: dict[str, Any]) -> dict[str, Any] | None:
    """Claude naming voice-of-the-customer themes (``tools.voc.labels``), which a QBR draft asks
    on the side once per uncached theme: plain names for the parts asked; None for the agent's
    own calls, which the task's script answers."""
    content = request["messages"][-1]["content"]
    if not isinstance(content, str) or "Parts to write:" not in content:
        return None
    asked = content.split("Parts to write:", 1)[1].split("\n", 1)[0].strip(" .")
    parts = [p.strip() for p in asked.split(",") if p.strip()]
    names = {p: f"Customer theme {chr(ord('A') + k % 26)}" for k, p in enumerate(parts)}
    return {"content": [{"type": "text", "text": json.dumps(names)}], "stop_reason": "end_turn"}


TASKS: dict[str, list[tuple[str, Script]]] = {
    "health_question": [("How is Acme doing?", _health_script)],
    "at_risk_question": [("Which accounts are at risk?", _at_risk_script)],
    "qbr_draft_and_revision": [
        ("Draft the QBR for Acme", _qbr_script),
        ("Make the ROI section shorter", _revision_script),
    ],
}


def _book(workdir: Path) -> db.SessionFactory:
    path = workdir / "bench_agent.db"
    engine = db.make_engine(f"sqlite:///{path}")
    fresh = not path.exists() or db.current_revision(engine) != db.head_revision(engine)
    if fresh:
        engine.dispose()
        path.unlink(missing_ok=True)
        engine = db.make_engine(f"sqlite:///{path}")
        db.upgrade(engine)
    sessions = db.session_factory(engine)
    if fresh:
        generate_demo(session_factory=sessions, today=TODAY, accounts=240, months=12)
    return sessions


def _run_task(
    sessions: db.SessionFactory, name: str, turns: list[tuple[str, Script]]
) -> list[Measurement]:
    fake = FakeMessagesAPI()
    fake.side = _theme_names
    agent = Agent(
        client=fake.client(),
        session_factory=sessions,
        clock=lambda: TODAY,
        config=load_config(),
    )
    results: list[TurnResult] = []
    started = time.perf_counter()
    for text, script in turns:
        script(fake)
        results.append(agent.run_turn(f"bench:{name}:{time.time_ns()}", text, user_id="UBENCH"))
    elapsed = time.perf_counter() - started
    if any(r.fell_back for r in results):
        raise RuntimeError(f"bench task {name} fell back: {[r.text for r in results]}")
    calls = sum(r.usage.model_calls for r in results)
    fresh_in = sum(r.usage.input_tokens + r.usage.cache_write_tokens for r in results)
    cached = sum(r.usage.cache_read_tokens for r in results)
    out = sum(r.usage.output_tokens for r in results)
    request_chars = sum(len(json.dumps(body)) for body in fake.requests)
    note = "estimate: request JSON chars/4 (fake)"
    target = " (target ≤ 2)" if name == "health_question" else ""
    return [
        Measurement(f"agent.{name}.model_calls", calls, "calls", f"{len(turns)} turn(s){target}"),
        Measurement(f"agent.{name}.input_tokens_uncached", fresh_in, "tokens", note),
        Measurement(f"agent.{name}.input_tokens_cached", cached, "tokens", note),
        Measurement(f"agent.{name}.output_tokens", out, "tokens", note),
        Measurement(f"agent.{name}.request_chars", request_chars, "chars", "real request bodies"),
        Measurement(f"agent.{name}.wall_time", elapsed * 1000, "ms", "tools + SDK, fake model"),
    ]


def run(workdir: Path) -> list[Measurement]:
    """Model calls and (estimated) tokens for the three agent tasks."""
    sessions = _book(workdir)
    measurements: list[Measurement] = []
    for name, turns in TASKS.items():
        measurements.extend(_run_task(sessions, name, turns))
    return measurements
