"""The keyless router's everyday asks beyond health/risk/renewals/expansion.

Each ask is a rule (text -> ``Intent`` or None) and an answer (``Intent`` -> ``Reply``) over the
same ``tools/`` functions Claude's tools use:

- "draft a QBR for acme" -> a QBR draft thread (``IntentKind.QBR``)
- "why did globex drop" -> the score now vs 30 days ago and the signals that moved it
- "what's our NRR" / GRR / logo churn / NPS -> portfolio metrics
- "show me accounts whose champion left" (overdue invoice, ticket spike, detractor...) -> at-risk
  accounts filtered by that churn trigger, optionally "my", a segment, a renewal window
- "summarise umbrella's tickets" -> the last 90 days of tickets
- "who hasn't logged in for 30 days" -> active accounts with no login in that window
- "what should I do about globex" -> the playbook and next actions
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from bot import blocks
from bot.blocks import Block, context, esc, header, message, section
from bot.deps import Deps
from bot.intents import Intent, IntentKind, Reply, rendered_reply, report_for
from tools.alerts import churn_playbook
from tools.db import session_scope
from tools.facts import money_text, percent_text
from tools.insights import SignalMove, quiet_accounts, score_change, ticket_summary
from tools.metrics import portfolio_metrics
from tools.results import AccountReport
from tools.scoring import at_risk_accounts

AT_RISK_LIMIT = 200
MAX_ROWS = 15
_ACCOUNT = r"(?P<account>[\w&.,' -]{1,80}?)"
_END = r"\s*[?.!]*\s*$"
_MINE = re.compile(r"\b(?:my|mine|i own|my book)\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d{1,3})\s*(days?|weeks?|months?)\b", re.IGNORECASE)
_SEGMENTS = {
    "enterprise": "enterprise",
    "mid-market": "mid-market",
    "mid market": "mid-market",
    "midmarket": "mid-market",
    "smb": "smb",
    "small business": "smb",
}
SEGMENTS = frozenset(_SEGMENTS.values())
TRIGGER_WORDS: tuple[tuple[str, str], ...] = (
    (
        r"champion\w*\s+(?:left|gone|departed|quit)|lost\s+(?:their|the|a)\s+champion|"
        r"no\s+champion|without\s+a\s+champion",
        "champion_left",
    ),
    (r"overdue|unpaid|late\s+(?:invoice|payment)|hasn't\s+paid|not\s+paid", "overdue_invoice"),
    (r"detractor|bad\s+nps|low\s+nps", "detractor_nps"),
    (r"ticket\s+spike|spike\s+in\s+tickets|support\s+spike|lots\s+of\s+tickets", "ticket_spike"),
    (r"logins?\s+(?:falling|declining|dropping|down)|fewer\s+logins", "logins_declining"),
    (r"usage\s+(?:falling|declining|dropping|down)|declining\s+usage", "usage_declining"),
    (r"no\s+usage|stopped\s+using|not\s+using", "no_usage"),
    (r"escalat\w+", "tam_escalation"),
)
TRIGGER_TITLES = {
    "champion_left": "whose champion left",
    "overdue_invoice": "with an overdue invoice",
    "detractor_nps": "with detractor NPS",
    "ticket_spike": "with a support ticket spike",
    "logins_declining": "with logins falling",
    "usage_declining": "with usage falling",
    "no_usage": "with no product usage",
    "tam_escalation": "with a technical escalation",
    "renewal_window": "renewing soon while unhealthy",
}


def _match(patterns: tuple[str, ...], text: str) -> str | None:
    for pattern in patterns:
        found = re.match(pattern, text, re.IGNORECASE)
        if found and found.group("account").strip(" ,.'"):
            return found.group("account").strip(" ,.'")
    return None


def _days(text: str, default: int) -> int:
    found = _DAYS.search(text)
    if not found:
        return default
    unit = found.group(2).lower()
    scale = 7 if unit.startswith("week") else 30 if unit.startswith("month") else 1
    return max(1, min(int(found.group(1)) * scale, 365))


def segment_in(text: str) -> str | None:
    """The segment a question names ("enterprise accounts at risk"), if any."""
    lowered = text.lower()
    for word, segment in _SEGMENTS.items():
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            return segment
    return None


# -- rules ------------------------------------------------------------------------------------

_QBR = (
    rf"^(?:please\s+)?(?:draft|prepare|prep|write|build|create|make|start|generate|do)\s+"
    rf"(?:a\s+|an\s+|the\s+)?(?:new\s+)?qbr\s+(?:for|of|with|on)\s+{_ACCOUNT}{_END}",
    rf"^(?:please\s+)?(?:draft|prepare|prep|write|build|create|make|start|generate|do)\s+"
    rf"(?:the\s+)?{_ACCOUNT}(?:'s|s')\s+(?:next\s+)?qbr{_END}",
    rf"^(?:a\s+|the\s+)?qbr\s+(?:for|of)\s+{_ACCOUNT}{_END}",
    rf"^{_ACCOUNT}(?:'s|s')?\s+qbr(?:\s+draft)?{_END}",
)
_VERB = r"(?:drop|dropped|fall|fell|falls|decline|declined|slip|slipped|go\s+down|went\s+down|dip|dipped|get\s+worse|got\s+worse|tank|tanked)"  # noqa: E501
_WHY = (
    rf"^why\s+(?:did|has|have|does|is)\s+{_ACCOUNT}(?:'s)?\s+(?:health\s+)?(?:score\s+)?"
    rf"{_VERB}(?:\s+(?:so\s+much|recently|lately|this\s+month))?{_END}",
    rf"^why\s+(?:is|are)\s+{_ACCOUNT}(?:'s)?\s+(?:health\s+)?(?:score\s+)?(?:down|red|amber|"
    rf"dropping|falling|at\s+risk|so\s+low|worse)(?:\s+now)?{_END}",
    rf"^what\s+(?:changed|happened)\s+(?:at|with|to|for)\s+{_ACCOUNT}{_END}",
    rf"^what\s+moved\s+{_ACCOUNT}(?:'s)?\s+(?:health\s+)?score{_END}",
)
_ADVICE = (
    rf"^what\s+(?:should|do|can|could|must)\s+(?:i|we)\s+do\s+(?:about|with|for|on)\s+"
    rf"{_ACCOUNT}{_END}",
    rf"^how\s+(?:do|can|should)\s+(?:i|we)\s+(?:save|rescue|fix|help|retain)\s+{_ACCOUNT}{_END}",
    rf"^(?:next\s+steps?|playbook|action\s+plan|plan)\s+(?:for|on)\s+{_ACCOUNT}{_END}",
    rf"^what(?:'s| is| are)\s+(?:the\s+)?(?:next\s+steps?|playbook|plan)\s+(?:for|on)\s+"
    rf"{_ACCOUNT}{_END}",
)
_TICKETS = (
    rf"^(?:please\s+)?(?:summari[sz]e|summary\s+of|show(?:\s+me)?|list|what\s+are|recap)\s+"
    rf"(?:the\s+)?{_ACCOUNT}(?:'s|s')?\s+(?:support\s+)?tickets{_END}",
    rf"^(?:please\s+)?(?:summari[sz]e|summary\s+of|show(?:\s+me)?|list|what\s+are|recap|any)\s+"
    rf"(?:the\s+)?(?:recent\s+)?(?:support\s+)?tickets\s+(?:for|of|from|at|with)\s+{_ACCOUNT}{_END}",
    rf"^{_ACCOUNT}(?:'s|s')?\s+(?:support\s+)?tickets(?:\s+summary)?{_END}",
    rf"^(?:support\s+)?tickets\s+(?:for|of|from|at)\s+{_ACCOUNT}{_END}",
)
_METRICS = re.compile(
    r"\b(?P<m>nrr|grr|net\s+(?:revenue|dollar)\s+retention|gross\s+(?:revenue\s+)?retention|"
    r"logo\s+churn|retention|portfolio\s+metrics|nps|net\s+promoter)\b",
    re.IGNORECASE,
)
_QUIET = re.compile(
    r"\b(?:(?:hasn't|has\s+not|haven't|have\s+not|hadn't|not|never|no\s+one\s+has|nobody\s+has)"
    r"\s+logged\s+in|no\s+logins?|not\s+logging\s+in|stopped\s+logging\s+in|inactive|dormant|"
    r"gone\s+quiet|gone\s+dark)\b",
    re.IGNORECASE,
)


def qbr_rule(text: str) -> Intent | None:
    account = _match(_QBR, text)
    return Intent(IntentKind.QBR, account=account, command="/qbr") if account else None


def why_rule(text: str) -> Intent | None:
    account = _match(_WHY, text)
    if account is None:
        return None
    return Intent(IntentKind.WHY_CHANGED, account=account, within_days=_days(text, 30))


def advice_rule(text: str) -> Intent | None:
    account = _match(_ADVICE, text)
    return Intent(IntentKind.ADVICE, account=account) if account else None


def tickets_rule(text: str) -> Intent | None:
    account = _match(_TICKETS, text)
    if account is None or account.lower() in ("open", "my", "recent", "all", "urgent"):
        return None
    return Intent(IntentKind.TICKETS, account=account, within_days=_days(text, 90))


def metrics_rule(text: str) -> Intent | None:
    found = _METRICS.search(text)
    if found is None:
        return None
    word = found.group("m").lower()
    metric = (
        "nrr"
        if word.startswith(("nrr", "net"))
        else "grr"
        if word.startswith(("grr", "gross"))
        else "logo_churn"
        if word.startswith("logo")
        else "nps"
        if word.startswith("nps")
        else "all"
    )
    return Intent(IntentKind.METRICS, metric=metric)


def trigger_rule(text: str) -> Intent | None:
    for pattern, key in TRIGGER_WORDS:
        if re.search(pattern, text, re.IGNORECASE):
            return Intent(
                IntentKind.TRIGGER,
                trigger=key,
                mine=bool(_MINE.search(text)),
                segment=segment_in(text),
                within_days=_days(text, 60) if _renewing(text) else None,
            )
    return None


def quiet_rule(text: str) -> Intent | None:
    if not _QUIET.search(text):
        return None
    return Intent(
        IntentKind.QUIET,
        within_days=_days(text, 30),
        mine=bool(_MINE.search(text)),
        segment=segment_in(text),
    )


def _renewing(text: str) -> bool:
    return bool(re.search(r"\brenew\w*", text, re.IGNORECASE))


RULES: tuple[Callable[[str], Intent | None], ...] = (
    qbr_rule,
    why_rule,
    advice_rule,
    tickets_rule,
    quiet_rule,
    trigger_rule,
    metrics_rule,
)
"""Tried in order before the health/renewals/at-risk/expansion rules (they are more specific)."""


# -- answers ----------------------------------------------------------------------------------


def _band(band: object) -> str:
    return str(getattr(band, "value", band or "?"))


def _report(intent: Intent, deps: Deps) -> AccountReport | Reply:
    with session_scope(deps.sessions) as session:
        return report_for(intent, deps, session)


def answer_why_changed(intent: Intent, deps: Deps) -> Reply:
    """The score now and ``within_days`` ago, with the signals that moved it."""
    days = intent.within_days or 30
    with session_scope(deps.sessions) as session:
        report = report_for(intent, deps, session)
        if isinstance(report, Reply):
            return report
        change = score_change(
            session,
            account_id=report.account.account_id,
            as_of=deps.today(),
            config=deps.config,
            days=days,
        )
    name = esc(report.account.name)
    if change.before_score is None or change.change is None:
        line = f"*{name}* is at *{change.score:.0f}/100 ({change.band.value})*; there is no score "
        line += f"for {change.since.isoformat()} to compare with."
        return rendered_reply(message([section(line)], line), account_id=change.account_id)
    verb = "dropped" if change.change < 0 else "rose" if change.change > 0 else "held"
    head = (
        f"*{name}* {verb} from *{change.before_score:.0f}* ({_band(change.before_band)}) to "
        f"*{change.score:.0f}/100* ({change.band.value}) since {change.since.isoformat()} "
        f"({change.change:+.1f} points)."
    )
    down = [m for m in change.moves if m.points < 0]
    up = [m for m in change.moves if m.points > 0]
    lines = [head]
    if down:
        lines.append("*What pulled it down*\n" + "\n".join(_move(m) for m in down))
    if up:
        lines.append("*What helped*\n" + "\n".join(_move(m) for m in up))
    if not change.moves:
        lines.append("No single signal moved it by half a point or more.")
    if report.churn.triggers:
        lines.append(
            "*Churn triggers now*\n"
            + "\n".join(f"• {esc(t.label)}: {esc(t.evidence)}" for t in report.churn.triggers[:4])
        )
    body: list[Block] = [header(f"Why {report.account.name}'s score moved")]
    body += [section(line) for line in lines]
    body.append(context(f"As of {change.as_of.isoformat()} · `/health {esc(report.account.name)}`"))
    return rendered_reply(message(body, head), account_id=change.account_id)


def _move(m: SignalMove) -> str:
    before = "n/a" if m.before is None else f"{m.before:.0f}"
    after = "n/a" if m.after is None else f"{m.after:.0f}"
    return f"• {esc(m.label)}: {m.points:+.1f} points (signal {before} → {after} of 100)"


def answer_metrics(intent: Intent, deps: Deps) -> Reply:
    """NRR, GRR, logo churn and NPS from the portfolio metrics (trailing 12 months)."""
    as_of = deps.today()
    with session_scope(deps.sessions) as session:
        metrics = portfolio_metrics(session, as_of=as_of, config=deps.config)
    rows = {
        "nrr": "*NRR* (net revenue retention, trailing 12 months): "
        f"*{percent_text(metrics.nrr, 'n/a')}*",
        "grr": "*GRR* (gross revenue retention, trailing 12 months): "
        f"*{percent_text(metrics.grr, 'n/a')}*",
        "logo_churn": f"*Logo churn* (12 months): *{percent_text(metrics.logo_churn, 'n/a')}*",
        "nps": "*NPS* (90 days): *"
        + ("n/a" if metrics.nps is None else f"{metrics.nps:+.0f}")
        + "*",
    }
    first = intent.metric if intent.metric in rows else None
    order = [first] if first else []
    order += [k for k in rows if k != first]
    lines = [rows[k] for k in order if k]
    lines.append(
        f"{metrics.active_accounts} active accounts · {money_text(metrics.total_arr)} ARR · "
        f"average health {metrics.average_health:.0f}"
        if metrics.average_health is not None
        else f"{metrics.active_accounts} active accounts · {money_text(metrics.total_arr)} ARR"
    )
    body = [header("Portfolio retention"), section("\n".join(lines))]
    body.append(context(f"As of {as_of.isoformat()} · from cs-copilot's metrics"))
    return rendered_reply(message(body, lines[0].replace("*", "")))


def answer_trigger(intent: Intent, deps: Deps) -> Reply:
    """At-risk accounts with one churn trigger (champion left, overdue invoice...)."""
    as_of = deps.today()
    owner = intent.user_id if intent.mine else None
    with session_scope(deps.sessions) as session:
        reports = at_risk_accounts(
            session, as_of=as_of, config=deps.config, owner_slack_id=owner, limit=AT_RISK_LIMIT
        )
    picked = [
        r
        for r in reports
        if any(t.key == intent.trigger for t in r.churn.triggers)
        and (intent.segment is None or r.account.segment == intent.segment)
        and (intent.within_days is None or _renews_within(r, intent.within_days))
    ]
    scope = "Your accounts" if intent.mine else "Accounts"
    if intent.segment:
        scope = f"{scope} ({intent.segment})"
    title = f"{scope} {TRIGGER_TITLES.get(intent.trigger or '', intent.trigger or '')}"
    if intent.within_days:
        title += f", renewing within {intent.within_days} days"
    if not picked:
        text = f"{title}: none as of {as_of.isoformat()}."
        return rendered_reply(message([header(title), section(text)], text))
    lines = []
    for r in picked[:MAX_ROWS]:
        hit = next(t for t in r.churn.triggers if t.key == intent.trigger)
        lines.append(
            f"• *{esc(r.account.name)}* · {r.health.score:.0f}/100 {r.health.band.value} · "
            f"{r.churn.level.value} risk · {money_text(r.account.arr)} ARR — {esc(hit.evidence)}"
        )
    if len(picked) > MAX_ROWS:
        lines.append(f"_… and {len(picked) - MAX_ROWS} more_")
    total = sum((r.churn.arr_at_risk for r in picked), Decimal("0"))
    body = [
        header(title),
        context(
            f"{_count(len(picked))} · {money_text(total)} ARR at risk · as of {as_of.isoformat()}"
        ),
        section("\n".join(lines)),
    ]
    names = ", ".join(r.account.name for r in picked[:5])
    return rendered_reply(message(body, f"{title} ({len(picked)}): {esc(names)}"))


def _renews_within(report: AccountReport, days: int) -> bool:
    left = report.churn.days_to_renewal
    return left is not None and 0 <= left <= days


def answer_tickets(intent: Intent, deps: Deps) -> Reply:
    """The account's tickets over the window: volume, open, urgent, sentiment, recent subjects."""
    days = intent.within_days or 90
    with session_scope(deps.sessions) as session:
        report = report_for(replace(intent, command=intent.command or "/health"), deps, session)
        if isinstance(report, Reply):
            return report
        summary = ticket_summary(
            session, account_id=report.account.account_id, as_of=deps.today(), days=days
        )
    name = esc(report.account.name)
    head = (
        f"*{name}*: {summary.opened} tickets opened in the last {days} days "
        f"({summary.since.isoformat()} to {summary.as_of.isoformat()}); {summary.open_now} open "
        f"now, {summary.urgent_open} urgent, {summary.escalated} escalated."
    )
    lines = [head]
    if summary.by_priority:
        lines.append(
            "By priority: " + ", ".join(f"{k} {v}" for k, v in summary.by_priority.items())
        )
    facts = []
    if summary.average_sentiment is not None:
        facts.append(f"average sentiment {summary.average_sentiment:+.2f} (-1 angry … +1 happy)")
    if summary.median_days_to_close is not None:
        facts.append(f"median {summary.median_days_to_close:.1f} days to close")
    if facts:
        lines.append("; ".join(facts).capitalize() + ".")
    if summary.untrusted_subjects:
        lines.append(
            "*Most recent subjects* (customer text)\n"
            + "\n".join(f"• “{esc(blocks.clip(s, 150))}”" for s in summary.untrusted_subjects)
        )
    body: list[Block] = [header(f"{report.account.name}: support tickets")]
    body += [section(line) for line in lines]
    return rendered_reply(message(body, head), account_id=report.account.account_id)


def answer_quiet(intent: Intent, deps: Deps) -> Reply:
    """Active accounts nobody logged in to for ``within_days`` days."""
    days = intent.within_days or 30
    as_of = deps.today()
    owner = intent.user_id if intent.mine else None
    with session_scope(deps.sessions) as session:
        quiet = quiet_accounts(
            session, as_of=as_of, days=days, owner_slack_id=owner, segment=intent.segment
        )
    scope = "Your accounts" if intent.mine else "Accounts"
    if intent.segment:
        scope = f"{scope} ({intent.segment})"
    title = f"{scope} with no login in {days} days"
    if not quiet:
        text = f"{title}: none, as of {as_of.isoformat()}."
        return rendered_reply(message([header(title), section(text)], text))
    lines = [
        f"• *{esc(q.account.name)}* · last login "
        + (
            f"{q.last_login.isoformat()} ({q.days_since_login} days ago)"
            if q.last_login
            else "never on record"
        )
        + f" · {money_text(q.account.arr)} ARR"
        + (f" · renews {q.account.renewal_date.isoformat()}" if q.account.renewal_date else "")
        for q in quiet[:MAX_ROWS]
    ]
    if len(quiet) > MAX_ROWS:
        lines.append(f"_… and {len(quiet) - MAX_ROWS} more_")
    body = [
        header(title),
        context(f"{_count(len(quiet))} · as of {as_of.isoformat()}"),
        section("\n".join(lines)),
    ]
    names = ", ".join(q.account.name for q in quiet[:5])
    return rendered_reply(message(body, f"{title} ({len(quiet)}): {esc(names)}"))


def answer_advice(intent: Intent, deps: Deps) -> Reply:
    """What to do about an account: the playbook its risk calls for, then the Lean plays."""
    report = _report(intent, deps)
    if isinstance(report, Reply):
        return report
    playbook = churn_playbook(report)
    name = esc(report.account.name)
    why = (
        "; ".join(f"{esc(t.label)} ({esc(t.evidence)})" for t in report.churn.triggers[:3])
        or "no churn trigger has fired"
    )
    head = (
        f"*{name}* is {report.health.score:.0f}/100 ({report.health.band.value}), "
        f"{report.churn.level.value} churn risk: {why}."
    )
    steps = "\n".join(
        f"{i}. *{esc(s.title)}* ({esc(s.owner)}): {esc(s.detail)}"
        for i, s in enumerate(playbook.steps, start=1)
    )
    lines = [head, f"*{esc(playbook.title)}* — {esc(playbook.goal)}\n{steps}"]
    others = [f.playbook for f in report.lean if f.playbook.key != playbook.key][:2]
    if others:
        lines.append("*Also*\n" + "\n".join(f"• {esc(p.title)}: {esc(p.goal)}" for p in others))
    if report.expansion and report.churn.level.value == "low":
        opp = report.expansion[0]
        lines.append(f"*Upside*: {esc(opp.title)} (≈{money_text(opp.estimated_arr)} ARR)")
    if report.account.renewal_date is not None:
        days_left = (report.account.renewal_date - deps.today()).days
        lines.append(
            f"Renews {report.account.renewal_date.isoformat()} ({days_left} days) · "
            f"{money_text(report.account.arr)} ARR"
        )
    body: list[Block] = [header(f"What to do about {report.account.name}")]
    body += [section(line) for line in lines]
    body.append(context(f"`/qbr {name}` drafts the QBR · `/health {name}` shows the drivers"))
    return rendered_reply(message(body, head), account_id=report.account.account_id)


ANSWERS: dict[IntentKind, Callable[[Intent, Deps], Reply]] = {
    IntentKind.WHY_CHANGED: answer_why_changed,
    IntentKind.METRICS: answer_metrics,
    IntentKind.TRIGGER: answer_trigger,
    IntentKind.TICKETS: answer_tickets,
    IntentKind.QUIET: answer_quiet,
    IntentKind.ADVICE: answer_advice,
}

EXAMPLES: tuple[str, ...] = (
    "draft a QBR for acme",
    "why did globex drop?",
    "what's our NRR?",
    "show me accounts whose champion left",
    "summarise umbrella's tickets",
    "who hasn't logged in for 30 days?",
    "what should I do about globex?",
)


def _count(n: int) -> str:
    return f"{n} account" + ("" if n == 1 else "s")
