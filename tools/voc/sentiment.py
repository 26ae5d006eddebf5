"""Sentiment of one piece of customer voice, from -1 (negative) to 1 (positive).

What the customer scored wins over what a lexicon reads into their words: a survey answer's
sentiment comes from its score (NPS promoter 9-10 = 1, passive 7-8 = 0, detractor 0-6 = -1;
CSAT 4-5 = 1, 3 = 0, 1-2 = -1); a ticket's from its recorded ``sentiment`` when the import has
one; anything else from the text, with VADER (a lexicon and rule-based scorer tuned to short,
informal text; its ``compound`` score is already -1..1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from tools.voc.corpus import VocItem

NEGATIVE = -0.05  # VADER's own thresholds for a negative/positive compound score
POSITIVE = 0.05


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def text_sentiment(text: str) -> float:
    """VADER's compound score of ``text`` (-1..1)."""
    return float(_analyzer().polarity_scores(text[:2000])["compound"])


def survey_sentiment(kind: str, score: int) -> float:
    """-1, 0 or 1 from an NPS (0-10) or CSAT (1-5) score."""
    promoter, passive = (9, 7) if kind == "nps" else (4, 3)
    if score >= promoter:
        return 1.0
    return 0.0 if score >= passive else -1.0


def item_sentiment(item: VocItem, *, from_text: Callable[[str], float] = text_sentiment) -> float:
    """The item's sentiment: its survey score, its recorded sentiment, else its text."""
    if item.score is not None:
        return survey_sentiment(item.source, item.score)
    if item.sentiment is not None:
        return max(-1.0, min(1.0, float(item.sentiment)))
    return from_text(item.text)


def tone(value: float) -> str:
    """'negative', 'neutral' or 'positive' for a sentiment value."""
    if value <= NEGATIVE:
        return "negative"
    return "positive" if value >= POSITIVE else "neutral"
