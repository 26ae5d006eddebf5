"""The deterministic intent router: free text -> ``Intent`` -> ``Reply``, through the same tools.

``route(text)`` recognises the questions the bot can answer without Claude ("how is acme doing",
"who is at risk", "what renews next month", "expansion opportunities", "help"); ``answer(intent,
deps)`` runs the ``tools/`` functions and renders the reply. Slash commands build their intent
directly and share ``answer``, so a command and a question give the same numbers. When the Claude
agent lands it becomes the first choice for free text and this stays the fail-open fallback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from bot import asks, blocks, home_blocks
from bot.alert_action_blocks import home_settings, with_interactions
from bot.deps import Deps
from bot.intents import Intent, IntentKind, Reply, rendered_reply, report_for
from bot.onboarding_blocks import onboarding_home, time_to_value_lines
from bot.task_blocks import home_tasks
from bot.voc_blocks import health_voice, theme_labeller
from tools.db import session_scope
from tools.expansion import expansion_opportunities
from tools.freshness import data_state
from tools.history import health_history
from tools.home_book import home_book, maybe_onboarding
from tools.interactions import latest_interactions
from tools.metrics import portfolio_metrics
from tools.onboarding import onboarding_progress
from tools.registry import CreatedRecord
from tools.results import AccountSummary, ExpansionOpportunity, PortfolioMetrics
from tools.scoring import (
    account_report,
    account_summaries,
    at_risk_accounts,
    book_reports,
    owned_account_ids,
)
from tools.subscriptions import segments as subscription_segments
from tools.subscriptions import subscriptions_of
from tools.tasks import open_tasks_for
from tools.voc.labels import Labeller

__all__ = ["Intent", "IntentKind", "Reply", "answer", "route"]

AT_RISK_LIMIT = 200
HOME_RENEWAL_DAYS = 90


# -- route ----------------------------------------------------------------------------------

_ACCOUNT = r"(?P<account>[\w&.,' -]{1,80}?)"
_END = r"\s*[?.!]*\s*$"
_HEALTH_PATTERNS = (
    rf"^how(?:'s| is| are)\s+{_ACCOUNT}\s+(?:doing|going|looking)(?:\s+(?:now|today))?{_END}",
    rf"^(?:what(?:'s| is)\s+(?:the\s+)?)?health\s+(?:score\s+)?(?:of|for)\s+{_ACCOUNT}{_END}",
    rf"^(?:show\s+me\s+|show\s+)?{_ACCOUNT}(?:'s)?\s+health(?:\s+score)?{_END}",
    rf"^(?:tell me about|status of|how healthy is|check|health)\s+{_ACCOUNT}{_END}",
)
_HELP = re.compile(r"^\s*(?:help|\?|what can you do|commands|hi|hello|hey)\b", re.IGNORECASE)
_AT_RISK = re.compile(
    r"\b(?:at[- ]risk|churn\w*|risky|red accounts|in trouble|likely to leave)\b", re.IGNORECASE
)
_MINE = re.compile(r"\b(?:my|mine|i own|my book)\b", re.IGNORECASE)
_RENEWALS = re.compile(r"\brenew\w*\b|\brenewals?\b", re.IGNORECASE)
_NEXT_MONTH = re.compile(r"\bnext month\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d{1,3})\s*days?\b", re.IGNORECASE)
_QUARTER = re.compile(r"\b(?:this|next)\s+quarter\b", re.IGNORECASE)
_EXPANSION = re.compile(
    r"\b(?:expansion|expand|upsell|upgrade|opportunit\w*|cross-?sell)\b", re.IGNORECASE
)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def clean_text(text: str) -> str:
    """Text without @mentions or surrounding whitespace."""
    straight = _MENTION.sub(" ", text or "").replace("\u2019", "'")
    return " ".join(straight.split())


def route(text: str) -> Intent:
    """The intent of a free-text question (UNKNOWN when no rule recognises it)."""
    cleaned = clean_text(text)
    for rule in _RULES:
        intent = rule(cleaned)
        if intent is not None:
            return replace(intent, text=cleaned)
    return Intent(IntentKind.UNKNOWN, text=cleaned)


def _help(text: str) -> Intent | None:
    return Intent(IntentKind.HELP) if not text or _HELP.match(text) else None


def _health(text: str) -> Intent | None:
    for pattern in _HEALTH_PATTERNS:
        found = re.match(pattern, text, re.IGNORECASE)
        if found and found.group("account").strip(" ,.'"):
            return Intent(IntentKind.HEALTH, account=found.group("account").strip(" ,.'"))
    return None


def _at_risk(text: str) -> Intent | None:
    if not _AT_RISK.search(text):
        return None
    within = None
    if _RENEWALS.search(text):  # "at risk and renewing in 60 days"
        days = _DAYS.search(text)
        within = max(1, min(int(days.group(1)), 365)) if days else 90
    return Intent(
        IntentKind.AT_RISK,
        mine=bool(_MINE.search(text)),
        segment=asks.segment_in(text),
        within_days=within,
    )


def _renewals(text: str) -> Intent | None:
    if not _RENEWALS.search(text) or _AT_RISK.search(text):
        return None
    days = _DAYS.search(text)
    if days:
        return Intent(IntentKind.RENEWALS, within_days=max(1, min(int(days.group(1)), 365)))
    if _QUARTER.search(text):
        return Intent(IntentKind.RENEWALS, within_days=90)
    return Intent(IntentKind.RENEWALS, next_month=bool(_NEXT_MONTH.search(text)), within_days=30)


def _expansion(text: str) -> Intent | None:
    return Intent(IntentKind.EXPANSION) if _EXPANSION.search(text) else None


_RULES: tuple[Callable[[str], Intent | None], ...] = (
    _help,
    *asks.RULES,
    _health,
    _at_risk,
    _renewals,
    _expansion,
)


# -- answer ---------------------------------------------------------------------------------


def answer(intent: Intent, deps: Deps) -> Reply:
    """Run the tools behind ``intent`` and render the reply."""
    return _ANSWERS[intent.kind](intent, deps)


def _answer_health(intent: Intent, deps: Deps) -> Reply:
    with session_scope(deps.sessions) as session:
        report = report_for(intent, deps, session)
        if isinstance(report, Reply):
            return report
        voice = health_voice(
            session, report.account.account_id, deps.today(), labeller=_labeller(deps)
        )
        recent = latest_interactions(
            session, account_id=report.account.account_id, before=deps.now(), limit=3
        )
    rendered = with_interactions(blocks.health_report(report, voice=voice), recent)
    return rendered_reply(rendered, account_id=report.account.account_id)


def _labeller(deps: Deps) -> Labeller | None:
    """Claude names /health's themes in the background: the card never waits for it."""
    return theme_labeller(deps.anthropic, deps.settings.anthropic_model, sessions=deps.sessions)


def shared_health(account_id: int, deps: Deps, *, shared_by: str) -> Reply:
    """The health card as posted to a channel by "Share to channel" (no buttons)."""
    with session_scope(deps.sessions) as session:
        report = account_report(
            session, account_id=account_id, as_of=deps.today(), config=deps.config
        )
        voice = health_voice(session, account_id, deps.today(), labeller=_labeller(deps))
    rendered = blocks.health_report(report, with_actions=False, shared_by=shared_by, voice=voice)
    return rendered_reply(rendered, account_id=account_id)


def _answer_history(intent: Intent, deps: Deps) -> Reply:
    with session_scope(deps.sessions) as session:
        report = report_for(intent, deps, session)
        if isinstance(report, Reply):
            return report
        points = health_history(
            session,
            account_id=report.account.account_id,
            as_of=deps.today(),
            config=deps.config,
        )
    rendered = blocks.health_history(report, [(p.day, p.score, p.band) for p in points])
    return rendered_reply(rendered, account_id=report.account.account_id)


def _answer_at_risk(intent: Intent, deps: Deps) -> Reply:
    owner = intent.user_id if intent.mine else None
    as_of = deps.today()
    with session_scope(deps.sessions) as session:
        reports = at_risk_accounts(
            session, as_of=as_of, config=deps.config, owner_slack_id=owner, limit=AT_RISK_LIMIT
        )
    if intent.within_days is not None:
        limit = intent.within_days
        reports = [
            r
            for r in reports
            if r.churn.days_to_renewal is not None and 0 <= r.churn.days_to_renewal <= limit
        ]
    if intent.segment:
        reports = [r for r in reports if r.account.segment == intent.segment]
    state = None
    if not reports:  # nothing at risk, or nothing to score at all?
        with session_scope(deps.sessions) as session:
            state = data_state(session, as_of=as_of)
    rendered = blocks.at_risk_list(
        reports,
        as_of=as_of,
        mine=intent.mine,
        offset=intent.offset,
        within_days=intent.within_days,
        state=state,
        segment=intent.segment,
    )
    return rendered_reply(rendered)


def renewal_window(intent: Intent, today: date) -> tuple[date, date]:
    """First and last day of the renewals the intent asks about."""
    if intent.next_month:
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return first, last
    return today, today + timedelta(days=intent.within_days or 30)


def _answer_renewals(intent: Intent, deps: Deps) -> Reply:
    as_of = deps.today()
    start, end = renewal_window(intent, as_of)
    with session_scope(deps.sessions) as session:
        summaries = account_summaries(session, as_of=as_of, config=deps.config)
        due = [
            s
            for s in summaries.values()
            if s.renewal_date is not None and start <= s.renewal_date <= end and not s.churned
        ]
        due.sort(key=lambda s: (s.renewal_date or end, -s.arr))
        ids = [s.account_id for s in due]
        reports = book_reports(session, as_of=as_of, config=deps.config, account_ids=ids)
    rendered = blocks.renewals_list(reports, as_of=as_of, start=start, end=end)
    return rendered_reply(rendered)


def _answer_expansion(intent: Intent, deps: Deps) -> Reply:
    if intent.account.strip() or intent.account_id is not None:
        with session_scope(deps.sessions) as session:
            report = report_for(
                replace(intent, command=intent.command or "/expansion"), deps, session
            )
        if isinstance(report, Reply):
            return report
        return rendered_reply(
            blocks.account_expansion(report), account_id=report.account.account_id
        )
    as_of = deps.today()
    with session_scope(deps.sessions) as session:
        found = expansion_opportunities(session, as_of=as_of, config=deps.config)
        summaries = account_summaries(
            session, as_of=as_of, account_ids=list(found), config=deps.config
        )
    items: list[tuple[AccountSummary, ExpansionOpportunity]] = [
        (summaries[account_id], opp)
        for account_id, opps in found.items()
        if account_id in summaries
        for opp in opps
    ]
    # Ranked by evidence (strength), then by the money at stake.
    items.sort(key=lambda item: (-item[1].strength, -item[1].estimated_arr, item[0].name))
    return rendered_reply(blocks.expansion_list(items, as_of=as_of, offset=intent.offset))


def _answer_qbr(intent: Intent, deps: Deps) -> Reply:
    """Build the account's QBR, save it as a new draft version, and reply with a thread:
    the starter, then the summary with Publish/Discard buttons and the health-trend chart."""
    from bot.charts import health_trend_png
    from bot.narrator import writer_for
    from bot.qbr_blocks import qbr_slack_summary
    from bot.qbr_thread import documents_of
    from tools.qbr import build_qbr, save_qbr

    with session_scope(deps.sessions) as session:
        report = report_for(replace(intent, command="/qbr"), deps, session)
        if isinstance(report, Reply):
            return report
        document = build_qbr(
            session,
            account_id=report.account.account_id,
            as_of=deps.today(),
            config=deps.config,
            writer=writer_for(deps),
            labeller=theme_labeller(deps.anthropic, deps.settings.anthropic_model),
        )
        draft = save_qbr(session, document=document, created_by=intent.user_id)
    document = document.model_copy(update={"draft_id": draft.draft_id, "version": draft.version})
    starter = blocks.qbr_started(
        report.account.name, requested_by=intent.user_id or "someone", version=draft.version
    )
    summary = rendered_reply(
        blocks.qbr_draft(
            qbr_slack_summary(document),
            draft_id=draft.draft_id,
            version=draft.version,
            title=document.title,
        )
    )
    summary.extra["chart_png"] = health_trend_png(document.health.history)
    summary.extra["draft_id"] = draft.draft_id
    summary.extra["documents"] = documents_of(document.deck, document.prep, document.account.name)
    return rendered_reply(starter, account_id=report.account.account_id, thread=summary)


def qbr_draft_reply(draft_id: int, deps: Deps) -> Reply | None:
    """A saved draft version as a thread reply: its summary, Publish/Discard and its chart."""
    from bot.charts import health_trend_png
    from bot.qbr_blocks import qbr_slack_summary
    from tools.qbr import load_qbr
    from tools.qbr_draft import draft_view

    with session_scope(deps.sessions) as session:
        view = draft_view(session, draft_id=draft_id)
        if view is None:
            return None
        document = load_qbr(session, draft_id=draft_id, config=deps.config)
    rendered = blocks.qbr_draft(
        qbr_slack_summary(document), draft_id=draft_id, version=view.version, title=document.title
    )
    reply = rendered_reply(rendered, account_id=view.account_id)
    reply.extra["chart_png"] = health_trend_png(document.health.history)
    return reply


def controls_for_created(created: Sequence[CreatedRecord], deps: Deps) -> list[Reply]:
    """Buttons for what Claude drafted in a turn: Publish/Discard under a QBR draft, the
    Approve/Edit/Dismiss card for a hand-off proposal. Nothing is sent without a press."""
    from bot.handoff_blocks import proposal_card
    from tools.handoff import handoff_card
    from tools.qbr_draft import draft_view

    replies: list[Reply] = []
    with session_scope(deps.sessions) as session:
        for record in created:
            if record.kind == "qbr_draft":
                view = draft_view(session, draft_id=record.id)
                if view is None:
                    continue
                name = f" for {view.account_name}" if view.account_name else ""
                title = f"QBR draft v{view.version}{name}"
                control = blocks.qbr_draft_controls(view.draft_id, version=view.version)
                replies.append(
                    rendered_reply(blocks.message([blocks.section(title), control], title))
                )
            elif record.kind == "handoff_proposal":
                card = handoff_card(session, handoff_id=record.id)
                replies.append(rendered_reply(proposal_card(card)))
    return replies


def _answer_help(intent: Intent, deps: Deps) -> Reply:
    return rendered_reply(blocks.help_message())


def _answer_unknown(intent: Intent, deps: Deps) -> Reply:
    return rendered_reply(blocks.unknown_intent(intent.text))


_ANSWERS: dict[IntentKind, Callable[[Intent, Deps], Reply]] = {
    IntentKind.HEALTH: _answer_health,
    IntentKind.HISTORY: _answer_history,
    IntentKind.AT_RISK: _answer_at_risk,
    IntentKind.RENEWALS: _answer_renewals,
    IntentKind.EXPANSION: _answer_expansion,
    IntentKind.QBR: _answer_qbr,
    **asks.ANSWERS,
    IntentKind.HELP: _answer_help,
    IntentKind.UNKNOWN: _answer_unknown,
}


# -- button values --------------------------------------------------------------------------


def intent_from_more_button(kind: IntentKind, value: str, *, user_id: str | None) -> Intent:
    """The next page asked for by a "Show more" button (its value is a small JSON object)."""
    try:
        data = json.loads(value)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    within = data.get("within_days")
    segment = data.get("segment")
    return Intent(
        kind,
        user_id=user_id,
        mine=bool(data.get("mine")),
        offset=max(0, int(data.get("offset") or 0)),
        within_days=int(within) if isinstance(within, int) else None,
        segment=segment if segment in asks.SEGMENTS else None,
    )


def account_id_from(value: str) -> int | None:
    """The account id a button carries, or None when the value is not one."""
    return int(value) if value.strip().isdigit() else None


# -- App Home -------------------------------------------------------------------------------


def home_view(user_id: str, deps: Deps) -> dict[str, Any]:
    """The App Home of ``user_id``: their book of business and the team view, from the day's
    scan when there is one (``tools.home_book``, ``tools.metrics``: see their freshness)."""
    as_of = deps.today()
    with session_scope(deps.sessions) as session:
        owned = owned_account_ids(session, owner_slack_id=user_id)
        book = home_book(
            session, as_of=as_of, config=deps.config, account_ids=owned, owner_slack_id=user_id
        )
        metrics: PortfolioMetrics = portfolio_metrics(session, as_of=as_of, config=deps.config)
        state = data_state(session, as_of=as_of) if metrics.active_accounts == 0 else None
        tasks = open_tasks_for(session, user_id=user_id)
        settings = home_settings(
            subscriptions_of(session, user_id=user_id), subscription_segments(session)
        )
        onboarding = onboarding_progress(
            session,
            as_of=as_of,
            config=deps.config.onboarding,
            account_ids=maybe_onboarding(book, owned, as_of, deps.config.onboarding),
            only_onboarding=True,
        )
    data = home_blocks.HomeData(
        user_id=user_id,
        as_of=as_of,
        book=book,
        metrics=metrics,
        renewal_days=HOME_RENEWAL_DAYS,
        state=state,
        onboarding=onboarding_home(list(onboarding.values())),
        time_to_value=time_to_value_lines(metrics.time_to_value),
    )
    view = home_blocks.home_view(data)
    extra = [blocks.divider(), *home_tasks(tasks), blocks.divider(), *settings]
    view["blocks"] = blocks.fit_blocks([*view["blocks"], *extra], max_blocks=blocks.MAX_VIEW_BLOCKS)
    return view
