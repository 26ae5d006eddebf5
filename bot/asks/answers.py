"""The keyless asks' answers: ``Intent`` -> ``Reply`` over the same ``tools/`` functions Claude's
tools use. Account and customer text is escaped (``esc``) before it reaches Slack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from bot import blocks
from bot.asks.rules import TRIGGER_TITLES
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
    scope = _scope(intent)
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
    total = sum((r.churn.arr_at_risk for r in picked), Decimal("0"))
    summary = f"{_count(len(picked))} · {money_text(total)} ARR at risk · as of {as_of.isoformat()}"
    return _listing(title, summary, lines, [r.account.name for r in picked])


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
        f"({summary.since.isoformat()} to {summary.until.isoformat()}); {summary.open_now} "
        f"open at the start of today, {summary.urgent_open} urgent, {summary.escalated} escalated."
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
    """Active accounts with no product activity for ``within_days`` days."""
    days = intent.within_days or 30
    as_of = deps.today()
    owner = intent.user_id if intent.mine else None
    with session_scope(deps.sessions) as session:
        quiet = quiet_accounts(
            session,
            as_of=as_of,
            days=days,
            owner_slack_id=owner,
            segment=intent.segment,
            config=deps.config,
        )
    scope = _scope(intent)
    title = f"{scope} with no activity in {days} days"
    if not quiet:
        text = f"{title}: none, as of {as_of.isoformat()}."
        return rendered_reply(message([header(title), section(text)], text))
    lines = [
        f"• *{esc(q.account.name)}* · last active "
        + (
            f"{q.last_active.isoformat()} ({q.days_since_active} days ago)"
            if q.last_active
            else "never on record"
        )
        + f" · {money_text(q.account.arr)} ARR"
        + (f" · renews {q.account.renewal_date.isoformat()}" if q.account.renewal_date else "")
        for q in quiet[:MAX_ROWS]
    ]
    summary = f"{_count(len(quiet))} · as of {as_of.isoformat()}"
    return _listing(title, summary, lines, [q.account.name for q in quiet])


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


def _count(n: int) -> str:
    return f"{n} account" + ("" if n == 1 else "s")


def _scope(intent: Intent) -> str:
    """Whose accounts a list shows: "Your accounts" or "Accounts", with the segment if any."""
    scope = "Your accounts" if intent.mine else "Accounts"
    return f"{scope} ({intent.segment})" if intent.segment else scope


def _listing(title: str, summary: str, lines: list[str], names: list[str]) -> Reply:
    """A titled list of accounts: the first ``MAX_ROWS`` ``lines`` (one per account, ``names``
    in the same order), a count of the rest, and a text fallback naming the first five."""
    shown = lines[:MAX_ROWS]
    if len(names) > MAX_ROWS:
        shown.append(f"_… and {len(names) - MAX_ROWS} more_")
    body = [header(title), context(summary), section("\n".join(shown))]
    fallback = f"{title} ({len(names)}): {esc(', '.join(names[:5]))}"
    return rendered_reply(message(body, fallback))
