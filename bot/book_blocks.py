"""Block Kit for the book DMs: "state of your book" and "your book today" (see tools.alerts.book).

Every renderer returns ``(blocks, fallback_text)`` within Slack's limits and re-computes no number.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from bot.blocks import (
    RISK_EMOJI,
    Block,
    Rendered,
    bullets,
    context,
    esc,
    header,
    message,
    section,
)
from bot.slack_out import mention
from tools.facts import money_text
from tools.results import RiskLevel


class RiskLine(BaseModel):
    """An at-risk account as a book lists it."""

    account_id: int
    name: str
    level: RiskLevel
    band: str
    score: float
    arr_at_risk: Decimal
    renewal: str
    note: str = Field(default="", description="Why it is here (plain text, escaped on render).")


class RenewalLine(BaseModel):
    """A renewal inside 90 days and its QBR draft."""

    account_id: int
    name: str
    end_date: date
    days: int
    arr: Decimal
    draft_version: int | None


class ProposalLine(BaseModel):
    """An expansion proposal waiting for the owner."""

    account_id: int
    name: str
    title: str
    estimated_arr: Decimal


class Book(BaseModel):
    """One owner's book message."""

    mode: Literal["state", "today"]
    owner_slack_id: str | None
    as_of: date
    alerts_channel: str
    at_risk: list[RiskLine] = Field(default_factory=list)
    renewals: list[RenewalLine] = Field(default_factory=list)
    proposals: list[ProposalLine] = Field(default_factory=list)

    @property
    def items(self) -> int:
        """How many lines the message carries in all."""
        return len(self.at_risk) + len(self.renewals) + len(self.proposals)


def _risk(line: RiskLine) -> str:
    note = f" — {esc(line.note)}" if line.note else ""
    return (
        f"{RISK_EMOJI[line.level]} *{esc(line.name)}* {line.score:.0f}/100 {esc(line.band)}, "
        f"{money_text(line.arr_at_risk)} at risk, renews {esc(line.renewal)}{note}"
    )


def _renewal(line: RenewalLine) -> str:
    draft = f"QBR draft v{line.draft_version} ready" if line.draft_version else "QBR draft ready"
    return (
        f"*{esc(line.name)}* renews {line.end_date.isoformat()} (in {line.days} days), "
        f"{money_text(line.arr)} ARR — {draft}"
    )


def _proposal(line: ProposalLine) -> str:
    return f"*{esc(line.name)}* — {esc(line.title)} (~{money_text(line.estimated_arr)} ARR)"


def book_message(book: Book, *, max_items: int) -> Rendered:
    """The book DM: at most ``max_items`` lines per section, the rest counted."""
    to = mention(book.owner_slack_id) if book.owner_slack_id else "Accounts without an owner"
    channel = esc(book.alerts_channel)
    if book.mode == "state":
        title = "The state of your book"
        intro = (
            f":wave: {to} — your book as of {book.as_of.isoformat()}: "
            f"{len(book.at_risk)} at risk, {len(book.renewals)} renewals inside 90 days with a "
            f"QBR draft ready, {len(book.proposals)} expansion proposals. From now on: churn "
            f"alerts in {channel}, and at most one message like this a day."
        )
    else:
        title = f"Your book today — {book.as_of.isoformat()}"
        intro = f":sunrise: {to} — what is new in your book today."
    blocks: list[Block] = [header(title), section(intro)]
    if book.at_risk:
        heading = "*At risk*" if book.mode == "state" else "*At risk (over today's alert cap)*"
        lines = bullets((_risk(r) for r in book.at_risk), limit=max_items, empty="")
        blocks.append(section(f"{heading}\n{lines}"))
    if book.renewals:
        lines = bullets((_renewal(r) for r in book.renewals), limit=max_items, empty="")
        blocks.append(section(f"*Renewals inside 90 days*\n{lines}"))
    if book.proposals:
        lines = bullets((_proposal(p) for p in book.proposals), limit=max_items, empty="")
        blocks.append(section(f"*Expansion proposals*\n{lines}"))
    blocks.append(
        context(
            "`/churn` for every account at risk · `/qbr <account>` to work on a draft · "
            "`/expansion` to review and approve proposals. Nothing was sent to a customer."
        )
    )
    text = (
        f"{title}: {len(book.at_risk)} at risk, {len(book.renewals)} renewals with QBR drafts, "
        f"{len(book.proposals)} expansion proposals"
    )
    return message(blocks, text)
