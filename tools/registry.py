"""The tool registry Claude sees: typed functions, schemas generated from their signatures.

A tool is a plain function ``(ctx: ToolContext, *, arg: type = default, ...) -> result`` whose
docstring is the description Claude reads. ``make_tool`` builds a Pydantic model from the
keyword-only parameters, so the JSON schema sent to Claude and the validation applied to its
input are the same object and cannot drift. ``Registry.call`` validates, runs, and turns every
failure into a short ``is_error`` result; nothing raised by a tool reaches the agent loop.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from tools.accounts import AccountNotFound, AmbiguousAccount
from tools.db import SessionFactory
from tools.scoring_config import ScoringConfig

if TYPE_CHECKING:
    from tools.voc.labels import Labeller

log = logging.getLogger(__name__)

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_OUTPUT_CHARS = 8_000
LIST_LIMITS = (20, 10, 5, 3, 1)


class ToolError(Exception):
    """A problem Claude should read and act on (bad argument, nothing to do). Short and safe."""


@dataclass
class CreatedRecord:
    """A draft or proposal a tool created during a turn."""

    kind: str  # "qbr_draft" | "handoff_proposal"
    id: int
    account_id: int
    summary: str


@dataclass
class ToolContext:
    """What every tool may use: the database, the date, the scoring config and who is asking."""

    sessions: SessionFactory
    as_of: date
    config: ScoringConfig
    thread_key: str | None = None
    user_id: str | None = None
    max_writes: int = 5
    # Claude naming voice-of-the-customer themes (``bot.voc_blocks.theme_labeller``); None: the
    # top words
    theme_labeller: Labeller | None = None
    created: list[CreatedRecord] = field(default_factory=list)
    writes: int = 0

    def claim_write(self) -> None:
        """Count one draft/proposal; refuse once the per-turn budget is spent."""
        if self.writes >= self.max_writes:
            raise ToolError(
                f"At most {self.max_writes} drafts or proposals per request. Ask the user to "
                "confirm which accounts they want before creating more."
            )
        self.writes += 1


@dataclass(frozen=True)
class ToolResult:
    """What goes back to Claude in a ``tool_result`` block."""

    content: str
    is_error: bool = False


ToolFunction = Callable[..., Any]


@dataclass(frozen=True)
class Tool:
    """One tool: its function, its name and description, and its generated input model."""

    name: str
    description: str
    func: ToolFunction
    input_model: type[BaseModel]
    writes: bool = False

    def input_schema(self) -> dict[str, Any]:
        """The JSON schema of the input (an object), without Pydantic's titles."""
        schema: dict[str, Any] = _strip_titles(self.input_model.model_json_schema())
        schema.setdefault("properties", {})
        return schema

    def definition(self) -> dict[str, Any]:
        """The tool as the Messages API takes it."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema(),
        }


def make_tool(func: ToolFunction, *, writes: bool = False) -> Tool:
    """A Tool from ``func``: name = function name, description = docstring, schema = signature."""
    name = func.__name__
    if not TOOL_NAME.match(name):
        raise ValueError(f"tool name {name!r} does not match {TOOL_NAME.pattern}")
    description = inspect.cleandoc(func.__doc__ or "")
    if not description:
        raise ValueError(f"tool {name} needs a docstring: it is the description Claude reads")
    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    params = list(inspect.signature(func).parameters.values())
    if not params or params[0].name != "ctx":
        raise ValueError(f"tool {name} must take ctx: ToolContext first")
    for param in params[1:]:
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise ValueError(f"tool {name}: argument {param.name} must be keyword-only")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model = create_model(f"{name}_input", __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(name=name, description=description, func=func, input_model=model, writes=writes)


class Registry:
    """Tools by name; dispatch is a dict lookup."""

    def __init__(
        self, tools: Iterable[Tool], *, domain_errors: tuple[type[Exception], ...] = ()
    ) -> None:
        self.domain_errors: tuple[type[Exception], ...] = (
            ToolError,
            AccountNotFound,
            AmbiguousAccount,
            *domain_errors,
        )
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise ValueError(f"duplicate tool {tool.name}")
            self.tools[tool.name] = tool

    def names(self) -> list[str]:
        return list(self.tools)

    def definitions(self, *, cache: bool = True) -> list[dict[str, Any]]:
        """Tool definitions for ``messages.create``; the last one carries the cache breakpoint."""
        defs = [tool.definition() for tool in self.tools.values()]
        if cache and defs:
            defs[-1]["cache_control"] = {"type": "ephemeral"}
        return defs

    def call(self, name: str, raw_input: object, ctx: ToolContext) -> ToolResult:
        """Validate ``raw_input``, run the tool and return its compact JSON, or an error result."""
        tool = self.tools.get(name)
        if tool is None:
            return ToolResult(f"Unknown tool {name!r}. Available: {', '.join(self.tools)}.", True)
        try:
            args = tool.input_model.model_validate(raw_input)
        except ValidationError as exc:
            return ToolResult(f"Invalid input for {name}: {_validation_summary(exc)}", True)
        try:
            value = tool.func(ctx, **{key: getattr(args, key) for key in type(args).model_fields})
        except self.domain_errors as exc:
            return ToolResult(domain_error_message(exc), True)
        except Exception:  # the error boundary: log it, tell Claude only that it failed
            log.exception("tool %s failed", name)
            return ToolResult(f"{name} failed with an internal error; do not retry it.", True)
        return ToolResult(to_compact_json(value))


def domain_error_message(exc: Exception) -> str:
    """A short message for Claude about a domain error (never a traceback)."""
    if isinstance(exc, AccountNotFound):
        hint = ", ".join(f"{m.name} ({m.external_id})" for m in exc.suggestions[:5])
        tail = f" Did you mean: {hint}?" if hint else " Try find_accounts with another spelling."
        return f"No account matches {exc.query!r}.{tail}"
    if isinstance(exc, AmbiguousAccount):
        names = ", ".join(f"{m.name} ({m.external_id})" for m in exc.candidates[:8])
        return f"{exc.query!r} matches several accounts: {names}. Ask the user which one."
    return str(exc)[:500]


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


# -- output ------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Plain JSON data from models, dataclasses, Decimals and dates; floats rounded to 2 places."""
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump(mode="python", exclude_none=True))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(round(value, 2))
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return to_jsonable({k: getattr(value, k) for k in value.__dataclass_fields__})
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _shorten_lists(value: Any, limit: int) -> Any:
    if isinstance(value, dict):
        return {k: _shorten_lists(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        kept = [_shorten_lists(v, limit) for v in value[:limit]]
        if len(value) > limit:
            kept.append(f"…and {len(value) - limit} more")
        return kept
    if isinstance(value, str) and len(value) > 40 * limit:
        return value[: 40 * limit] + "…"
    return value


def to_compact_json(value: Any, *, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Compact JSON of ``value`` in at most ``limit`` characters; long lists end "…and N more"."""
    data = to_jsonable(value)
    text = _dumps(data)
    for max_items in LIST_LIMITS:
        if len(text) <= limit:
            return text
        text = _dumps(_shorten_lists(data, max_items))
    if len(text) <= limit:
        return text
    return _dumps({"truncated": True, "partial": text[: limit - 60]})
