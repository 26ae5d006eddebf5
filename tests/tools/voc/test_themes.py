"""Theme extraction on a seeded corpus: the themes we planted, stable and explainable."""

from __future__ import annotations

import random

import pytest

from tools.voc.themes import MAX_DF_FROM, MIN_TEXTS, find_themes, fit_themes, theme_count

PLANTED = {
    "reorg": [
        "Our team stopped using it after the reorg.",
        "Since the reorg nobody owns the rollout.",
        "The reorg moved our champion to another group.",
        "After the reorg half the users stopped logging in.",
    ],
    "price": [
        "The price per seat is too high.",
        "Hard to justify the price at renewal.",
        "The price went up again this year.",
        "Too expensive, the price is hard to defend.",
    ],
    "bugs": [
        "Too many bugs in the mobile app.",
        "Bugs in the reports every week.",
        "The last release brought new bugs.",
        "We keep hitting bugs in exports.",
    ],
    "support": [
        "Great support, fast and helpful.",
        "Support fixed our SSO issue within the hour, great support.",
        "The support folks are great.",
        "Support answers within minutes.",
    ],
}


def seeded_corpus(copies: int = 5, seed: int = 7) -> list[tuple[str, str]]:
    """(planted theme, text) pairs: each phrasing ``copies`` times, shuffled by ``seed``."""
    pairs = [(theme, text) for theme, texts in PLANTED.items() for text in texts] * copies
    random.Random(seed).shuffle(pairs)
    return pairs


def test_finds_the_planted_themes_and_labels_them_with_their_words() -> None:
    pairs = seeded_corpus()
    themes, assignment = find_themes([t for _, t in pairs], max_themes=4)
    assert len(themes) == 4
    labels = {theme.terms[0] for theme in themes}
    assert labels == {"reorg", "price", "bugs", "support"}
    for theme in themes:
        planted = {pairs[i][0] for i in theme.members}
        assert planted == {theme.terms[0]}, f"{theme.label} mixes {planted}"
    assert all(a >= 0 for a in assignment)


def test_every_text_is_in_the_theme_it_is_assigned_to() -> None:
    pairs = seeded_corpus()
    themes, assignment = find_themes([t for _, t in pairs], max_themes=4)
    for index, theme in enumerate(themes):
        assert sorted(theme.members) == sorted(i for i, a in enumerate(assignment) if a == index)
        assert theme.weights == sorted(theme.weights, reverse=True)


def test_same_input_same_output() -> None:
    texts = [t for _, t in seeded_corpus()]
    first = find_themes(texts, max_themes=4)
    second = find_themes(list(texts), max_themes=4)
    assert [(t.label, t.members) for t in first[0]] == [(t.label, t.members) for t in second[0]]
    assert first[1] == second[1]


def test_largest_theme_first() -> None:
    pairs = seeded_corpus() + [("bugs", "Crash bugs again in the app.")] * 10
    themes, _ = find_themes([t for _, t in pairs], max_themes=4)
    sizes = [len(t.members) for t in themes]
    assert sizes == sorted(sizes, reverse=True)
    assert "bugs" in themes[0].terms


def test_texts_without_known_words_belong_to_no_theme() -> None:
    texts = [t for _, t in seeded_corpus()] + ["!!!", "???"]
    _, assignment = find_themes(texts, max_themes=4)
    assert assignment[-2:] == [-1, -1]


@pytest.mark.parametrize("texts", [[], ["one"], ["a b", "c d"] * 2])
def test_too_few_texts_give_no_themes(texts: list[str]) -> None:
    themes, assignment = find_themes(texts)
    assert themes == []
    assert assignment == [-1] * len(texts)


def test_theme_count_grows_with_the_corpus_and_is_capped() -> None:
    assert theme_count(MIN_TEXTS - 1, 8) == 0
    assert theme_count(MIN_TEXTS, 8) == 2
    assert theme_count(200, 8) == 8
    assert theme_count(100_000, 12) == 12


def test_stop_words_only_gives_no_themes() -> None:
    themes, assignment = find_themes(["the and of", "it is the", "and the"] * 3)
    assert themes == []
    assert set(assignment) == {-1}


def test_a_small_corpus_keeps_the_word_every_text_shares() -> None:
    """Twelve subjects that all say "bugs": every one is themed, "bugs" leads the largest theme
    (with "bugs" cut as too common, "The last release brought new bugs." shared no word with
    the others' themes and was left out on some platforms)."""
    texts = PLANTED["bugs"] * 3
    themes, assignment = find_themes(texts, max_themes=12)
    assert all(a >= 0 for a in assignment)
    assert sum(len(t.members) for t in themes) == 12
    assert themes[0].terms[0] == "bugs"


def test_a_large_corpus_drops_words_in_more_than_half_of_its_texts() -> None:
    texts = [f"acme {t}" for _, t in seeded_corpus(copies=MAX_DF_FROM // 16 + 1)]
    assert len(texts) >= MAX_DF_FROM
    large = fit_themes(texts, max_themes=4)
    small = fit_themes(texts[: MAX_DF_FROM - 1], max_themes=4)
    assert "acme" not in large.vectorizer.vocabulary_
    assert "acme" in small.vectorizer.vocabulary_
    assert len(large.themes) == len(small.themes) == 4
