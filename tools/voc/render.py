"""Markdown of a voice-of-the-customer report, for documents (the QBR prep).

Quotes are customers' words: set off as quotes, with markdown and markup characters escaped so
that nothing in them renders as our own text, links or mentions.
"""

from __future__ import annotations

import re

from tools.voc.report import VocQuote, VocReport

MARKUP = re.compile(r"([\\`*_\[\]<>#|~])")
QUOTE_CHARS = 200


def escape_markdown(text: str) -> str:
    """``text`` on one line with markdown/HTML characters backslash-escaped."""
    return MARKUP.sub(r"\\\1", " ".join(text.split()))


def quote_markdown(quote: VocQuote) -> str:
    """> “words” — NPS 3, 2026-03-02"""
    words = quote.untrusted_text
    words = words if len(words) <= QUOTE_CHARS else words[: QUOTE_CHARS - 1] + "…"
    score = f" {quote.score}" if quote.score is not None else ""
    return f"“{escape_markdown(words)}” — {quote.source.upper()}{score}, {quote.day.isoformat()}"


def voice_markdown(report: VocReport, *, themes: int = 4) -> str:
    """A short markdown section: what customers said, by theme, with one quote each."""
    if report.items == 0:
        return f"No survey comments, tickets or notes in the last {report.window_days} days."
    counts = ", ".join(f"{n} {source}" for source, n in report.by_source.items())
    lines = [f"Over the last {report.window_days} days ({counts}):"]
    for theme in report.themes[:themes]:
        lines.append(
            f"- **{escape_markdown(theme.label)}** ({theme.family}): {theme.count} items, "
            f"{theme.tone} (sentiment {theme.sentiment:+.2f})"
        )
        if theme.quotes:
            lines.append(f"  - {quote_markdown(theme.quotes[0])}")
    if report.latest:
        lines.append(f"- Latest: {quote_markdown(report.latest[0])}")
    return "\n".join(lines)
