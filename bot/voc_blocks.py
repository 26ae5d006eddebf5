"""Block Kit for the voice of the customer: themes and latest comments (on /health, the digest).

Quotes are customers' words: escaped with ``esc`` and clipped, shown as quotes, never as our
own text or markup.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from bot.blocks import Block, bullets, clip, esc, section
from tools.voc import VocQuote, VocReport, VocTheme, voice_of_customer

QUOTE_CHARS = 160
HEALTH_WINDOW_DAYS = 180
DIGEST_WINDOW_DAYS = 28
SOURCE_LABEL = {"nps": "NPS", "csat": "CSAT", "ticket": "ticket", "note": "note"}


def quote_line(quote: VocQuote, *, with_account: bool = False) -> str:
    """“words” — NPS 3 · 2026-03-02 (escaped; the words are data)."""
    score = f" {quote.score}" if quote.score is not None else ""
    who = f" · {esc(quote.account)}" if with_account else ""
    words = esc(clip(" ".join(quote.untrusted_text.split()), QUOTE_CHARS))
    return (
        f"“{words}” — {SOURCE_LABEL.get(quote.source, esc(quote.source))}{score}{who} · {quote.day}"
    )


def theme_line(theme: VocTheme, *, with_change: bool = False) -> str:
    """*label* — N items, tone (change vs the window before)."""
    change = ""
    if with_change and theme.change is not None:
        change = f", {theme.change:+d} vs the previous window"
    accounts = f" in {theme.accounts} accounts" if theme.accounts > 1 else ""
    return f"*{esc(theme.label)}* — {theme.count}{accounts}, {theme.tone}{change}"


def voice_section(voice: VocReport, *, themes: int = 3, latest: int = 2) -> Block | None:
    """The /health section: top comment themes, top ticket themes, the newest comments."""
    if voice.items == 0:
        return None
    counts = ", ".join(f"{n} {SOURCE_LABEL.get(s, s)}" for s, n in voice.by_source.items())
    lines = [theme_line(t) for t in _top(voice, "comments", themes)]
    lines += [f"{theme_line(t)} _(tickets)_" for t in _top(voice, "tickets", 2)]
    lines += [quote_line(q) for q in voice.latest[:latest]]
    body = bullets(lines, limit=themes + 2 + latest, empty="_No themes yet._")
    return section(f"*Voice of the customer* ({voice.window_days} days: {counts})\n{body}")


def _top(voice: VocReport, family: str, limit: int) -> list[VocTheme]:
    return [t for t in voice.themes if t.family == family][:limit]


def health_voice(session: Session, account_id: int, as_of: date) -> Block | None:
    """The voice section for one account's health card (the last ``HEALTH_WINDOW_DAYS``)."""
    voice = voice_of_customer(
        session, as_of=as_of, window_days=HEALTH_WINDOW_DAYS, account_ids=[account_id]
    )
    return voice_section(voice)


def digest_section(voice: VocReport, *, themes: int = 5) -> Block | None:
    """The digest section: the portfolio's top comment themes with their change, one quote."""
    top = _top(voice, "comments", themes)
    if not top:
        return None
    lines = [theme_line(t, with_change=True) for t in top]
    if top[0].quotes:
        lines.append(quote_line(top[0].quotes[0], with_account=True))
    counts = ", ".join(f"{n} {SOURCE_LABEL.get(s, s)}" for s, n in voice.by_source.items())
    days = voice.window_days
    title = f"*Voice of the customer* (last {days} days vs the {days} before; {counts})"
    return section(f"{title}\n" + bullets(lines, limit=themes + 1, empty=""))


def digest_voice(session: Session, as_of: date) -> Block | None:
    """The voice section of the weekly digest for the portfolio."""
    voice = voice_of_customer(session, as_of=as_of, window_days=DIGEST_WINDOW_DAYS, compare=True)
    return digest_section(voice)
