"""Renderers of a ``QbrDocument``: Markdown, Notion blocks and page properties.

Renderers only format: every number is read from the document. Notion output respects the API's
limits by construction (rich-text items of at most 2,000 characters, tables with one row per
``table_row`` child); the publisher batches children 100 at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tools.facts import money_text, percent_text
from tools.qbr import QbrDocument
from tools.qbr_draft import SECTION_TITLES, SECTIONS
from tools.wording import days_from_now

RICH_TEXT_MAX = 2000
BAND_EMOJI = {"GREEN": "🟢", "AMBER": "🟠", "RED": "🔴"}
STATUS_MARK = {
    "above": "✅ at/above",
    "below": "⚠️ below",
    "unused": "⛔ unused",
    "not_in_plan": "—",
}
FULL_TITLES = {
    "health_summary": "Account health summary",
    "roi_impact": "ROI & business impact",
    "adoption_scorecard": "Feature adoption scorecard",
    "expansion_next_steps": "Expansion & next steps",
}

Block = dict[str, Any]


# -- Markdown ------------------------------------------------------------------------------------


def _md_health(doc: QbrDocument) -> str:
    h = doc.health
    lines = [
        h.narrative,
        "",
        f"**Health: {h.score:.0f}/100 ({h.band.value})** as of {doc.as_of}"
        + (
            f" — {h.start_score:.0f} ({h.start_band.value}) on {doc.period_start}"
            if h.start_band and h.start_score is not None
            else ""
        )
        + ".",
        f"Band trend: {h.band_trend}. Churn risk: **{h.churn_level}**.",
    ]
    if h.history:
        lines += [
            "",
            "Score history: " + ", ".join(f"{p.day:%-d %b} {p.score:.0f}" for p in h.history),
        ]
    if h.movers:
        lines += ["", "**Signals that moved the score this quarter**"]
        lines += [
            f"- {m.label}: {m.points:+.1f} points"
            + (
                f" ({m.before:.0f} → {m.after:.0f}/100)"
                if m.before is not None and m.after is not None
                else ""
            )
            for m in h.movers
        ]
    if h.drivers:
        lines += ["", "**What drives the score today**"]
        lines += [f"- {d.text} ({d.impact:+.0f})" for d in h.drivers]
    if h.churn_triggers:
        lines += ["", "**Risk signals**"]
        lines += [f"- {t.label}: {t.evidence}" for t in h.churn_triggers]
    if h.voice:
        lines += ["", "**Voice of the customer**", h.voice]
    return "\n".join(lines).strip()


def _md_roi(doc: QbrDocument) -> str:
    r = doc.roi
    seats = (
        f", {r.seats_used if r.seats_used is not None else 0} of {r.seats_purchased} seats in use"
        if r.seats_purchased
        else ""
    )
    lines = [r.narrative, "", f"Plan: {r.plan or 'n/a'}, ARR {money_text(r.arr)}{seats}.", ""]
    lines += ["| Value delivered | Amount | How it is computed |", "|---|---|---|"]
    lines += [f"| {m.label} | {m.value} | {m.basis} |" for m in r.metrics]
    lines += ["", "**Assumptions** (estimates, not measurements)"]
    lines += [f"- {a}" for a in r.assumptions]
    if r.waste:
        lines += ["", "**Value at stake**"]
        lines += [f"- {w}" for w in r.waste]
    return "\n".join(lines).strip()


def _md_adoption(doc: QbrDocument) -> str:
    a = doc.adoption
    lines = [a.narrative, ""]
    rows = [row for row in a.rows if row.in_plan or row.users]
    if rows:
        lines += [
            "| Feature | Tier | Users | Adoption | Benchmark | Status |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.name} | {r.tier} | {r.users} | {percent_text(r.adoption)} | "
            f"{percent_text(r.benchmark)} | {STATUS_MARK[r.status]} |"
            for r in rows
        ]
        lines.append(
            "\nAdoption = peak users of the feature / peak daily active users "
            f"({a.peak_active_users}), last 30 days."
        )
    else:
        lines.append("No feature usage recorded in the last 30 days.")
    if a.under_used:
        lines += ["", "**Under-used features**"]
        lines += [
            f"- **{u.name}** ({percent_text(u.adoption)} vs {percent_text(u.benchmark)}): "
            f"{u.recommendation}"
            for u in a.under_used
        ]
    return "\n".join(lines).strip()


def _md_expansion(doc: QbrDocument) -> str:
    e = doc.expansion
    rn = e.renewal
    lines = [e.narrative, "", "**Renewal terms**"]
    lines.append(
        f"- Plan {rn.plan or 'n/a'}, ARR {money_text(rn.arr)}, {rn.seats_purchased} seats"
        + (
            f"; renews {rn.renewal_date} ({days_from_now(rn.days_to_renewal)})"
            if rn.renewal_date
            else ""
        )
        + (f"; ARR at risk {money_text(rn.arr_at_risk)}" if rn.arr_at_risk else "")
    )
    if e.opportunities:
        lines += ["", f"**Expansion opportunities** (est. {money_text(e.total_estimated_arr)} ARR)"]
        lines += [
            f"- **{o.title}** — est. {money_text(o.estimated_arr)} ARR. {o.formula}. "
            f"Evidence: {'; '.join(o.evidence)}"
            for o in e.opportunities
        ]
    if e.actions:
        lines += ["", "**Recommended next steps**"]
        lines += [f"{i}. **{a.title}** ({a.owner}): {a.detail}" for i, a in enumerate(e.actions, 1)]
    return "\n".join(lines).strip()


_MD_SECTIONS = {
    "health_summary": _md_health,
    "roi_impact": _md_roi,
    "adoption_scorecard": _md_adoption,
    "expansion_next_steps": _md_expansion,
}


def section_markdown(doc: QbrDocument) -> dict[str, str]:
    """The four sections as markdown (what ``QbrDraft.sections`` stores), overrides applied."""
    return {key: doc.overrides.get(key) or _MD_SECTIONS[key](doc) for key in SECTIONS}


def render_markdown(doc: QbrDocument) -> str:
    """The whole QBR as one Markdown document."""
    acct = doc.account
    head = [
        f"# {doc.title}",
        "",
        f"*{acct.segment} · {acct.industry or 'n/a'} · "
        f"period {doc.period_start} to {doc.period_end}"
        + (f" · draft v{doc.version}" if doc.version else "")
        + "*",
    ]
    body = ["", "## Executive summary", "", doc.executive_summary] if doc.executive_summary else []
    sections = section_markdown(doc)
    for key in SECTIONS:
        body += ["", f"## {FULL_TITLES[key]}", "", sections[key]]
    foot = [
        "",
        "---",
        f"*Numbers from cs-copilot's scoring tools; narratives: {doc.narratives_by}.*",
    ]
    return "\n".join(head + body + foot) + "\n"


# -- Notion --------------------------------------------------------------------------------------

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def split_text(text: str, limit: int = RICH_TEXT_MAX) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters (breaking at a space when possible)."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        cut = cut + 1 if cut > 0 else limit
        pieces.append(text[:cut])
        text = text[cut:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def rich_text(text: str, *, bold: bool = False) -> list[dict[str, Any]]:
    """Notion rich text for ``text``: ``**bold**`` spans honoured, every item ≤ 2,000 chars."""
    items: list[dict[str, Any]] = []
    pos = 0
    spans: list[tuple[str, bool]] = []
    for match in _BOLD.finditer(text):
        spans.append((text[pos : match.start()], bold))
        spans.append((match.group(1), True))
        pos = match.end()
    spans.append((text[pos:], bold))
    for chunk, is_bold in spans:
        if not chunk:
            continue
        for piece in split_text(chunk):
            item: dict[str, Any] = {"type": "text", "text": {"content": piece}}
            if is_bold:
                item["annotations"] = {"bold": True}
            items.append(item)
    return items


def _block(kind: str, text: str, **extra: Any) -> Block:
    return {"object": "block", "type": kind, kind: {"rich_text": rich_text(text), **extra}}


def heading(text: str, level: int = 2) -> Block:
    """A heading_1/2/3 block."""
    return _block(f"heading_{level}", text)


def paragraph(text: str) -> Block:
    """A paragraph block."""
    return _block("paragraph", text)


def bullet(text: str) -> Block:
    """A bulleted list item."""
    return _block("bulleted_list_item", text)


def numbered(text: str) -> Block:
    """A numbered list item."""
    return _block("numbered_list_item", text)


def callout(text: str, emoji: str) -> Block:
    """A callout with an emoji icon."""
    return _block("callout", text, icon={"type": "emoji", "emoji": emoji})


def divider() -> Block:
    """A divider."""
    return {"object": "block", "type": "divider", "divider": {}}


def table(header: list[str], rows: Iterable[list[str]]) -> Block:
    """A table block with a header row; every row is a ``table_row`` child."""
    cells = [header, *rows]
    return {
        "object": "block",
        "type": "table",
        "table": {
            "table_width": len(header),
            "has_column_header": True,
            "has_row_header": False,
            "children": [
                {
                    "object": "block",
                    "type": "table_row",
                    "table_row": {"cells": [rich_text(c) for c in row]},
                }
                for row in cells
            ],
        },
    }


def image(url: str, caption: str = "") -> Block:
    """An external image block."""
    return {
        "object": "block",
        "type": "image",
        "image": {"type": "external", "external": {"url": url}, "caption": rich_text(caption)},
    }


def markdown_blocks(text: str) -> list[Block]:
    """A small Markdown subset (headings, bullets, numbered items, paragraphs) as blocks."""
    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or set(line) <= {"|", "-", " "}:
            continue
        if line.startswith("#"):
            blocks.append(heading(line.lstrip("#").strip(), 3))
        elif line[:2] in ("- ", "* "):
            blocks.append(bullet(line[2:]))
        elif re.match(r"^\d+\.\s", line):
            blocks.append(numbered(line.split(" ", 1)[1]))
        elif line.startswith("|"):
            blocks.append(paragraph(" · ".join(c.strip() for c in line.strip("|").split("|"))))
        else:
            blocks.append(paragraph(line))
    return blocks


def _nb_health(doc: QbrDocument, chart_url: str | None) -> list[Block]:
    h = doc.health
    blocks = [
        callout(
            f"**Health {h.score:.0f}/100 ({h.band.value})** · band trend {h.band_trend} · "
            f"churn risk {h.churn_level}",
            BAND_EMOJI[h.band.value],
        ),
        paragraph(h.narrative),
    ]
    if chart_url:
        blocks.append(image(chart_url, f"Health score, {doc.account.name}"))
    if h.movers:
        blocks.append(heading("Signals that moved the score", 3))
        blocks += [bullet(f"{m.label}: {m.points:+.1f} points") for m in h.movers]
    if h.drivers:
        blocks.append(heading("What drives the score today", 3))
        blocks += [bullet(f"{d.text} ({d.impact:+.0f})") for d in h.drivers]
    if h.churn_triggers:
        blocks.append(heading("Risk signals", 3))
        blocks += [bullet(f"**{t.label}**: {t.evidence}") for t in h.churn_triggers]
    if h.voice:
        blocks.append(heading("Voice of the customer", 3))
        blocks += markdown_blocks(h.voice)
    return blocks


def _nb_roi(doc: QbrDocument) -> list[Block]:
    r = doc.roi
    blocks = [
        paragraph(r.narrative),
        table(
            ["Value delivered", "Amount", "How it is computed"],
            [[m.label, m.value, m.basis] for m in r.metrics],
        ),
        callout("Assumptions (estimates, not measurements): " + " ".join(r.assumptions), "📐"),
    ]
    if r.waste:
        blocks.append(heading("Value at stake", 3))
        blocks += [bullet(w) for w in r.waste]
    return blocks


def _nb_adoption(doc: QbrDocument) -> list[Block]:
    a = doc.adoption
    blocks = [paragraph(a.narrative)]
    rows = [row for row in a.rows if row.in_plan or row.users]
    if rows:
        blocks.append(
            table(
                ["Feature", "Tier", "Users", "Adoption", "Benchmark", "Status"],
                [
                    [
                        r.name,
                        r.tier,
                        str(r.users),
                        percent_text(r.adoption),
                        percent_text(r.benchmark),
                        STATUS_MARK[r.status],
                    ]
                    for r in rows
                ],
            )
        )
    if a.under_used:
        blocks.append(heading("Under-used features", 3))
        blocks += [
            bullet(
                f"**{u.name}** ({percent_text(u.adoption)} vs {percent_text(u.benchmark)}): "
                f"{u.recommendation}"
            )
            for u in a.under_used
        ]
    return blocks


def _nb_expansion(doc: QbrDocument) -> list[Block]:
    e = doc.expansion
    rn = e.renewal
    blocks = [paragraph(e.narrative), heading("Renewal terms", 3)]
    blocks.append(
        bullet(
            f"Plan {rn.plan or 'n/a'}, ARR {money_text(rn.arr)}, {rn.seats_purchased} seats"
            + (
                f"; renews {rn.renewal_date} ({days_from_now(rn.days_to_renewal)})"
                if rn.renewal_date
                else ""
            )
        )
    )
    if e.opportunities:
        blocks.append(heading("Expansion opportunities", 3))
        blocks += [
            bullet(f"**{o.title}** — est. {money_text(o.estimated_arr)} ARR. {o.formula}.")
            for o in e.opportunities
        ]
    if e.actions:
        blocks.append(heading("Recommended next steps", 3))
        blocks += [numbered(f"**{a.title}** ({a.owner}): {a.detail}") for a in e.actions]
    return blocks


def render_notion_blocks(doc: QbrDocument, *, chart_url: str | None = None) -> list[Block]:
    """The page body as Notion blocks; a revised section is rendered from its markdown."""
    builders = {
        "health_summary": lambda: _nb_health(doc, chart_url),
        "roi_impact": lambda: _nb_roi(doc),
        "adoption_scorecard": lambda: _nb_adoption(doc),
        "expansion_next_steps": lambda: _nb_expansion(doc),
    }
    blocks: list[Block] = [
        callout(
            f"{doc.account.name} · {doc.quarter} · period {doc.period_start} to {doc.period_end}",
            "📊",
        )
    ]
    if doc.executive_summary:
        blocks += [heading("Executive summary", 2), paragraph(doc.executive_summary)]
    for key in SECTIONS:
        blocks.append(heading(FULL_TITLES[key], 2))
        override = doc.overrides.get(key)
        blocks += markdown_blocks(override) if override else builders[key]()
        blocks.append(divider())
    blocks.append(
        paragraph(f"Numbers from cs-copilot's scoring tools; narratives: {doc.narratives_by}.")
    )
    return blocks


# -- Notion page properties -----------------------------------------------------------------------

PROPERTY_TYPES: dict[str, str] = {
    "Name": "title",
    "Account": "rich_text",
    "Quarter": "select",
    "Health score": "number",
    "Band": "select",
    "ARR": "number",
    "Renewal date": "date",
    "Status": "select",
    "Idempotency key": "rich_text",
}
"""The QBR database's properties and their Notion types (``csbot notion check`` verifies them)."""


def notion_properties(doc: QbrDocument, *, idempotency_key: str, status: str) -> dict[str, Any]:
    """Page properties for the QBR database."""
    props: dict[str, Any] = {
        "Name": {"title": rich_text(doc.title)},
        "Account": {"rich_text": rich_text(doc.account.name)},
        "Quarter": {"select": {"name": doc.quarter}},
        "Health score": {"number": round(doc.health.score, 1)},
        "Band": {"select": {"name": doc.health.band.value}},
        "ARR": {"number": float(doc.account.arr)},
        "Status": {"select": {"name": status}},
        "Idempotency key": {"rich_text": rich_text(idempotency_key)},
    }
    if doc.account.renewal_date is not None:
        props["Renewal date"] = {"date": {"start": doc.account.renewal_date.isoformat()}}
    return props


__all__ = [
    "PROPERTY_TYPES",
    "SECTION_TITLES",
    "notion_properties",
    "render_markdown",
    "render_notion_blocks",
    "rich_text",
    "section_markdown",
    "split_text",
]
