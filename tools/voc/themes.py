"""Themes in a set of short texts: TF-IDF + NMF (scikit-learn), seeded and sorted.

Each text is weighted by TF-IDF over words and word pairs (English stop words removed); NMF
factors that matrix into ``k`` themes, each a weighted list of terms. A text belongs to the theme
it loads on most (none when it shares no term with the vocabulary). A theme is labelled by its
top terms, so every label can be traced to the words of the texts in it. The result depends only
on the texts and their order: NNDSVD initialisation with a fixed seed, no random restarts.

``fit_themes`` keeps the fitted vectoriser and model, so that texts too few to have themes of
their own (one small account's comments) can be assigned to the themes of a larger set (the
portfolio's) with the same rule: the theme they load on most, none when they share no term.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Imported with the module, not on first use: a process that serves /health pays the import
# (about a second) at start-up rather than inside someone's first request.
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

MIN_TEXTS = 6
# Terms in more than half of the texts are dropped (too common to tell themes apart), but only
# from a corpus of at least MAX_DF_FROM texts: in a small one (one account's tickets, a family of
# a dozen) a word in every text ("bugs") is what the texts are about, and without it a phrasing
# sharing no other word with the rest is left out of every theme.
MAX_DF = 0.5
MAX_DF_FROM = 100
LABEL_TERMS = 3
SEED = 0
EXTRA_STOP_WORDS = frozenset({"ve", "ll", "don", "didn", "doesn", "isn", "t", "s", "re", "just"})


@dataclass
class Theme:
    """One theme: its label terms and the indices of the texts in it, most typical first."""

    terms: list[str]
    members: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    basis: str = "own"  # "own": found in these texts; "portfolio": assigned to its themes
    examples: list[str] = field(default_factory=list)  # the portfolio's quotes ("portfolio")

    @property
    def label(self) -> str:
        return " · ".join(self.terms)

    @property
    def key(self) -> str:
        return "-".join(self.terms[0].split())


def theme_count(texts: int, max_themes: int) -> int:
    """How many themes to look for in ``texts`` texts (about one per 8, at most ``max_themes``)."""
    if texts < MIN_TEXTS:
        return 0
    return max(2, min(max_themes, round(math.sqrt(texts / 2))))


@dataclass
class FittedThemes:
    """Themes found in a set of texts, with what is needed to assign other texts to them."""

    themes: list[Theme]
    assignment: list[int]
    vectorizer: Any = None
    model: Any = None
    kept: dict[int, int] = field(default_factory=dict)  # NMF component -> index in ``themes``
    examples: list[list[str]] = field(default_factory=list)  # per theme, its typical texts

    def assign(self, texts: list[str]) -> list[int]:
        """Each text's theme index (-1: none): of the themes whose label words the text uses,
        the one it loads on most in the fitted model."""
        if self.model is None or not texts:
            return [-1] * len(texts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            doc_topic = np.asarray(self.model.transform(self.vectorizer.transform(texts)))
        analyse = self.vectorizer.build_analyzer()
        labels = {index: set(self.themes[index].terms) for index in self.kept.values()}
        assigned: list[int] = []
        for text, loads in zip(texts, doc_topic, strict=True):
            words = set(analyse(text))
            shared = [(c, i) for c, i in self.kept.items() if labels[i] & words and loads[c] > 0]
            best = max(shared, key=lambda ci: (loads[ci[0]], -ci[1]), default=None)
            assigned.append(best[1] if best is not None else -1)
        return assigned


def find_themes(texts: list[str], *, max_themes: int = 8) -> tuple[list[Theme], list[int]]:
    """Themes of ``texts``, largest first, and each text's theme index (-1: none)."""
    fitted = fit_themes(texts, max_themes=max_themes)
    return fitted.themes, fitted.assignment


def fit_themes(texts: list[str], *, max_themes: int = 8) -> FittedThemes:
    """``find_themes`` that keeps the fitted vectoriser and model (``FittedThemes.assign``)."""
    k = theme_count(len(texts), max_themes)
    if k == 0:
        return FittedThemes([], [-1] * len(texts))
    vectorizer, matrix, vocabulary = _tfidf(texts)
    if matrix is None or matrix.shape[1] < k:
        return FittedThemes([], [-1] * len(texts))
    model, doc_topic = _nmf(matrix, k)
    themes, assignment, kept = _assign(doc_topic, np.asarray(model.components_), vocabulary)
    return FittedThemes(themes, assignment, vectorizer, model, kept)


def max_df(texts: int) -> float:
    """The share of texts above which a term is dropped: ``MAX_DF`` from ``MAX_DF_FROM`` texts,
    none (1.0) below."""
    return MAX_DF if texts >= MAX_DF_FROM else 1.0


def _tfidf(texts: list[str]) -> tuple[Any, Any, np.ndarray]:
    vectorizer = TfidfVectorizer(
        lowercase=True,
        strip_accents="unicode",
        stop_words=sorted(ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS),
        ngram_range=(1, 1),
        min_df=2 if len(texts) >= 20 else 1,
        max_df=max_df(len(texts)),
        max_features=20_000,
        sublinear_tf=True,
        dtype=np.float32,
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # nothing left after stop words / min_df
        return vectorizer, None, np.array([])
    return vectorizer, matrix, vectorizer.get_feature_names_out()


def _nmf(matrix: Any, k: int) -> tuple[Any, np.ndarray]:
    model = NMF(n_components=k, init="nndsvd", random_state=SEED, max_iter=300, tol=1e-4)
    # A capped iteration count is fine for grouping texts. A near-exact fit (identical texts)
    # gives a reconstruction error that rounds below zero, and NMF's square root of it warns.
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        doc_topic = model.fit_transform(matrix)
    return model, np.asarray(doc_topic)


def _label(weights: np.ndarray, vocabulary: np.ndarray) -> list[str]:
    terms: list[str] = []
    seen: set[str] = set()
    for index in np.argsort(-weights, kind="stable"):
        if weights[index] <= 0 or len(terms) == LABEL_TERMS:
            break
        term = str(vocabulary[index])
        words = set(term.split())
        if words <= seen:
            continue
        terms = [t for t in terms if not set(t.split()) < words]
        terms.append(term)
        seen |= words
    return terms


def _assign(
    doc_topic: np.ndarray, topic_terms: np.ndarray, vocabulary: np.ndarray
) -> tuple[list[Theme], list[int], dict[int, int]]:
    best = np.argmax(doc_topic, axis=1)
    strength = doc_topic[np.arange(len(best)), best]
    best = np.where(strength > 0, best, -1)
    themes = [Theme(terms=_label(row, vocabulary)) for row in topic_terms]
    for doc in np.argsort(-strength, kind="stable"):
        if best[doc] >= 0:
            themes[best[doc]].members.append(int(doc))
            themes[best[doc]].weights.append(float(strength[doc]))
    kept = sorted(
        (i for i, t in enumerate(themes) if t.members and t.terms),
        key=lambda i: (-len(themes[i].members), themes[i].label),
    )
    renumber = {old: new for new, old in enumerate(kept)}
    assignment = [renumber.get(int(t), -1) for t in best]
    return [themes[i] for i in kept], assignment, renumber
