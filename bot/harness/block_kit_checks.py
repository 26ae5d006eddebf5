"""What the fake Slack refuses the way Slack does: Block Kit limits and the SDK's own validators.

``validate_call`` returns ``(error, detail)`` for parameters Slack would reject (no text fallback,
too many blocks, a section text too long, an invalid element...), or None.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255

MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update"})
VIEW_METHODS = frozenset({"views.publish", "views.open", "views.update", "views.push"})


def validate_call(method: str, params: dict[str, Any]) -> tuple[str, str] | None:
    """(error, detail) when Slack would refuse these parameters, else None."""
    if method in MESSAGE_METHODS:
        blocks = decode_blocks(params.get("blocks"))
        if params.get("blocks") is not None and not isinstance(
            maybe_json(params.get("blocks")), list
        ):
            return "invalid_blocks_format", "blocks must be a JSON array"
        if not blocks and not params.get("text") and not params.get("attachments"):
            return "no_text", "a message needs text or blocks"
        if blocks and not str(params.get("text") or "").strip():
            return "invalid_blocks", "blocks without a text fallback (notifications need text)"
        problem = block_problem(blocks, MESSAGE_BLOCKS_MAX)
        return None if problem is None else ("invalid_blocks", problem)
    if method in VIEW_METHODS:
        view = maybe_json(params.get("view"))
        if not isinstance(view, dict):
            return "invalid_arguments", "view must be an object"
        problem = block_problem(decode_blocks(view.get("blocks")), VIEW_BLOCKS_MAX)
        return None if problem is None else ("invalid_blocks", problem)
    if method == "chat.stopStream" and params.get("blocks"):
        problem = block_problem(decode_blocks(params.get("blocks")), MESSAGE_BLOCKS_MAX)
        return None if problem is None else ("invalid_blocks", problem)
    return None


def block_problem(blocks: list[dict[str, Any]], max_blocks: int) -> str | None:
    """Why Slack would refuse these blocks, or None when it would accept them."""
    if len(blocks) > max_blocks:
        return f"{len(blocks)} blocks; at most {max_blocks}"
    for index, block in enumerate(blocks):
        problem = _limits_problem(block) or _sdk_problem(block)
        if problem is not None:
            return f"block {index} ({block.get('type', '?')}): {problem}"
    return None


def _sdk_problem(block: dict[str, Any]) -> str | None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return "unknown block type"
        parsed.to_dict()  # runs the SDK's validators on the block and its elements
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _limits_problem(block: dict[str, Any]) -> str | None:
    kind = block.get("type")
    if len(str(block.get("block_id", ""))) > BLOCK_ID_MAX:
        return f"block_id longer than {BLOCK_ID_MAX}"
    if kind == "section":
        if len(text_of(block.get("text"))) > SECTION_TEXT_MAX:
            return f"section text longer than {SECTION_TEXT_MAX}"
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS_MAX:
            return f"{len(fields)} fields; at most {SECTION_FIELDS_MAX}"
        if any(len(text_of(f)) > FIELD_TEXT_MAX for f in fields):
            return f"a field longer than {FIELD_TEXT_MAX}"
    if kind == "header" and len(text_of(block.get("text"))) > HEADER_TEXT_MAX:
        return f"header text longer than {HEADER_TEXT_MAX}"
    for element in _elements_of(block):
        if len(str(element.get("action_id", ""))) > ACTION_ID_MAX:
            return f"action_id longer than {ACTION_ID_MAX}"
        if (
            element.get("type") == "button"
            and len(str(element.get("value", ""))) > BUTTON_VALUE_MAX
        ):
            return f"button value longer than {BUTTON_VALUE_MAX}"
    return None


def _elements_of(block: dict[str, Any]) -> Iterable[dict[str, Any]]:
    if isinstance(block.get("accessory"), dict):
        yield block["accessory"]
    if isinstance(block.get("element"), dict):
        yield block["element"]
    for element in block.get("elements") or []:
        if isinstance(element, dict):
            yield element


def text_of(obj: Any) -> str:
    """The text of a Block Kit text object (or of a plain string)."""
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def json_or_none(raw: str) -> Any:
    """``raw`` parsed as JSON, or None when it is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


def maybe_json(value: Any) -> Any:
    """A form-encoded JSON string decoded; any other value as it is."""
    return json_or_none(value) if isinstance(value, str) else value


def decode_blocks(value: Any) -> list[dict[str, Any]]:
    """A ``blocks`` parameter (JSON text or a list) as a list of block objects."""
    value = maybe_json(value)
    if not isinstance(value, list):
        return []
    return [b if isinstance(b, dict) else {"type": None} for b in value]
