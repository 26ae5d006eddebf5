"""Voice of the customer at scale: themes over 100,000 comments, time and peak memory.

The corpus is synthetic and seeded: every demo survey comment and ticket subject, each with a
random tail of product words, so that no two texts need be equal. Each measurement runs in a
fresh process so that its peak resident memory (VmHWM) is its own; the baseline is the same
process after imports and after building the texts, before the work.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from pathlib import Path

from bench.common import Measurement

COMMENTS = 100_000
TAIL_WORDS = (
    "dashboards reports exports mobile app sso admins permissions renewal budget team rollout",
    "automations integrations salesforce api webhooks onboarding training roadmap price seats",
)


WORDS = " ".join(TAIL_WORDS).split()


def corpus(n: int, seed: int = 17) -> list[str]:
    """``n`` seeded texts from the demo's comments and subjects with random tails."""
    from tools.demo_catalog import NPS_COMMENTS, TICKET_SUBJECTS

    phrases = [c for bucket in NPS_COMMENTS.values() for c in bucket] + list(TICKET_SUBJECTS)
    rng = random.Random(seed)
    return [f"{rng.choice(phrases)} {' '.join(rng.sample(WORDS, 3))}" for _ in range(n)]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _themes_job(n: int) -> tuple[float, int, int, int]:
    from tools.voc.themes import find_themes

    texts = corpus(n)
    find_themes(texts[:50])  # imports scikit-learn
    base = _status_kib("VmRSS")
    started = time.perf_counter()
    themes, _ = find_themes(texts, max_themes=12)
    return time.perf_counter() - started, base, _status_kib("VmHWM"), len(themes)


def _sentiment_job(n: int) -> tuple[float, int, int, int]:
    from tools.voc.sentiment import text_sentiment

    texts = corpus(n)
    text_sentiment("warm up")
    base = _status_kib("VmRSS")
    started = time.perf_counter()
    scored = sum(1 for t in texts if text_sentiment(t) != 0)
    return time.perf_counter() - started, base, _status_kib("VmHWM"), scored


def _in_child(job: object, n: int) -> tuple[float, int, int, int]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(job, (n,))  # type: ignore[arg-type]


def run(workdir: Path) -> list[Measurement]:
    del workdir
    seconds, base, peak, k = _in_child(_themes_job, COMMENTS)
    tfidf_nmf = f"{COMMENTS:,} comments, TF-IDF + NMF, {k} themes"
    results = [
        Measurement("voc themes 100k comments", seconds, "s", tfidf_nmf),
        Measurement("voc themes 100k peak RSS", peak / 1024, "MiB", "whole process"),
        Measurement("voc themes 100k RSS growth", (peak - base) / 1024, "MiB", "peak - baseline"),
    ]
    seconds, _, _, _ = _in_child(_sentiment_job, COMMENTS)
    note = "only texts without a survey score or recorded ticket sentiment"
    results.append(Measurement("voc text sentiment (VADER) 100k", seconds, "s", note))
    return results
