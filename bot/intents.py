"""What a question means (``Intent``) and what the answer is (``Reply``), shared by the router,
the keyless asks (``bot/asks/``), slash commands and listeners."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from bot import blocks
from bot.blocks import Block
from bot.deps import Deps
from tools.accounts import (
    AccountNotFound,
    AmbiguousAccount,
    example_account_names,
    resolve_account,
)
from tools.health import UnknownAccountError
from tools.results import AccountReport
from tools.scoring import account_report


class IntentKind(StrEnum):
    HEALTH = "health"
    HISTORY = "history"
    AT_RISK = "at_risk"
    RENEWALS = "renewals"
    EXPANSION = "expansion"
    QBR = "qbr"
    WHY_CHANGED = "why_changed"
    METRICS = "metrics"
    TRIGGER = "trigger"
    TICKETS = "tickets"
    QUIET = "quiet"
    ADVICE = "advice"
    HELP = "help"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Intent:
    """What was asked. ``account`` is typed text; ``account_id`` skips the lookup (buttons)."""

    kind: IntentKind
    account: str = ""
    account_id: int | None = None
    user_id: str | None = None
    mine: bool = False
    within_days: int | None = None
    next_month: bool = False
    offset: int = 0
    command: str = ""
    text: str = ""
    segment: str | None = None
    trigger: str | None = None
    metric: str | None = None


@dataclass(frozen=True)
class Reply:
    """A rendered answer. ``thread`` (QBR) means: post publicly, then ``thread`` in its thread."""

    blocks: list[Block]
    text: str
    account_id: int | None = None
    thread: Reply | None = None
    found: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def rendered_reply(rendered: blocks.Rendered, **kwargs: Any) -> Reply:
    return Reply(blocks=rendered[0], text=rendered[1], **kwargs)


def report_for(intent: Intent, deps: Deps, session: Session) -> AccountReport | Reply:
    """The report of the account the intent names, or the reply explaining why there is none."""
    command = intent.command or "/health"
    account_id = intent.account_id
    if account_id is None:
        if not intent.account.strip():
            examples = example_account_names(session)
            rendered = blocks.usage_message(command, "Which account?", examples=examples)
            return rendered_reply(rendered, found=False)
        try:
            account = resolve_account(session, query=intent.account)
        except AccountNotFound as exc:
            examples = example_account_names(session)
            rendered = blocks.account_not_found(command, exc.query, exc.suggestions, examples)
            return rendered_reply(rendered, found=False)
        except AmbiguousAccount as exc:
            return rendered_reply(blocks.ambiguous_account(exc.query, exc.candidates), found=False)
        account_id = account.id
    if account_id is None:  # pragma: no cover - database rows always have ids
        return rendered_reply(blocks.error_message("That account has no id."), found=False)
    try:
        return account_report(
            session, account_id=account_id, as_of=deps.today(), config=deps.config
        )
    except UnknownAccountError:
        gone = blocks.error_message("That account no longer exists. Run the command again.")
        return rendered_reply(gone, found=False)
