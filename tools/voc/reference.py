"""The portfolio's themes as a reference for a scope with too few texts of its own.

Themes need a handful of texts (``themes.MIN_TEXTS``); most accounts write fewer comments than
that in a window. Their texts are then assigned to the themes of the whole portfolio over the
same window, fitted once (TF-IDF + NMF, as everywhere) and kept in process per database, window
and family until any text in it changes (``corpus.fingerprint``). A text goes to the portfolio
theme it loads on most, or none when it shares no word with the portfolio's vocabulary, so the
account's theme is the portfolio's theme with the account's own count, sentiment and quotes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime

from sqlmodel import Session

from tools.voc.corpus import fingerprint, load_family
from tools.voc.themes import FittedThemes, fit_themes

REFERENCE_MAX = 20_000  # the newest texts of the family the reference is fitted on
CACHE_SIZE = 8
_cache: OrderedDict[Hashable, FittedThemes] = OrderedDict()
_lock = threading.Lock()


def portfolio_reference(
    session: Session, family: str, *, start: datetime, end: datetime, max_themes: int
) -> FittedThemes:
    """The portfolio's fitted themes of ``family`` over [start, end), from the cache when no
    text in that window changed."""
    bind = session.get_bind()
    key = (
        str(getattr(bind, "url", id(bind))),
        family,
        start,
        end,
        max_themes,
        fingerprint(session, family, start=start, end=end),
    )
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    items = load_family(session, family, start=start, end=end)[-REFERENCE_MAX:]
    fitted = fit_themes([item.text for item in items], max_themes=max_themes)
    fitted.examples = [_distinct([items[i].text for i in t.members]) for t in fitted.themes]
    with _lock:
        _cache[key] = fitted
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return fitted


def clear() -> None:
    """Forget every fitted reference (tests)."""
    with _lock:
        _cache.clear()


def _distinct(texts: list[str], limit: int = 3) -> list[str]:
    """The first ``limit`` different texts (the theme's most typical first)."""
    seen: dict[str, str] = {}
    for text in texts:
        seen.setdefault(text.casefold(), text)
        if len(seen) == limit:
            break
    return list(seen.values())
