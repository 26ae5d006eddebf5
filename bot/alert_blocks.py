"""Block Kit for scheduled messages: churn alerts, the draft outreach email, QBR DMs, the digest.

Built on the primitives of ``bot.blocks``; every renderer returns ``(blocks, fallback_text)``
within Slack's limits and re-computes no number.
"""

from __future__ import annotations

import json
from datetime import date

from bot.alert_action_blocks import alert_actions
from bot.blocks import (
    RISK_EMOJI,
    Block,
    Rendered,
    actions,
    band_label,
    bullets,
    button,
    context,
    divider,
    esc,
    header,
    message,
    owner_label,
    renewal_label,
    section,
)
from bot.slack_out import mention
from tools.alert_outcomes import AlertStats
from tools.alerts import DigestData, OutreachDraft
from tools.facts import money_text
from tools.qbr_draft import SECTION_TITLES, QbrDraftView
from tools.results import AccountReport, BandMix, Playbook

ACTION_QBR_CONTINUE = "qbr_continue"
"""The button on a scheduled QBR DM: continue the draft in a thread (value: JSON ids)."""


def churn_alert(
    report: AccountReport,
    *,
    as_of: date,
    reason: str,
    narrative: str,
    playbook: Playbook,
    alert_ref: str | None = None,
) -> Rendered:
    """A churn alert for the alerts channel, @-mentioning the owner; with ``alert_ref`` (the
    alert's key) it carries the Acknowledge / Snooze / Assign / Create task / Log a note row."""
    acct, health, churn = report.account, report.health, report.churn
    owner = owner_label(acct)
    triggers = bullets(
        (f"*{esc(t.label)}* ({t.severity.value}): {esc(t.evidence)}" for t in churn.triggers),
        limit=6,
        empty="_no trigger: the health band alone_",
    )
    drivers = bullets(
        (f"{esc(d.text)} ({d.impact:+.0f})" for d in health.drivers[:4]),
        limit=4,
        empty="_no driver recorded_",
    )
    steps = bullets(
        (f"*{esc(s.title)}*: {esc(s.detail)}" for s in playbook.steps), limit=4, empty=""
    )
    blocks: list[Block] = [
        header(f"Churn risk: {acct.name}"),
        section(f"{RISK_EMOJI[churn.level]} {owner} — *{esc(acct.name)}*: {esc(reason)}"),
        section(
            fields=[
                f"*Health*\n{health.score:.0f}/100 {band_label(health.band)}",
                f"*Churn risk*\n{RISK_EMOJI[churn.level]} {churn.level.value}",
                f"*Renewal*\n{renewal_label(acct, as_of)}",
                f"*ARR at risk*\n{money_text(churn.arr_at_risk)}",
            ]
        ),
        section(f"*Triggers*\n{triggers}"),
        section(f"*Drivers*\n{drivers}"),
        section(f"*What is going on*\n{esc(narrative)}"),
        section(f"*Suggested playbook: {esc(playbook.title)}*\n_{esc(playbook.goal)}_\n{steps}"),
        context(f"Owner {owner} · {esc(acct.segment)} · a draft outreach email is in the thread"),
    ]
    if alert_ref is not None:
        blocks.append(alert_actions(alert_ref))
    text = f"Churn risk: {acct.name} ({churn.level.value}) — {owner}: {reason}"
    return message(blocks, text)


def outreach_email_reply(draft: OutreachDraft, *, account_name: str) -> Rendered:
    """The thread reply holding the draft outreach email, clearly never sent."""
    blocks: list[Block] = [
        section(
            f":memo: *DRAFT outreach email for {esc(account_name)}* — "
            "not sent; edit it and send it yourself if it helps."
        ),
        section(f"*Subject:* {esc(draft.subject)}"),
        section(f"```{esc(draft.body)}```"),
        context("Draft written by cs-copilot from the account's signals. Nothing was emailed."),
    ]
    return message(blocks, f"DRAFT outreach email for {account_name} (not sent)")


def qbr_draft_dm(
    view: QbrDraftView, *, account_name: str, why: str, owner_slack_id: str | None
) -> Rendered:
    """The DM (or channel post, when nobody owns the account) announcing a scheduled QBR draft."""
    value = json.dumps({"account_id": view.account_id, "draft_id": view.draft_id}, sort_keys=True)
    to = f"{mention(owner_slack_id)}" if owner_slack_id else "_no owner on this account_"
    preview = view.sections.get("health_summary", "").splitlines()[:4]
    blocks: list[Block] = [
        header(f"QBR draft ready: {account_name}"),
        section(f":memo: {to} — {esc(why)}. A first draft (version {view.version}) is stored."),
        section("*Health summary (preview)*\n" + esc("\n".join(preview) or "—")),
        context("Sections: " + (", ".join(SECTION_TITLES.get(k, k) for k in view.sections) or "—")),
        actions(
            button("Continue in a thread", ACTION_QBR_CONTINUE, value, style="primary"),
            block_id=f"qbr_continue:{view.draft_id}",
        ),
    ]
    return message(blocks, f"QBR draft ready for {account_name}: {why}")


def _mix_line(mix: BandMix, previous: BandMix | None) -> str:
    def count(band: str) -> str:
        now = int(getattr(mix, band))
        if previous is None:
            return str(now)
        return f"{now} ({now - int(getattr(previous, band)):+d})"

    return (
        f":large_green_circle: GREEN {count('green')}   "
        f":large_yellow_circle: AMBER {count('amber')}   "
        f":red_circle: RED {count('red')}"
    )


def digest_follow_up(stats: AlertStats | None) -> str:
    """Alert precision and time to first action, as ``csbot alerts stats`` computes them."""
    if stats is None or stats.alerts == 0:
        return "no churn alert yet"
    known = stats.churned + stats.saved + stats.renewed_without_action
    precision = (
        f"precision {stats.precision:.0%} ({known} outcomes known)"
        if stats.precision is not None
        else "precision: no outcome known yet"
    )
    median = stats.median_hours_to_first_action
    acted = f"{stats.acted}/{stats.alerts} acted on"
    return f"{precision} · {acted}" + (
        f", median {median:.1f} h to first action" if median is not None else ""
    )


def weekly_digest(data: DigestData, *, voice: Block | None = None) -> Rendered:
    """The leaders' weekly digest; ``voice`` is the portfolio's voice-of-the-customer section."""
    risks = bullets(
        (
            f"*{esc(r.name)}* — {r.level} risk, {r.score:.0f} ({r.band})"
            + (f" · {mention(r.owner_slack_id)}" if r.owner_slack_id else "")
            for r in data.new_risks
        ),
        limit=10,
        empty="_none this week_",
    )
    renewals = data.renewals_90d
    renewal_text = (
        f"{renewals.count} renewals, {money_text(renewals.arr)} ARR; "
        f"*{money_text(renewals.arr_at_risk)} at risk* (churn risk medium/high)"
        if renewals is not None
        else "—"
    )
    change = "vs last week" if data.previous_mix is not None else "no snapshot from last week"
    blocks: list[Block] = [
        header(f"Weekly CS digest — {data.week}"),
        section(f"*Health mix* ({data.active_accounts} active accounts, {change})"),
        section(_mix_line(data.band_mix, data.previous_mix)),
        divider(),
        section(f"*New risks this week*\n{risks}"),
        section(
            fields=[
                f"*Renewals next 90 days*\n{renewal_text}",
                f"*Expansion pipeline*\n{data.expansion_count} opportunities, "
                f"{money_text(data.expansion_arr)} est. ARR",
                f"*Churn alerts sent*\n{data.alerts_sent} this week"
                + (f" (+{data.alerts_capped} listed in book DMs)" if data.alerts_capped else ""),
                f"*Alert follow-up*\n{digest_follow_up(data.alert_stats)}",
            ]
        ),
        *([voice] if voice is not None else []),
        context(f"As of {data.as_of.isoformat()} · cs-copilot"),
    ]
    text = (
        f"Weekly CS digest {data.week}: {len(data.new_risks)} new risks, "
        f"{data.alerts_sent} alerts sent"
    )
    return message(blocks, text)
