"""Block Kit for help, usage and lookup errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.kit import (
    ACTION_OPEN_HEALTH,
    ACTION_QBR_DISCARD,
    ACTION_QBR_PUBLISH,
    MAX_MESSAGE_BLOCKS,
    MAX_VIEW_BLOCKS,
    Block,
    Rendered,
    actions,
    button,
    clip,
    context,
    esc,
    fit_blocks,
    header,
    message,
    section,
)
from bot.slack_out import mention
from tools.accounts import AccountMatch

HELP_COMMANDS: tuple[tuple[str, str], ...] = (
    ("/health <account>", "score, band, trend, drivers, churn triggers, Lean waste, expansion"),
    ("/churn", "at-risk accounts across the portfolio, riskiest first"),
    ("/churn mine", "at-risk accounts in your own book"),
    ("/qbr <account>", "start a QBR draft in a thread"),
    ("/expansion", "open expansion opportunities across the portfolio"),
    ("/log <account> <call|meeting|email|note> [text]", "record work done on an account"),
    ("/csbot subscribe mine|segment:<name>|all", "get churn alerts by DM (`unsubscribe` stops)"),
    ("/csbot help", "this help"),
)
HELP_QUESTIONS: tuple[str, ...] = (
    "how is acme doing?",
    "who is at risk?",
    "what renews next month?",
    "expansion opportunities",
    "draft a QBR for acme",
    "why did globex drop?",
    "what's our NRR?",
    "show me accounts whose champion left",
    "summarise umbrella's tickets",
    "who hasn't logged in for 30 days?",
    "what should I do about globex?",
    "help",
)


# -- help, usage, lookup errors ------------------------------------------------------------


def help_message() -> Rendered:
    """What the bot can do: commands and questions."""
    commands = "\n".join(f"`{c}` — {d}" for c, d in HELP_COMMANDS)
    questions = "\n".join(f"• _{q}_" for q in HELP_QUESTIONS)
    blocks = [
        header("cs-copilot help"),
        section(f"*Slash commands*\n{commands}"),
        section(f"*Ask me in a DM, a thread or with an @mention*\n{questions}"),
        context("Replies to slash commands are visible only to you until you share them."),
    ]
    return message(blocks, "cs-copilot: /health, /churn, /qbr, /expansion, /csbot help")


def usage_message(command: str, problem: str, *, examples: Sequence[str] = ()) -> Rendered:
    """A friendly "how to use this command" reply."""
    usage = next((f"`{c}` — {d}" for c, d in HELP_COMMANDS if c.startswith(command)), "")
    text = f"{problem}\n*Usage:* {usage}" if usage else problem
    if examples:
        text += "\n*Try:* " + ", ".join(f"`{command} {esc(e)}`" for e in examples)
    return message([section(text)], f"{problem} Usage: {usage}")


def account_not_found(
    command: str, query: str, suggestions: Sequence[AccountMatch], examples: Sequence[str]
) -> Rendered:
    """No account matched: the nearest names as buttons, else real examples."""
    problem = f"I couldn't find an account matching “{esc(query)}”."
    blocks: list[Block] = []
    if suggestions:
        blocks.append(section(f"{problem} Did you mean one of these?"))
        blocks.append(_pick_buttons(suggestions))
        names = ", ".join(esc(s.name) for s in suggestions)
        return message(blocks, f"No account matches “{esc(query)}”. Did you mean: {names}?")
    blocks, text = usage_message(command, problem, examples=examples)
    return blocks, text


def ambiguous_account(query: str, candidates: Sequence[AccountMatch]) -> Rendered:
    """Several accounts matched: one button each."""
    blocks = [
        section(f"Several accounts match “{esc(query)}”. Which one?"),
        _pick_buttons(candidates),
    ]
    names = ", ".join(esc(c.name) for c in candidates)
    return message(blocks, f"Several accounts match “{esc(query)}”: {names}")


def _pick_buttons(matches: Sequence[AccountMatch]) -> Block:
    return actions(
        *(button(m.name, ACTION_OPEN_HEALTH, str(m.account_id)) for m in matches[:5]),
        block_id="pick_account",
    )


def error_message(reason: str) -> Rendered:
    """A short apology and what to do; never exception text."""
    return message([section(f":warning: {reason}")], reason)


def unknown_intent(text: str) -> Rendered:
    """The fallback when a question is not one the bot can answer yet."""
    questions = "\n".join(f"• _{q}_" for q in HELP_QUESTIONS)
    blocks = [
        section(
            f"I can't answer “{esc(clip(text, 200))}” yet. Here is what I can answer:\n{questions}"
        ),
        context("Or use `/health <account>`, `/churn`, `/qbr <account>`, `/expansion`."),
    ]
    return message(blocks, "I can't answer that yet; try “who is at risk?” or “help”.")


# -- /qbr -----------------------------------------------------------------------------------


def qbr_started(account_name: str, *, requested_by: str, version: int) -> Rendered:
    """The thread starter for a QBR draft."""
    blocks = [
        section(
            f":memo: *QBR draft v{version} for {esc(account_name)}* — requested by "
            f"{mention(requested_by)}.\nThe draft and its health-trend chart are in this thread. "
            "Ask me in the thread to revise a section; nothing is published until someone "
            "presses *Publish to Notion*."
        ),
    ]
    return message(blocks, f"QBR draft v{version} for {esc(account_name)}")


def qbr_draft_controls(draft_id: int, *, version: int) -> Block:
    """Publish / Discard buttons under a QBR draft (the value is the draft version's id)."""
    return actions(
        button("Publish to Notion", ACTION_QBR_PUBLISH, str(draft_id), style="primary"),
        button("Discard", ACTION_QBR_DISCARD, str(draft_id), style="danger"),
        block_id=f"qbr:{draft_id}:v{version}",
    )


def qbr_draft(summary: Sequence[Block], *, draft_id: int, version: int, title: str) -> Rendered:
    """The draft's Slack summary with its controls, within the message limits."""
    controls = qbr_draft_controls(draft_id, version=version)
    return message([*list(summary)[: MAX_MESSAGE_BLOCKS - 1], controls], title)


def qbr_status(text: str) -> Rendered:
    """A short status line posted in a QBR thread (published, queued, discarded…)."""
    return message([section(text)], text)


# -- App Home (the view itself is bot/home_blocks.py) ------------------------------------


def home_error_view(reason: str) -> dict[str, Any]:
    """The App Home shown when the real one could not be built."""
    return {
        "type": "home",
        "blocks": fit_blocks(
            [header("cs-copilot"), section(f":warning: {reason}")], max_blocks=MAX_VIEW_BLOCKS
        ),
    }
