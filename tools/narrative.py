"""Narratives with verified numbers: model-written prose checked against its evidence, cached.

A ``NarrativeRequest`` names the account, the day, the parts to write (``narrative`` for an
alert; ``executive_summary`` and the four section keys for a QBR), the deterministic evidence
and the template text of every part. ``narrate`` then:

1. returns the stored result when the same evidence was narrated for that account and day by
   the same model (``NarrativeRecord``, keyed by the evidence's SHA-256), so a second ask costs
   no model call (a request without an account or a day, such as a theme's label, is cached
   for any account and day);
2. asks the ``Writer`` (Claude, in ``bot/narrator.py``) for every part in one call;
3. checks every number in every part against the evidence (``tools.narrative_check``); parts with
   numbers the evidence does not hold are asked for again once, naming the offending numbers;
4. gives each part still failing (or missing) its template, and records who wrote each part.

At most two model calls per request. Without a writer, or when it fails, the templates answer
and nothing is stored (the next run may try the model again); ``Narratives.failed`` says why.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools.models import NarrativeRecord
from tools.narrative_check import Evidence, canonical_json, unsupported_numbers

log = logging.getLogger(__name__)

PROMPT_VERSION = "1"
CLAUDE = "claude"
TEMPLATE = "template"
SOURCE_LABELS = {CLAUDE: "written by Claude · numbers checked", TEMPLATE: "template"}
MAX_PART_CHARS = 1_500
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


class WriterError(Exception):
    """The writer could not produce text (unavailable, refused, malformed)."""


@dataclass(frozen=True)
class NarrativeRequest:
    """What to write, for whom, from which evidence."""

    kind: str
    account_id: int | None
    day: date | None
    instructions: str
    evidence: dict[str, Any]
    templates: dict[str, str]
    max_sentences: int | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.templates)

    @property
    def evidence_hash(self) -> str:
        text = canonical_json(
            {"v": PROMPT_VERSION, "kind": self.kind, "parts": self.parts, "e": self.evidence}
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Feedback:
    """What was wrong with the previous attempt: part -> offending numbers, and its text."""

    rejected: dict[str, list[str]]
    previous: dict[str, str]


class Writer(Protocol):
    """Writes the parts of a request; ``feedback`` is set on the one retry."""

    model: str

    def write(self, request: NarrativeRequest, feedback: Feedback | None) -> dict[str, str]:
        """part -> text; raise ``WriterError`` when no text can be had."""
        ...


@dataclass
class Narratives:
    """The written parts and who wrote each one."""

    texts: dict[str, str]
    sources: dict[str, str]
    rejected: list[str] = field(default_factory=list)
    model_calls: int = 0
    cached: bool = False
    failed: str | None = None  # why the writer gave no text (then every part is the template)

    def source_of(self, part: str) -> str:
        return self.sources.get(part, TEMPLATE)

    @property
    def source(self) -> str:
        """``claude`` when the model wrote every part, ``template`` when it wrote none, else
        ``mixed``."""
        kinds = set(self.sources.values())
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def label(self) -> str:
        """What a reader is told: "written by Claude · numbers checked" or "template"."""
        if self.source == "mixed":
            return "written by Claude · numbers checked (some parts from the template)"
        return SOURCE_LABELS.get(self.source, self.source)


def templates_only(request: NarrativeRequest) -> Narratives:
    """Every part from its template."""
    return Narratives(
        texts=dict(request.templates), sources=dict.fromkeys(request.templates, TEMPLATE)
    )


def tidy(text: str, max_sentences: int | None) -> str:
    """Whitespace collapsed, at most ``max_sentences`` sentences and ``MAX_PART_CHARS``."""
    text = " ".join(str(text).split())
    if max_sentences:
        text = " ".join(_SENTENCE.split(text)[:max_sentences])
    if len(text) > MAX_PART_CHARS:
        text = text[: MAX_PART_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def check(
    texts: Mapping[str, str], request: NarrativeRequest, evidence: Evidence
) -> dict[str, list[str]]:
    """part -> the numbers it states that the evidence lacks (missing/empty parts included)."""
    bad: dict[str, list[str]] = {}
    for part in request.parts:
        text = texts.get(part, "")
        if not text.strip():
            bad[part] = ["(missing)"]
            continue
        numbers = unsupported_numbers(text, evidence)
        if numbers:
            bad[part] = numbers
    return bad


def cached(session: Session, request: NarrativeRequest, model: str) -> NarrativeRecord | None:
    """What ``model`` wrote for this request's evidence before (same account and day)."""
    account, day = col(NarrativeRecord.account_id), col(NarrativeRecord.day)
    return session.exec(
        select(NarrativeRecord).where(
            account.is_(None) if request.account_id is None else account == request.account_id,
            day.is_(None) if request.day is None else day == request.day,
            NarrativeRecord.kind == request.kind,
            NarrativeRecord.evidence_hash == request.evidence_hash,
            NarrativeRecord.model == model[:64],
        )
    ).first()


def _attempt(
    writer: Writer, request: NarrativeRequest, feedback: Feedback | None
) -> dict[str, str]:
    raw = writer.write(request, feedback)
    return {
        part: tidy(raw[part], request.max_sentences)
        for part in request.parts
        if isinstance(raw.get(part), str)
    }


def narrate(
    session: Session,
    request: NarrativeRequest,
    writer: Writer | None,
    *,
    store_result: bool = True,
    log_failure: bool = True,
) -> Narratives:
    """The request's parts: cached, or written and checked, or from the templates.

    ``store_result=False`` leaves storing to the caller (``store``); ``log_failure=False`` leaves
    reporting a failed writer to the caller (``Narratives.failed``)."""
    if writer is None:
        return templates_only(request)
    record = cached(session, request, writer.model)
    if record is not None:
        return Narratives(
            texts={p: str(record.texts.get(p) or request.templates[p]) for p in request.parts},
            sources={p: str(record.sources.get(p) or TEMPLATE) for p in request.parts},
            rejected=list(record.rejected),
            cached=True,
        )
    evidence = Evidence.of(request.evidence)
    calls = 0
    try:
        calls += 1
        texts = _attempt(writer, request, None)
        bad = check(texts, request, evidence)
        rejected = sorted({n for numbers in bad.values() for n in numbers})
        if bad:
            log.info("narrative for account %s rejected: %s", request.account_id, rejected)
            calls += 1
            retry = _attempt(writer, request, Feedback(bad, texts))
            texts.update({p: t for p, t in retry.items() if p in bad})
            bad = check(texts, request, evidence)
    except WriterError as exc:
        if log_failure:
            log.warning("narrative writer unavailable (%s); using the templates", exc)
        result = templates_only(request)
        result.model_calls = calls
        result.failed = str(exc) or type(exc).__name__
        return result
    result = Narratives(texts={}, sources={}, rejected=rejected, model_calls=calls)
    for part in request.parts:
        ok = part not in bad
        result.texts[part] = texts[part] if ok else request.templates[part]
        result.sources[part] = CLAUDE if ok else TEMPLATE
    if store_result:
        store(session, request, result, writer.model)
    return result


def store(session: Session, request: NarrativeRequest, result: Narratives, model: str) -> None:
    """Keep ``result`` as what ``model`` wrote for ``request`` (a no-op when already kept)."""
    record = NarrativeRecord(
        account_id=request.account_id,
        kind=request.kind,
        day=request.day,
        evidence_hash=request.evidence_hash,
        texts=result.texts,
        sources=result.sources,
        rejected=result.rejected,
        model=model[:64],
        model_calls=result.model_calls,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:  # another worker narrated the same evidence first: keep theirs
        log.info("narrative for account %s already stored", request.account_id)
