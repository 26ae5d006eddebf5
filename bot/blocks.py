"""Block Kit rendering: every message and view the bot sends is built here.

Each renderer takes typed results from ``tools/`` and returns ``(blocks, fallback_text)``; none
re-computes a number. Blocks are plain dicts. ``fit_blocks`` enforces Slack's limits centrally
(block count, section/field/header lengths, button values, action ids), so a huge input degrades
to a clipped text or an "…and N more" line instead of an ``invalid_blocks`` error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from bot.slack_out import escape_data, mention
from tools.accounts import AccountMatch
from tools.facts import money_text
from tools.freshness import DataState
from tools.results import (
    AccountReport,
    AccountSummary,
    Band,
    ExpansionOpportunity,
    RiskLevel,
    TriggerHit,
)
from tools.wording import days_from_now, plural

Block = dict[str, Any]
Rendered = tuple[list[Block], str]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_TEXT = 3000
MAX_FALLBACK_TEXT = 3000
MAX_LIST_ITEMS = 15

# Action ids: the listeners register exactly these (see bot.listeners.REGISTERED).
ACTION_QBR = "health_draft_qbr"
ACTION_HISTORY = "health_show_history"
ACTION_EXPANSION = "health_propose_expansion"
ACTION_SHARE = "health_share"
ACTION_OPEN_HEALTH = "health_open"
ACTION_MORE_AT_RISK = "churn_show_more"
ACTION_MORE_EXPANSION = "expansion_show_more"
ACTION_QBR_PUBLISH = "qbr_publish_notion"
ACTION_QBR_DISCARD = "qbr_discard"
ACTION_EXPLAIN = "health_explain"
ACTIONS = frozenset(
    {
        ACTION_QBR,
        ACTION_EXPLAIN,
        ACTION_HISTORY,
        ACTION_EXPANSION,
        ACTION_SHARE,
        ACTION_OPEN_HEALTH,
        ACTION_MORE_AT_RISK,
        ACTION_MORE_EXPANSION,
        ACTION_QBR_PUBLISH,
        ACTION_QBR_DISCARD,
    }
)

BAND_EMOJI = {Band.GREEN: ":large_green_circle:", Band.AMBER: ":large_yellow_circle:"}
BAND_EMOJI[Band.RED] = ":red_circle:"
RISK_EMOJI = {RiskLevel.HIGH: ":rotating_light:", RiskLevel.MEDIUM: ":warning:"}
RISK_EMOJI[RiskLevel.LOW] = ":white_check_mark:"

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


# -- primitives -----------------------------------------------------------------------------


def esc(text: object) -> str:
    """Escape user data for mrkdwn (``&``, ``<``, ``>``); keeps mentions and links made by
    ``bot.slack_out``'s helpers. (The output boundary escapes again, so a miss is harmless.)"""
    return escape_data(text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit) or " "}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def section(
    text: str | None = None, *, fields: Sequence[str] = (), accessory: Block | None = None
) -> Block:
    block: Block = {"type": "section"}
    if text is not None:
        block["text"] = mrkdwn(text)
    if fields:
        block["fields"] = [mrkdwn(f, MAX_FIELD_TEXT) for f in fields[:MAX_FIELDS]]
    if accessory is not None:
        block["accessory"] = accessory
    if "text" not in block and "fields" not in block:
        block["text"] = mrkdwn(" ")
    return block


def context(*texts: str) -> Block:
    elements = [mrkdwn(t, MAX_CONTEXT_TEXT) for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [mrkdwn(" ")]}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id[:MAX_ACTION_ID],
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style in ("primary", "danger"):
        element["style"] = style
    return element


def actions(*buttons: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(buttons[:MAX_ACTION_ELEMENTS])}
    if block_id:
        block["block_id"] = block_id[:MAX_BLOCK_ID]
    return block


def fit_blocks(
    blocks: Sequence[Block], *, max_blocks: int = MAX_MESSAGE_BLOCKS, more: Block | None = None
) -> list[Block]:
    """``blocks`` within Slack's limits; overflow becomes "…and N more" (plus ``more``)."""
    fitted = [_fit_block(b) for b in blocks]
    if len(fitted) <= max_blocks:
        return fitted
    tail: list[Block] = [more] if more is not None else []
    keep = max_blocks - 1 - len(tail)
    hidden = len(fitted) - keep
    return [*fitted[:keep], context(f"…and {hidden} more not shown"), *tail]


def fit_text(text: str) -> str:
    """The fallback ``text`` of a message, non-empty and clipped."""
    return clip(text.strip() or "cs-copilot", MAX_FALLBACK_TEXT)


def _fit_block(block: Block) -> Block:
    out = dict(block)
    kind = out.get("type")
    if isinstance(out.get("block_id"), str):
        out["block_id"] = out["block_id"][:MAX_BLOCK_ID]
    if kind == "header":
        out["text"] = plain(str(out.get("text", {}).get("text", "")), MAX_HEADER_TEXT)
    if kind == "section":
        if isinstance(out.get("text"), dict):
            out["text"] = _fit_text_object(out["text"], MAX_SECTION_TEXT)
        if out.get("fields"):
            out["fields"] = [_fit_text_object(f, MAX_FIELD_TEXT) for f in out["fields"]][
                :MAX_FIELDS
            ]
        if isinstance(out.get("accessory"), dict):
            out["accessory"] = _fit_element(out["accessory"])
    if kind == "context":
        out["elements"] = [
            _fit_text_object(e, MAX_CONTEXT_TEXT)
            if e.get("type") in ("mrkdwn", "plain_text")
            else e
            for e in out.get("elements", [])
        ][:MAX_CONTEXT_ELEMENTS]
    if kind == "actions":
        out["elements"] = [_fit_element(e) for e in out.get("elements", [])][:MAX_ACTION_ELEMENTS]
    return out


def _fit_text_object(obj: dict[str, Any], limit: int) -> dict[str, Any]:
    return {**obj, "text": clip(str(obj.get("text", "")), limit) or " "}


def _fit_element(element: Block) -> Block:
    out = dict(element)
    if "action_id" in out:
        out["action_id"] = str(out["action_id"])[:MAX_ACTION_ID]
    if out.get("type") == "button":
        out["value"] = str(out.get("value", ""))[:MAX_BUTTON_VALUE]
        out["text"] = _fit_text_object(out.get("text", plain(" ", 1)), MAX_BUTTON_TEXT)
    return out


def message(blocks: Sequence[Block], text: str, *, more: Block | None = None) -> Rendered:
    """A message within limits: (blocks, fallback text)."""
    return fit_blocks(blocks, more=more), fit_text(text)


# -- formatting -----------------------------------------------------------------------------


def signed(value: float | None, unit: str = "") -> str:
    """``+4.2``/``-3.0`` with an arrow, or ``—`` when unknown."""
    if value is None:
        return "—"
    arrow = (
        ":arrow_up:" if value > 0.5 else ":arrow_down:" if value < -0.5 else ":left_right_arrow:"
    )
    return f"{arrow} {value:+.1f}{unit}"


def band_label(band: Band) -> str:
    return f"{BAND_EMOJI[band]} {band.value}"


def owner_label(summary: AccountSummary) -> str:
    if summary.owner_slack_id:
        return f"{mention(summary.owner_slack_id)}"
    return esc(summary.owner_email) if summary.owner_email else "unassigned"


def renewal_label(summary: AccountSummary, as_of: date) -> str:
    if summary.renewal_date is None:
        return "no active contract"
    days = (summary.renewal_date - as_of).days
    when = days_from_now(days)
    return f"{summary.renewal_date.isoformat()} ({when})"


def bullets(lines: Iterable[str], *, limit: int, empty: str) -> str:
    items = list(lines)
    if not items:
        return empty
    shown = [f"• {line}" for line in items[:limit]]
    if len(items) > limit:
        shown.append(f"_…and {len(items) - limit} more_")
    return "\n".join(shown)


# -- /health --------------------------------------------------------------------------------


def health_report(
    report: AccountReport,
    *,
    with_actions: bool = True,
    shared_by: str | None = None,
    voice: Block | None = None,
) -> Rendered:
    """The full health card of one account (``/health``, Share to channel, the router);
    ``voice`` is the voice-of-the-customer section (``bot/voc_blocks.py``)."""
    acct, health, churn = report.account, report.health, report.churn
    blocks: list[Block] = [
        header(f"{acct.name} · {health.score:.0f}/100 · {health.band.value}"),
        section(
            fields=[
                f"*Health*\n{band_label(health.band)} {health.score:.0f}/100",
                f"*Trend*\n30d {signed(health.trend_30d)} · 90d {signed(health.trend_90d)}",
                f"*Churn risk*\n{RISK_EMOJI[churn.level]} {churn.level.value}",
                f"*Renewal*\n{renewal_label(acct, health.as_of)}",
                f"*ARR*\n{money_text(acct.arr)}" + (f" ({esc(acct.plan)})" if acct.plan else ""),
                f"*Owner*\n{owner_label(acct)}",
            ]
        ),
        section(
            "*Top drivers*\n"
            + bullets(
                (f"{esc(d.text)} ({d.impact:+.0f} pts)" for d in health.drivers),
                limit=5,
                empty="_No strong drivers: every signal is near neutral._",
            )
        ),
        section(
            "*Churn triggers*\n"
            + bullets(
                (f"*{esc(t.label)}* — {esc(t.evidence)}" for t in churn.triggers),
                limit=6,
                empty="_None fired._",
            )
        ),
    ]
    if report.lean:
        blocks.append(section("*Lean findings*\n" + _lean_lines(report)))
    if report.expansion:
        blocks.append(
            section(
                "*Expansion signals*\n"
                + bullets(
                    (
                        f"{esc(o.title)} (~{money_text(o.estimated_arr)}/yr)"
                        for o in report.expansion
                    ),
                    limit=4,
                    empty="",
                )
            )
        )
    if voice is not None:
        blocks.append(voice)
    blocks.append(context(_health_context(report)))
    if shared_by:
        blocks.append(context(f"Shared by {mention(shared_by)}"))
    if with_actions:
        blocks.append(health_actions(report))
    text = (
        f"{esc(acct.name)}: health {health.score:.0f}/100 ({health.band.value}), churn risk "
        f"{churn.level.value}, renewal {renewal_label(acct, health.as_of)}, "
        f"ARR {money_text(acct.arr)}"
    )
    return message(blocks, text)


def _lean_lines(report: AccountReport) -> str:
    lines = []
    for finding in report.lean:
        evidence = f" — {esc(finding.evidence[0])}" if finding.evidence else ""
        lines.append(
            f"*{esc(finding.kind.capitalize())}*: {esc(finding.title)}{evidence} "
            f"→ _{esc(finding.playbook.title)}_"
        )
    return bullets(lines, limit=3, empty="")


def _health_context(report: AccountReport) -> str:
    acct = report.account
    seats = ""
    if acct.seats_purchased:
        used = "?" if acct.seats_used is None else str(acct.seats_used)
        seats = f" · seats {used}/{acct.seats_purchased}"
    return (
        f"As of {report.health.as_of.isoformat()} · {esc(acct.segment)} · "
        f"{esc(acct.lifecycle_stage)}{seats} · id `{esc(acct.external_id)}`"
    )


def health_actions(report: AccountReport) -> Block:
    """The buttons under a health card: QBR, history, expansion (when any), share."""
    value = str(report.account.account_id)
    buttons = [
        button("Draft QBR", ACTION_QBR, value, style="primary"),
        button("Show history", ACTION_HISTORY, value),
        button("Explain", ACTION_EXPLAIN, value),
    ]
    if report.expansion:
        buttons.append(button("Propose expansion", ACTION_EXPANSION, value))
    buttons.append(button("Share to channel", ACTION_SHARE, value))
    return actions(*buttons, block_id=f"health:{value}")


def health_history(report: AccountReport, points: Sequence[tuple[date, float, Band]]) -> Rendered:
    """Score history of one account: the snapshots we have, newest first."""
    acct, health = report.account, report.health
    lines = [f"`{day.isoformat()}`  {BAND_EMOJI[band]} {score:.0f}" for day, score, band in points]
    blocks = [
        header(f"{acct.name} · health history"),
        section(
            f"Now {band_label(health.band)} {health.score:.0f}/100 · "
            f"30d {signed(health.trend_30d)} · 90d {signed(health.trend_90d)}"
        ),
        section(
            bullets(
                lines,
                limit=26,
                empty="_No daily snapshots stored yet: history fills in as scores are "
                "snapshotted each day._",
            )
        ),
    ]
    return message(blocks, f"{esc(acct.name)}: health history ({len(points)} snapshots)")


def account_expansion(report: AccountReport) -> Rendered:
    """The expansion opportunities of one account, with evidence and talk track."""
    acct = report.account
    blocks: list[Block] = [header(f"{acct.name} · expansion opportunities")]
    if not report.expansion:
        blocks.append(section("_No open expansion opportunities for this account._"))
    for opp in report.expansion[:MAX_LIST_ITEMS]:
        blocks.extend(_opportunity_blocks(opp))
    if report.expansion:
        blocks.append(context("Review the evidence and talk track before passing this to Sales."))
    total = sum((o.estimated_arr for o in report.expansion), Decimal("0"))
    text = (
        f"{esc(acct.name)}: {len(report.expansion)} expansion opportunities "
        f"(~{money_text(total)}/yr)"
    )
    return message(blocks, text)


def _opportunity_blocks(opp: ExpansionOpportunity) -> list[Block]:
    return [
        section(
            f"*{esc(opp.title)}* · {esc(opp.kind)} · ~{money_text(opp.estimated_arr)}/yr\n"
            + bullets((esc(e) for e in opp.evidence), limit=4, empty="")
        ),
        context(f"_{esc(opp.formula)}_", f"Talk track: {esc(opp.talk_track)}"),
    ]


# -- lists ----------------------------------------------------------------------------------


def at_risk_list(
    reports: Sequence[AccountReport],
    *,
    as_of: date,
    mine: bool = False,
    offset: int = 0,
    within_days: int | None = None,
    page_size: int = MAX_LIST_ITEMS,
    state: DataState | None = None,
    segment: str | None = None,
) -> Rendered:
    """At-risk accounts, riskiest first; a "Show more" button pages through the rest. With no
    account at risk, ``state`` tells an empty or stale database from a healthy book."""
    title = "Your at-risk accounts" if mine else "At-risk accounts"
    if segment:
        title += f" ({segment})"
    if within_days is not None:
        title += f" renewing within {within_days} days"
    page = list(reports[offset : offset + page_size])
    total_arr = sum((r.churn.arr_at_risk for r in reports), Decimal("0"))
    blocks: list[Block] = [header(title)]
    problem = state.problem() if state is not None else None
    if not reports and problem is not None:
        blocks.append(section(f":information_source: {problem}"))
        return message(blocks, f"{title}: no current data")
    if not reports:
        empty = "None of your accounts is at risk right now." if mine else "No account is at risk."
        blocks.append(section(f":tada: {empty}"))
        return message(blocks, f"{title}: none")
    blocks.append(
        context(
            f"{plural(len(reports), 'account')} · {money_text(total_arr)} ARR at risk · "
            f"as of {as_of.isoformat()}"
            + (
                f" · showing {offset + 1}-{offset + len(page)}"
                if offset or len(reports) > page_size
                else ""
            )
        )
    )
    for report in page:
        blocks.append(_at_risk_row(report, as_of))
    more = None
    remaining = len(reports) - offset - len(page)
    if remaining > 0:
        cursor: dict[str, object] = {
            "offset": offset + page_size,
            "mine": mine,
            "within_days": within_days,
        }
        if segment:
            cursor["segment"] = segment
        value = json.dumps(cursor)
        more = actions(button(f"Show more ({remaining})", ACTION_MORE_AT_RISK, value))
        blocks.append(more)
    names = ", ".join(esc(r.account.name) for r in page[:5])
    return message(blocks, f"{title} ({len(reports)}): {names}", more=more)


def _at_risk_row(report: AccountReport, as_of: date) -> Block:
    health, churn = report.health, report.churn
    return risk_row(
        report.account,
        score=health.score,
        band=health.band,
        level=churn.level,
        triggers=churn.triggers,
        as_of=as_of,
    )


def risk_row(
    acct: AccountSummary,
    *,
    score: float,
    band: Band,
    level: RiskLevel,
    triggers: Sequence[TriggerHit],
    as_of: date,
) -> Block:
    """One at-risk account: level, band and score, ARR, its first triggers, renewal, owner."""
    reasons = "; ".join(esc(t.label) for t in triggers[:3]) or "no trigger detail"
    text = (
        f"{RISK_EMOJI[level]} *{esc(acct.name)}* · {band_label(band)} "
        f"{score:.0f} · {money_text(acct.arr)} ARR\n{reasons}\n"
        f"Renewal {renewal_label(acct, as_of)} · owner {owner_label(acct)}"
    )
    return section(text, accessory=button("Health", ACTION_OPEN_HEALTH, str(acct.account_id)))


def expansion_list(
    items: Sequence[tuple[AccountSummary, ExpansionOpportunity]],
    *,
    as_of: date,
    offset: int = 0,
    page_size: int = MAX_LIST_ITEMS,
) -> Rendered:
    """Open expansion opportunities across the portfolio, largest first."""
    blocks: list[Block] = [header("Expansion opportunities")]
    if not items:
        blocks.append(section("No open expansion opportunities right now."))
        return message(blocks, "Expansion opportunities: none")
    total = sum((opp.estimated_arr for _, opp in items), Decimal("0"))
    blocks.append(
        context(
            f"{len(items)} opportunities · ~{money_text(total)}/yr pipeline · "
            f"as of {as_of.isoformat()}"
        )
    )
    page = list(items[offset : offset + page_size])
    for summary, opp in page:
        evidence = "; ".join(esc(e) for e in opp.evidence[:2])
        blocks.append(
            section(
                f"*{esc(summary.name)}* · {esc(opp.title)} · ~{money_text(opp.estimated_arr)}/yr\n"
                f"{evidence}\nOwner {owner_label(summary)}",
                accessory=button("Health", ACTION_OPEN_HEALTH, str(summary.account_id)),
            )
        )
    more = None
    remaining = len(items) - offset - len(page)
    if remaining > 0:
        value = json.dumps({"offset": offset + page_size})
        more = actions(button(f"Show more ({remaining})", ACTION_MORE_EXPANSION, value))
        blocks.append(more)
    return message(
        blocks, f"{len(items)} expansion opportunities (~{money_text(total)}/yr)", more=more
    )


def renewals_list(
    reports: Sequence[AccountReport], *, as_of: date, start: date, end: date
) -> Rendered:
    """Renewals between ``start`` and ``end``, soonest first, with their band."""
    title = f"Renewals {start.strftime('%d %b')} to {end.strftime('%d %b %Y')}"
    blocks: list[Block] = [header(title)]
    if not reports:
        blocks.append(section("No contract renews in that window."))
        return message(blocks, f"{title}: none")
    total = sum((r.account.arr for r in reports), Decimal("0"))
    blocks.append(context(f"{len(reports)} renewals · {money_text(total)} ARR"))
    for report in reports[:MAX_LIST_ITEMS]:
        acct, health = report.account, report.health
        blocks.append(
            section(
                f"*{esc(acct.name)}* · {renewal_label(acct, as_of)} · {money_text(acct.arr)}\n"
                f"{band_label(health.band)} {health.score:.0f} · churn risk "
                f"{report.churn.level.value} · owner {owner_label(acct)}",
                accessory=button("Health", ACTION_OPEN_HEALTH, str(acct.account_id)),
            )
        )
    if len(reports) > MAX_LIST_ITEMS:
        blocks.append(context(f"…and {len(reports) - MAX_LIST_ITEMS} more"))
    return message(blocks, f"{title}: {len(reports)} renewals, {money_text(total)} ARR")


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
