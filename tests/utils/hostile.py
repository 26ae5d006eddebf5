"""A hostile-strings corpus and a checker for what reached the fake Slack."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from bot.harness import SlackCall

HOSTILE: tuple[str, ...] = (
    "<!channel> urgent",
    "<!here>",
    "<!everyone> read this",
    "ping <@U0EVIL666>",
    "<!subteam^S0EVIL|@sales-team>",
    "<https://evil.example|click here>",
    "[click here](https://evil.example/login)",
    "&lt;!channel&gt; & <#C0EVIL>",
    "\u202eevil\u202c שלום עליכם مرحبا",
    "🔥💀👉 <!here|here>",
    "\ue000forged\ue001<!channel>\ue002",
    "long " + "x" * 3000,
)
FORBIDDEN = ("<!", "<@U0EVIL", "<#C0EVIL", "<https://evil", "\ue000", "\ue001", "\ue002")
ALLOWED_ANGLE = re.compile(r"<(?:@[UWB][A-Z0-9]+|#[CGD][A-Z0-9]+|https://[^\s<>|]+(?:\|[^<>]*)?)>")
MARKDOWN_KEYS = frozenset({"markdown_text", "chunks"})


def hostile(i: int) -> str:
    """The ``i``-th hostile string (cycling)."""
    return HOSTILE[i % len(HOSTILE)]


def strings_of(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (key, string) inside a call's parameters, JSON strings decoded."""
    if isinstance(value, str):
        if value[:1] in "[{":
            try:
                yield from strings_of(json.loads(value), key)
                return
            except ValueError:
                pass
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_of(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from strings_of(v, key)


def unescaped(calls: Iterable[SlackCall]) -> list[str]:
    """Every control sequence in ``calls`` that our helpers did not make."""
    found: list[str] = []
    for call in calls:
        for key, text in strings_of(call.params):
            where = f"{call.method}.{key}"
            found += [f"{where}: {bad!r} in {text[:120]!r}" for bad in FORBIDDEN if bad in text]
            stripped = ALLOWED_ANGLE.sub("", text)
            if "<" in stripped or ">" in stripped:
                found.append(f"{where}: stray angle bracket in {text[:160]!r}")
            if key in MARKDOWN_KEYS and "](https://evil" in text:
                found.append(f"{where}: disguised markdown link in {text[:160]!r}")
    return found
