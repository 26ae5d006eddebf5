"""A QBR is two documents: the CSM's internal prep doc and the customer-facing deck.

- **Internal prep** (``prep.*``): risk (score, band, churn triggers, ARR at risk, renewal),
  playbooks, talk track, stakeholder map (contacts), ticket and NPS themes, recent interactions.
- **Customer deck** (``deck.*``): goals and outcomes, value delivered (with its stated
  assumptions), adoption, roadmap asks, next steps. It never uses internal risk language:
  ``internal_terms_in(text)`` finds any of ``FORBIDDEN_DECK_TERMS`` and the deck is checked with
  it whenever it is built or revised.

Both are markdown sections stored in the draft's ``sections`` (``deck.value_delivered``...) next
to the four classic sections, so each revision is one new ``QbrDraft`` version. Every number is
taken from the ``QbrDocument`` (which took it from the scoring tools) or counted here from the
database; customer-written text (ticket subjects, NPS comments, interaction notes) appears quoted
as data only.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, col, select

from tools.alerts import churn_playbook
from tools.facts import data_end, money_text, window_start
from tools.insights import ticket_summary
from tools.models import Contact, Interaction, NpsResponse, Ticket
from tools.qbr import QbrDocument
from tools.results import AccountReport
from tools.voc import voice_of_customer
from tools.voc.labels import Labeller
from tools.voc.render import voice_markdown

DECK_SECTIONS: dict[str, str] = {
    "deck.goals_outcomes": "Your goals and outcomes",
    "deck.value_delivered": "Value delivered",
    "deck.adoption": "Adoption",
    "deck.roadmap_asks": "Your roadmap asks",
    "deck.next_steps": "Next steps",
}
PREP_SECTIONS: dict[str, str] = {
    "prep.risk": "Risk and renewal",
    "prep.playbooks": "Playbooks",
    "prep.talk_track": "Talk track",
    "prep.stakeholders": "Stakeholder map",
    "prep.themes": "Ticket and NPS themes",
    "prep.interactions": "Recent interactions",
}
GOALS_HEADING = "**Goals you shared with us**"
FORBIDDEN_DECK_TERMS: tuple[str, ...] = (
    "churn",
    "arr at risk",
    "at risk",
    "at-risk",
    "risk",
    "right-size",
    "right size",
    "rightsiz",
    "amber",
    "red",
    "green",
    "health score",
    "band",
    "detractor",
    "escalation",
    "playbook",
    "talk track",
    "save plan",
    "muda",
    "mura",
    "muri",
    "waste",
    "unused licence",
    "unused license",
    "trigger",
    "hand off to sales",
    "hand-off",
    "upsell",
)
_TERM = {
    t: re.compile(rf"\b{re.escape(t)}" + ("" if t == "rightsiz" else r"\b"), re.IGNORECASE)
    for t in FORBIDDEN_DECK_TERMS
}
RECENT_DAYS = 90
MAX_QUOTES = 5


def internal_terms_in(text: str) -> list[str]:
    """The internal terms ``text`` uses (a customer deck must use none)."""
    return [term for term, pattern in _TERM.items() if pattern.search(text)]


def _quote(text: str, limit: int = 140) -> str:
    flat = " ".join(str(text).split()).replace("“", '"').replace("”", '"')
    return "“" + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + "”"


# -- customer deck -----------------------------------------------------------------------------


def _goals_outcomes(doc: QbrDocument, goals: list[str]) -> str:
    r = doc.roi
    lines = [GOALS_HEADING]
    lines += [f"- {g}" for g in goals] or ["- To confirm together in this review."]
    lines += ["", "**Outcomes this quarter**"]
    lines.append(
        f"- {r.events:,} product actions in {doc.quarter} ({doc.period_start} to {doc.period_end})."
    )
    lines.append(f"- An estimated {r.hours_saved:,.0f} hours of manual work saved.")
    if r.integration_events:
        lines.append(f"- {r.integration_events:,} automated integration/API events.")
    return "\n".join(lines)


def _value_delivered(doc: QbrDocument) -> str:
    r = doc.roi
    lines = [f"- **{m.label}**: {m.value} ({m.basis})" for m in r.metrics]
    lines += ["", "**Assumptions behind these estimates**"]
    lines += [f"- {a}" for a in r.assumptions]
    return "\n".join(lines)


def _adoption(doc: QbrDocument) -> str:
    a = doc.adoption
    lines = [
        f"{a.at_benchmark} of {a.in_plan_features} features in your plan are used at or above "
        f"the typical level of similar teams (peak {a.peak_active_users} active users in 30 days)."
    ]
    strong = [row for row in a.rows if row.status == "above"][:4]
    if strong:
        lines += ["", "**Where your team is strongest**"]
        lines += [f"- {row.name}: {row.adoption:.0%} of active users" for row in strong]
    if a.under_used:
        lines += ["", "**Where there is more to gain**"]
        lines += [
            f"- {u.name}: {u.adoption:.0%} of active users today, {u.benchmark:.0%} is typical "
            f"(about {u.users_to_benchmark} more users)"
            for u in a.under_used[:4]
        ]
    return "\n".join(lines)


def _ticket_asks(session: Session, account_id: int, as_of: date) -> list[tuple[str, int]]:
    # The ticket summary's window: RECENT_DAYS complete days, the as-of day left out.
    since = data_end(window_start(as_of, RECENT_DAYS))
    subjects = session.exec(
        select(Ticket.subject).where(
            Ticket.account_id == account_id,
            col(Ticket.opened_at) >= since,
            col(Ticket.opened_at) < data_end(as_of),
        )
    ).all()
    counts = Counter(" ".join(s.split()) for s in subjects if s and s.strip())
    return counts.most_common(MAX_QUOTES)


def _roadmap_asks(asks: list[tuple[str, int]]) -> str:
    asks = [(s, n) for s, n in asks if not internal_terms_in(s)]
    lines = ["**What your team raised with us this quarter** (in your words)"]
    lines += [f"- {_quote(s)} ({n} request{'s' if n != 1 else ''})" for s, n in asks] or [
        "- Nothing raised with support this quarter."
    ]
    lines += ["", "- Which two product improvements would matter most to you next quarter?"]
    return "\n".join(lines)


_CUSTOMER_STEPS = {
    "renewal": "Agree next year's plan, scope and success measures together",
    "adoption": "A short enablement session to bring more of your team onto {feature}",
    "expansion": "Explore whether {title} fits your plans",
}


def _next_steps(doc: QbrDocument) -> str:
    e = doc.expansion
    steps: list[str] = []
    if e.renewal.renewal_date is not None:
        steps.append(f"{_CUSTOMER_STEPS['renewal']} (current term ends {e.renewal.renewal_date}).")
    if doc.adoption.under_used:
        steps.append(
            _CUSTOMER_STEPS["adoption"].format(feature=doc.adoption.under_used[0].name) + "."
        )
    for opp in e.opportunities[:1]:
        title = re.sub(r"(?i)\bupsell\b|\bupgrade\b", "an upgrade", opp.title)
        steps.append(_CUSTOMER_STEPS["expansion"].format(title=title.lower()) + ".")
    steps.append("Confirm your goals for next quarter and how we will measure them.")
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))


def deck_sections(
    session: Session, doc: QbrDocument, *, goals: list[str] | None = None
) -> dict[str, str]:
    """The customer deck's sections (markdown), free of internal terms."""
    asks = _ticket_asks(session, doc.account.account_id, doc.as_of)
    return {
        "deck.goals_outcomes": _goals_outcomes(doc, goals or []),
        "deck.value_delivered": _value_delivered(doc),
        "deck.adoption": _adoption(doc),
        "deck.roadmap_asks": _roadmap_asks(asks),
        "deck.next_steps": _next_steps(doc),
    }


# -- internal prep -----------------------------------------------------------------------------


def _risk(doc: QbrDocument, report: AccountReport) -> str:
    h, renewal = doc.health, doc.expansion.renewal
    lines = [
        f"- **Health score** {h.score:.0f}/100 ({h.band.value}), band trend {h.band_trend}",
        f"- **Churn risk** {h.churn_level}; **ARR at risk** {money_text(renewal.arr_at_risk)} of "
        f"{money_text(renewal.arr)} ARR",
    ]
    if renewal.renewal_date is not None:
        lines.append(f"- **Renewal** {renewal.renewal_date} ({renewal.days_to_renewal} days)")
    lines += [f"- Trigger: {t.label} — {t.evidence}" for t in h.churn_triggers]
    lines += [f"- Lean: {w}" for w in doc.roi.waste]
    return "\n".join(lines)


def _playbooks(report: AccountReport) -> str:
    first = churn_playbook(report)
    books = [first, *[f.playbook for f in report.lean if f.playbook.key != first.key]]
    lines = []
    for book in books[:3]:
        lines.append(f"**{book.title}** — {book.goal}")
        lines += [f"{i}. {s.title} ({s.owner}): {s.detail}" for i, s in enumerate(book.steps, 1)]
        lines.append("")
    return "\n".join(lines).strip()


def _talk_track(doc: QbrDocument, report: AccountReport) -> str:
    r = doc.roi
    lines = [
        f"- Open with value: {r.events:,} product actions and about {r.hours_saved:,.0f} hours "
        "saved this quarter.",
    ]
    for t in report.churn.triggers[:2]:
        lines.append(f"- Raise gently: {t.label.lower()} ({t.evidence}); ask what changed.")
    if doc.adoption.under_used:
        lines.append(f"- Offer enablement on {doc.adoption.under_used[0].name}.")
    for opp in report.expansion[:1]:
        lines.append(f"- If the mood is right: {opp.talk_track}")
    lines.append("- Close on goals for next quarter and a date for the next check-in.")
    return "\n".join(lines)


def _stakeholders(session: Session, account_id: int, as_of: date) -> str:
    contacts = session.exec(
        select(Contact).where(Contact.account_id == account_id).order_by(col(Contact.name))
    ).all()
    if not contacts:
        return "- No contacts on record: find the sponsor and the champion before the meeting."
    order = {"executive_sponsor": 0, "decision_maker": 1, "champion": 2, "admin": 3, "user": 4}
    lines = []
    for c in sorted(contacts, key=lambda c: (c.left_on is not None, order.get(c.role, 9), c.name)):
        role = c.role.replace("_", " ")
        if c.left_on is not None:
            state = f"left on {c.left_on}"
        elif c.last_engaged_at is not None:
            state = f"last engaged {(as_of - c.last_engaged_at.date()).days} days ago"
        else:
            state = "never engaged"
        lines.append(f"- {c.name} · {role} · {state}")
    roles = {c.role for c in contacts if c.left_on is None}
    missing = [r.replace("_", " ") for r in ("champion", "executive_sponsor") if r not in roles]
    if missing:
        lines.append(f"- Gap: no active {' or '.join(missing)}")
    return "\n".join(lines)


def _themes(
    session: Session, account_id: int, as_of: date, labeller: Labeller | None = None
) -> str:
    tickets = ticket_summary(session, account_id=account_id, as_of=as_of, days=RECENT_DAYS)
    lines = [
        f"- Tickets, {RECENT_DAYS} days: {tickets.opened} opened, {tickets.open_now} open, "
        f"{tickets.urgent_open} urgent open, {tickets.escalated} escalated"
        + (
            f"; average sentiment {tickets.average_sentiment:+.2f}"
            if tickets.average_sentiment is not None
            else ""
        )
    ]
    asks = _ticket_asks(session, account_id, as_of)
    lines += [f"- Theme: {_quote(s)} ({n} ticket{'s' if n != 1 else ''})" for s, n in asks]
    since = datetime.combine(as_of - timedelta(days=RECENT_DAYS - 1), time.min, tzinfo=UTC)
    responses = session.exec(
        select(NpsResponse)
        .where(NpsResponse.account_id == account_id, col(NpsResponse.responded_at) >= since)
        .order_by(col(NpsResponse.responded_at).desc())
    ).all()
    nps = [r for r in responses if r.kind == "nps"]
    if nps:
        promoters = sum(r.score >= 9 for r in nps)
        detractors = sum(r.score <= 6 for r in nps)
        lines.append(
            f"- NPS, {RECENT_DAYS} days: {len(nps)} responses, {promoters} promoters, "
            f"{detractors} detractors"
        )
    lines += [f"- Comment ({r.score}/10): {_quote(r.comment)}" for r in nps[:3] if r.comment]
    voice = voice_of_customer(
        session, as_of=as_of, window_days=RECENT_DAYS, account_ids=[account_id], labeller=labeller
    )
    lines += ["", "**Voice of the customer**", voice_markdown(voice)]
    return "\n".join(lines)


def _interactions(session: Session, account_id: int, as_of: date) -> str:
    until = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)  # nothing after as_of
    rows = session.exec(
        select(Interaction)
        .where(Interaction.account_id == account_id, col(Interaction.occurred_at) < until)
        .order_by(col(Interaction.occurred_at).desc())
        .limit(MAX_QUOTES)
    ).all()
    if not rows:
        return "- No interactions on record."
    return "\n".join(
        f"- {i.occurred_at.date()} · {i.kind}" + (f": {_quote(i.summary)}" if i.summary else "")
        for i in rows
    )


def prep_sections(
    session: Session,
    doc: QbrDocument,
    report: AccountReport,
    *,
    labeller: Labeller | None = None,
) -> dict[str, str]:
    """The internal prep doc's sections (markdown); ``labeller`` names the voice of the
    customer's themes (Claude), else they show their top words."""
    account_id = doc.account.account_id
    return {
        "prep.risk": _risk(doc, report),
        "prep.playbooks": _playbooks(report),
        "prep.talk_track": _talk_track(doc, report),
        "prep.stakeholders": _stakeholders(session, account_id, doc.as_of),
        "prep.themes": _themes(session, account_id, doc.as_of, labeller),
        "prep.interactions": _interactions(session, account_id, doc.as_of),
    }


def deck_markdown(sections: dict[str, str]) -> str:
    """The customer deck as one markdown text (what Notion receives)."""
    return "\n\n".join(
        f"## {title}\n\n{sections[key]}" for key, title in DECK_SECTIONS.items() if key in sections
    )


def goals_in(section: str) -> list[str]:
    """The goals listed in a goals-and-outcomes section."""
    if GOALS_HEADING not in section:
        return []
    block = section.split(GOALS_HEADING, 1)[1].split("\n\n", 1)[0]
    goals = [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]
    return [g for g in goals if g != "To confirm together in this review."]


def deck_notion_blocks(doc: QbrDocument) -> list[dict[str, object]]:
    """The customer deck as Notion blocks: what "Publish to Notion" sends."""
    from tools.qbr_render import callout, divider, heading, markdown_blocks, paragraph

    blocks: list[dict[str, object]] = [
        callout(
            f"{doc.account.name} · {doc.quarter} · {doc.period_start} to {doc.period_end}", "📊"
        )
    ]
    for key, title in DECK_SECTIONS.items():
        if doc.deck.get(key):
            blocks += [heading(title, 2), *markdown_blocks(doc.deck[key]), divider()]
    blocks.append(paragraph("Figures are estimates based on the assumptions stated above."))
    return blocks


def publish_blocks(doc: QbrDocument, *, chart_url: str | None = None) -> list[dict[str, object]]:
    """What a QBR page holds: the customer deck when the draft has one, else the classic QBR."""
    from tools.qbr_render import render_notion_blocks

    if doc.deck:
        return deck_notion_blocks(doc)
    return render_notion_blocks(doc, chart_url=chart_url)
