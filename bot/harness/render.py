"""Block Kit rendered readably for a terminal: pure functions, blocks in, text or rich out.

``render_plain`` gives plain text (tests, logs, ``csbot demo``), ``render_message`` a rich
renderable (``csbot chat``); interactive elements are numbered ``[1]``, ``[2]`` … so that a
person can press them by number (``buttons_in``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.emoji import Emoji
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from bot.harness.block_kit_checks import text_of

Block = Mapping[str, Any]

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]+))?>")
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?P<bold>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]+)~(?![\w~])"
    r"|`(?P<code>[^`\n]+)`"
)
_STYLES = {"bold": "bold", "italic": "italic", "strike": "strike", "code": "cyan"}
_BUTTON_STYLES = {"primary": "bold green", "danger": "bold red"}
# Slack shortcodes that rich spells differently.
_SLACK_EMOJI = re.compile(r":large_(green|yellow|orange|purple|brown)_(circle|square):")
PLAIN_RULE = "-" * 40


# -- mrkdwn -------------------------------------------------------------------------------------


def _link_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):
        return label or target
    if target.startswith("#"):
        return f"#{label}" if label else target
    if target.startswith("!"):
        return "@" + (label or target[1:].split("^")[0])
    return label or target


def _resolve_links(text: str) -> str:
    return html.unescape(_LINK.sub(_link_text, text))


def _emoji(text: str) -> str:
    return Emoji.replace(_SLACK_EMOJI.sub(r":\1_\2:", text))


def mrkdwn_to_plain(text: str) -> str:
    """Slack mrkdwn as plain text: links resolved, emphasis markers dropped."""
    resolved = _resolve_links(text)
    return _EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), resolved)


def mrkdwn_to_rich(text: str, *, base_style: str = "") -> Text:
    """Slack mrkdwn as rich ``Text``: *bold*, _italic_, ~strike~, `code`, links, emoji codes."""
    resolved = _emoji(_resolve_links(text))
    out = Text(style=base_style)
    position = 0
    for match in _EMPHASIS.finditer(resolved):
        out.append(resolved[position : match.start()])
        kind = next(k for k, v in match.groupdict().items() if v is not None)
        out.append(match.group(kind), style=_STYLES[kind])
        position = match.end()
    out.append(resolved[position:])
    return out


def _object_to_plain(obj: Any) -> str:
    """A text object (mrkdwn or plain_text) as plain text."""
    raw = text_of(obj)
    is_mrkdwn = isinstance(obj, Mapping) and obj.get("type") == "mrkdwn"
    return mrkdwn_to_plain(raw) if is_mrkdwn else raw


def _object_to_rich(obj: Any, *, style: str = "") -> Text:
    raw = text_of(obj)
    if isinstance(obj, Mapping) and obj.get("type") == "mrkdwn":
        return mrkdwn_to_rich(raw, base_style=style)
    return Text(_emoji(raw), style=style)


# -- buttons ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """A pressable element of a message, numbered as the terminal shows it."""

    number: int
    label: str
    action_id: str
    value: str
    block_id: str
    style: str = ""


def _interactive_elements(block: Block) -> Iterable[Mapping[str, Any]]:
    accessory = block.get("accessory")
    if isinstance(accessory, Mapping):
        yield accessory
    if block.get("type") == "actions":
        for element in block.get("elements") or []:
            if isinstance(element, Mapping):
                yield element


def buttons_in(blocks: Sequence[Block], *, first: int = 1) -> list[Button]:
    """The buttons in ``blocks`` in reading order, numbered from ``first``."""
    found: list[Button] = []
    for index, block in enumerate(blocks):
        for element in _interactive_elements(block):
            if element.get("type") != "button":
                continue
            found.append(
                Button(
                    number=first + len(found),
                    label=_object_to_plain(element.get("text")),
                    action_id=str(element.get("action_id", "")),
                    value=str(element.get("value", "")),
                    block_id=str(block.get("block_id") or f"block-{index}"),
                    style=str(element.get("style", "")),
                )
            )
    return found


def _element_label(element: Mapping[str, Any], numbers: dict[int, int]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{numbers[id(element)]}] {_object_to_plain(element.get('text'))}"
    placeholder = _object_to_plain(element.get("placeholder")) or str(kind)
    return f"[{kind}: {placeholder}]"


def _number_buttons(blocks: Sequence[Block], first: int) -> dict[int, int]:
    numbers: dict[int, int] = {}
    for block in blocks:
        for element in _interactive_elements(block):
            if element.get("type") == "button":
                numbers[id(element)] = first + len(numbers)
    return numbers


# -- plain rendering ----------------------------------------------------------------------------


def _rich_text_plain(block: Block) -> str:
    parts: list[str] = []
    for section in block.get("elements") or []:
        for element in section.get("elements") or []:
            kind = element.get("type")
            if kind == "text":
                parts.append(str(element.get("text", "")))
            elif kind == "link":
                parts.append(str(element.get("text") or element.get("url", "")))
            elif kind == "user":
                parts.append(f"@{element.get('user_id', '')}")
            elif kind == "emoji":
                parts.append(f":{element.get('name', '')}:")
        parts.append("\n")
    return "".join(parts).rstrip("\n")


def _fields_plain(fields: Sequence[Any]) -> list[str]:
    cells = [" ".join(_object_to_plain(f).split("\n")) for f in fields]
    width = max((len(c) for c in cells[0::2]), default=0)
    lines = []
    for i in range(0, len(cells), 2):
        pair = cells[i : i + 2]
        lines.append(f"{pair[0]:<{width}}  {pair[1]}".rstrip() if len(pair) == 2 else pair[0])
    return lines


def _block_plain(block: Block, numbers: dict[int, int]) -> list[str]:
    kind = block.get("type")
    lines: list[str] = []
    if kind == "header":
        lines.append(f"# {_object_to_plain(block.get('text'))}")
    elif kind == "section":
        if block.get("text"):
            lines.extend(_object_to_plain(block.get("text")).split("\n"))
        lines.extend(_fields_plain(block.get("fields") or []))
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and accessory.get("type") != "image":
            lines.append(_element_label(accessory, numbers))
    elif kind == "divider":
        lines.append(PLAIN_RULE)
    elif kind == "context":
        parts = [
            _object_to_plain(e) if e.get("type") != "image" else f"[{e.get('alt_text', 'image')}]"
            for e in block.get("elements") or []
        ]
        lines.append(" | ".join(p for p in parts if p))
    elif kind == "actions":
        lines.append("  ".join(_element_label(e, numbers) for e in block.get("elements") or []))
    elif kind == "image":
        lines.append(f"[image: {block.get('alt_text', '')}]")
    elif kind == "rich_text":
        lines.extend(_rich_text_plain(block).split("\n"))
    elif kind == "markdown":
        lines.extend(str(block.get("text", "")).split("\n"))
    elif kind == "input":
        lines.append(f"{_object_to_plain(block.get('label'))}: ____")
    else:
        lines.append(f"[{kind} block]")
    return lines


def render_plain(blocks: Sequence[Block] | None, text: str = "", *, first_button: int = 1) -> str:
    """A message as plain text: what a screen reader (or a test) would get."""
    if not blocks:
        return mrkdwn_to_plain(text)
    numbers = _number_buttons(blocks, first_button)
    lines: list[str] = []
    for block in blocks:
        lines.extend(_block_plain(block, numbers))
    return "\n".join(lines)


# -- rich rendering -----------------------------------------------------------------------------


def _button_text(element: Mapping[str, Any], numbers: dict[int, int]) -> Text:
    if element.get("type") != "button":
        return Text(_element_label(element, numbers), style="dim")
    style = _BUTTON_STYLES.get(str(element.get("style", "")), "bold")
    label = Text(f"[{numbers[id(element)]}] ", style="dim")
    label.append(f" {_object_to_plain(element.get('text'))} ", style=f"{style} reverse")
    return label


def _fields_rich(fields: Sequence[Any]) -> Table:
    grid = Table.grid(padding=(0, 3), expand=False)
    grid.add_column()
    grid.add_column()
    cells = [_object_to_rich(f) for f in fields]
    for i in range(0, len(cells), 2):
        grid.add_row(*cells[i : i + 2])
    return grid


def _block_rich(block: Block, numbers: dict[int, int]) -> list[RenderableType]:
    kind = block.get("type")
    out: list[RenderableType] = []
    if kind == "header":
        out.append(_object_to_rich(block.get("text"), style="bold underline"))
    elif kind == "section":
        row = Text()
        if block.get("text"):
            row.append_text(_object_to_rich(block.get("text")))
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and accessory.get("type") != "image":
            row.append("  ")
            row.append_text(_button_text(accessory, numbers))
        if row.plain:
            out.append(row)
        if block.get("fields"):
            out.append(_fields_rich(block["fields"]))
    elif kind == "divider":
        out.append(Rule(style="dim"))
    elif kind == "context":
        parts = [
            _object_to_rich(e, style="dim")
            for e in block.get("elements") or []
            if e.get("type") != "image"
        ]
        out.append(Text(" · ", style="dim").join(parts))
    elif kind == "actions":
        out.append(Text("  ").join(_button_text(e, numbers) for e in block.get("elements") or []))
    elif kind == "markdown":
        out.append(mrkdwn_to_rich(str(block.get("text", ""))))
    else:
        out.append(Text("\n".join(_block_plain(block, numbers))))
    return out


def render_message(
    blocks: Sequence[Block] | None, text: str = "", *, first_button: int = 1
) -> RenderableType:
    """A message as a rich renderable (no panel: callers frame it)."""
    if not blocks:
        return mrkdwn_to_rich(text)
    numbers = _number_buttons(blocks, first_button)
    parts: list[RenderableType] = []
    for block in blocks:
        parts.extend(_block_rich(block, numbers))
    return Group(*parts)
