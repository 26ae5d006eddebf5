"""Block Kit for the voice of the customer: themes and latest comments (on /health, the digest).

Quotes are customers' words: escaped with ``esc`` and clipped, shown as quotes, never as our
own text or markup. With a Claude client the themes are named by Claude (``theme_labeller``);
their names are escaped like everything else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

from sqlmodel import Session

from bot.blocks import Block, bullets, clip, esc, section
from tools.db import SessionFactory, session_scope
from tools.voc import VocQuote, VocReport, VocTheme, voice_of_customer
from tools.voc.labels import Labeller, LabelSubject, ThemeLabel, ThemeLabeller

QUOTE_CHARS = 160
HEALTH_WINDOW_DAYS = 180
DIGEST_WINDOW_DAYS = 28
SOURCE_LABEL = {"nps": "NPS", "csat": "CSAT", "ticket": "ticket", "note": "note"}
LABEL_TIMEOUT_SECONDS = 10.0
NAMED_BY_CLAUDE = "_Theme names by Claude from their top words and quotes · numbers checked_"
_labellers: WeakKeyDictionary[Any, ThemeLabeller] = WeakKeyDictionary()
_backgrounds: WeakKeyDictionary[Any, InBackground] = WeakKeyDictionary()
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="theme-labels")
log = logging.getLogger(__name__)


def theme_labeller(
    client: Any, model: str, *, sessions: SessionFactory | None = None
) -> Labeller | None:
    """The one labeller of every surface that shows themes: Claude naming them when a client is
    configured (short timeout, no retries), None without one (the top words).

    One ``ThemeLabeller`` per client, so that an outage is logged once whichever surface hits
    it. Without ``sessions`` names not yet cached are written before the answer (the QBR prep,
    the digest, the ``customer_voice`` tool); with ``sessions`` they are written in the
    background: the view that asked (``/health``) shows the top words and never waits for
    Claude, the next one shows Claude's names."""
    if client is None:
        return None
    labeller = _labellers.get(client)
    if labeller is None:
        from bot.narrator import ClaudeWriter

        quick = client.with_options(timeout=LABEL_TIMEOUT_SECONDS, max_retries=0)
        labeller = ThemeLabeller(ClaudeWriter(client=quick, model=model, max_tokens=1024))
        _labellers[client] = labeller
    if sessions is None:
        return labeller
    background = _backgrounds.get(client)
    if background is None or background.sessions is not sessions:
        background = InBackground(labeller, sessions, _in_background(labeller, sessions))
        _backgrounds[client] = background
    return background


@dataclass(frozen=True)
class InBackground:
    """A labeller whose unnamed themes are written on the background thread."""

    labeller: ThemeLabeller
    sessions: SessionFactory
    defer: Callable[[list[LabelSubject]], None]

    def labels(self, session: Session, subjects: list[LabelSubject]) -> list[ThemeLabel]:
        return self.labeller.labels(session, subjects, defer=self.defer)


def _in_background(
    labeller: ThemeLabeller, sessions: SessionFactory
) -> Callable[[list[LabelSubject]], None]:
    pending: set[LabelSubject] = set()
    lock = threading.Lock()

    def run(subjects: list[LabelSubject]) -> None:
        try:
            with session_scope(sessions) as session:
                labeller.write(session, subjects)
        except Exception:  # a name is never worth a crash: the top words stay
            log.exception("theme labels: background naming failed")
        finally:
            with lock:
                pending.difference_update(subjects)

    def defer(missing: list[LabelSubject]) -> None:
        with lock:
            new = [s for s in missing if s not in pending]
            pending.update(new)
        if new:
            _background.submit(run, new)

    return defer


def labels_written() -> None:
    """Wait until every background naming submitted so far has finished (tests, shutdown)."""
    _background.submit(lambda: None).result()


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
    shown = _top(voice, "comments", themes) + _top(voice, "tickets", 2)
    named = f"\n{NAMED_BY_CLAUDE}" if any(t.label_source == "claude" for t in shown) else ""
    return section(f"*Voice of the customer* ({voice.window_days} days: {counts})\n{body}{named}")


def _top(voice: VocReport, family: str, limit: int) -> list[VocTheme]:
    return [t for t in voice.themes if t.family == family][:limit]


def health_voice(
    session: Session, account_id: int, as_of: date, *, labeller: Labeller | None = None
) -> Block | None:
    """The voice section for one account's health card (the last ``HEALTH_WINDOW_DAYS``)."""
    voice = voice_of_customer(
        session,
        as_of=as_of,
        window_days=HEALTH_WINDOW_DAYS,
        account_ids=[account_id],
        labeller=labeller,
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
    named = f"\n{NAMED_BY_CLAUDE}" if any(t.label_source == "claude" for t in top) else ""
    return section(f"{title}\n" + bullets(lines, limit=themes + 1, empty="") + named)


def digest_voice(
    session: Session, as_of: date, *, labeller: Labeller | None = None
) -> Block | None:
    """The voice section of the weekly digest for the portfolio."""
    voice = voice_of_customer(
        session, as_of=as_of, window_days=DIGEST_WINDOW_DAYS, compare=True, labeller=labeller
    )
    return digest_section(voice)
