"""Account lookup by what a person types: names, partial names, typos or external ids.

``find_accounts`` ranks candidates; ``resolve_account`` picks one or raises a domain error that
says why (``AccountNotFound`` with suggestions, ``AmbiguousAccount`` with candidates).

Matching works on a normalised name (case, accents, punctuation and legal suffixes such as
"Corp", "Inc" or "GmbH" removed). The index of normalised names lives in an ``AccountIndexCache``
carried by the session's injected ``Caches`` (``tools.facts.cache``: one per session factory).
A lookup ranks on the cached index and reads the chosen account together with the data version
(newest ids, index reads) in one statement; the index is rebuilt (one read of the names) when
that row no longer carries the indexed name or id, when an account was added since, before
answering "not found" or "ambiguous", and after ``ttl_seconds`` (another account renamed into a
better match is seen then). A lookup over 10k accounts costs that one statement, a dictionary
probe and, only when that fails, one pass of prefix checks and difflib.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from tools.facts.cache import caches_of, remember_version, version_columns
from tools.models import Account

INDEX_TTL_SECONDS = 60.0
FUZZY_CUTOFF = 0.72
SUGGESTION_CUTOFF = 0.5

LEGAL_SUFFIXES = frozenset(
    {
        "ag",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "limited",
        "llc",
        "llp",
        "lp",
        "ltd",
        "nv",
        "oy",
        "plc",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
    }
)

_NON_WORD = re.compile(r"[^a-z0-9]+")


class AccountLookupError(Exception):
    """Base class: what the person typed did not name exactly one account."""

    def __init__(self, query: str) -> None:
        super().__init__(query)
        self.query = query


class AccountNotFound(AccountLookupError):  # noqa: N818  (domain wording)
    """No account matches ``query``; ``suggestions`` holds the nearest names, maybe none."""

    def __init__(self, query: str, suggestions: list[AccountMatch]) -> None:
        super().__init__(query)
        self.suggestions = suggestions

    def __str__(self) -> str:
        return f"no account matches {self.query!r}"


class AmbiguousAccount(AccountLookupError):  # noqa: N818  (domain wording)
    """Several accounts match ``query`` equally well."""

    def __init__(self, query: str, candidates: list[AccountMatch]) -> None:
        super().__init__(query)
        self.candidates = candidates

    def __str__(self) -> str:
        return f"{len(self.candidates)} accounts match {self.query!r}"


@dataclass(frozen=True)
class AccountMatch:
    """One candidate account for a query, with how well and why it matched."""

    account_id: int
    external_id: str
    name: str
    score: float
    reason: str  # external_id | exact | prefix | words | contains | fuzzy


@dataclass(frozen=True)
class _Entry:
    account_id: int
    external_id: str
    name: str
    key: str
    words: tuple[str, ...]


_Adder = Callable[[_Entry, float, str], None]


@dataclass
class _Index:
    newest_id: int  # the largest account id when it was built
    built_at: float
    entries: list[_Entry]
    by_key: dict[str, list[_Entry]]
    by_exact_name: dict[str, list[_Entry]]
    by_external_id: dict[str, _Entry]


@dataclass
class AccountIndexCache:
    """The name index of one database (held by the session's ``Caches``): rebuilt when a lookup
    finds it stale (``resolve_account``) or after ``ttl_seconds`` of ``clock``."""

    ttl_seconds: float = INDEX_TTL_SECONDS
    clock: Callable[[], float] = time.monotonic
    index: _Index | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> _Index | None:
        """The cached index unless it has expired."""
        with self._lock:
            index = self.index
        if index is None or self.clock() - index.built_at >= self.ttl_seconds:
            return None
        return index

    def store(self, index: _Index) -> None:
        """Keep ``index`` as the current one."""
        with self._lock:
            self.index = index

    def forget(self) -> None:
        """Drop the cached index."""
        with self._lock:
            self.index = None


def normalise_name(text: str) -> str:
    """Lower-case ASCII words without punctuation or legal suffixes: "ACME Corp." -> "acme"."""
    return _without_suffixes(exact_name_key(text))  # "S.A." -> "sa"


def _without_suffixes(exact: str) -> str:
    words = exact.split()
    while len(words) > 1 and (words[-1] in LEGAL_SUFFIXES or words[-1] == "and"):
        words.pop()  # "Soylent & Co" -> "soylent"
    return " ".join(words)


def exact_name_key(text: str) -> str:
    """The name as typed, ignoring only case, accents and punctuation: "Sterling Robotics, Inc."
    -> "sterling robotics inc" (legal suffixes kept, unlike ``normalise_name``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    spaced = ascii_text.lower().replace("&", " and ").replace(".", "")
    return " ".join(_NON_WORD.sub(" ", spaced).split())


def find_accounts(session: Session, *, query: str, limit: int = 5) -> list[AccountMatch]:
    """Accounts matching ``query``, best first (empty when nothing is close; checked against a
    rebuilt index first, as a new account may be missing from the cached one)."""
    cache = caches_of(session).get(AccountIndexCache)
    index = cache.current()
    matches = _rank(index, query, cutoff=FUZZY_CUTOFF) if index is not None else []
    if not matches:
        matches = _rank(_rebuild(session, cache), query, cutoff=FUZZY_CUTOFF)
    return matches[:limit]


def resolve_account(session: Session, *, query: str) -> Account:
    """The one account ``query`` names; raises AccountNotFound or AmbiguousAccount.

    Ranked on the cached name index; the chosen account is read with the ``DataVersion`` in one
    statement, and the answer stands only if that row still carries the indexed name and id
    and no account was added since the index was built. Otherwise (and before answering "not
    found" or "ambiguous") the index is rebuilt and the query ranked again."""
    if not normalise_name(query):
        raise AccountNotFound(query, [])
    cache = caches_of(session).get(AccountIndexCache)
    index = cache.current()
    for _attempt in range(2):
        rebuilt = index is None
        if index is None:
            index = _rebuild(session, cache)
        matches = _rank(index, query, cutoff=FUZZY_CUTOFF)
        chosen = _single_winner(matches) if matches else None
        if chosen is None:
            if not rebuilt:
                index = None  # a stale index may miss a new or renamed account
                continue
            if not matches:
                suggestions = _rank(index, query, cutoff=SUGGESTION_CUTOFF)[:5]
                raise AccountNotFound(query, suggestions)
            best = matches[0].score
            raise AmbiguousAccount(query, [m for m in matches if best - m.score < 0.1][:10])
        row = session.execute(
            select(Account, *version_columns()).where(col(Account.id) == chosen.account_id)
        ).first()
        if row is not None:
            version = remember_version(session, row[1:])
            account: Account = row[0]
            same = (account.name, account.external_id) == (chosen.name, chosen.external_id)
            if same and version.accounts <= index.newest_id:
                return account
        if rebuilt and row is None:  # deleted just now
            raise AccountNotFound(query, [])
        index = None
    raise AccountNotFound(query, [])


def example_account_names(session: Session, *, limit: int = 3) -> list[str]:
    """A few real account names, for "try e.g. …" hints."""
    return [entry.name for entry in _index_for(session).entries[:limit]]


def invalidate_index(session: Session) -> None:
    """Forget the cached name index of this session's database."""
    caches_of(session).get(AccountIndexCache).forget()


def _single_winner(matches: list[AccountMatch]) -> AccountMatch | None:
    best = matches[0]
    runner_up = matches[1].score if len(matches) > 1 else 0.0
    if best.score >= 1.0 and runner_up < 1.0:
        return best
    if best.score - runner_up >= 0.1:
        return best
    return None


def _rank(index: _Index, query: str, *, cutoff: float) -> list[AccountMatch]:
    key = normalise_name(query)
    if not key:
        return []
    scored: dict[int, AccountMatch] = {}

    def add(entry: _Entry, score: float, reason: str) -> None:
        current = scored.get(entry.account_id)
        if current is None or current.score < score:
            scored[entry.account_id] = AccountMatch(
                entry.account_id, entry.external_id, entry.name, round(score, 3), reason
            )

    # Exact first: an exact external id, then an exact name (case and punctuation aside), each
    # resolves to its account before anything looser is considered.
    by_id = index.by_external_id.get(query.strip().lower())
    if by_id is not None:
        add(by_id, 1.0, "external_id")
        return list(scored.values())
    same_name = index.by_exact_name.get(exact_name_key(query), [])
    for entry in same_name:
        add(entry, 1.0, "exact")
    if same_name:
        return sorted(scored.values(), key=lambda m: (-m.score, m.name.lower()))
    for entry in index.by_key.get(key, []):
        add(entry, 1.0, "exact")
    if not scored:
        _add_partial_matches(index, key, add)
    if not scored:
        _add_fuzzy_matches(index, key, cutoff, add)
    return sorted(scored.values(), key=lambda m: (-m.score, m.name.lower()))


def _add_partial_matches(index: _Index, key: str, add: _Adder) -> None:
    query_words = key.split()
    for entry in index.entries:
        if entry.key.startswith(key):
            add(entry, 0.9 + 0.05 * len(key) / len(entry.key), "prefix")
        elif _words_prefix(query_words, entry.words):
            add(entry, 0.85, "words")
        elif len(key) >= 3 and key in entry.key:
            add(entry, 0.8, "contains")


def _add_fuzzy_matches(index: _Index, key: str, cutoff: float, add: _Adder) -> None:
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(key)
    for entry in index.entries:
        best = 0.0
        for candidate in (entry.key, *entry.words, entry.key[: len(key)]):
            matcher.set_seq1(candidate)
            if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
                continue
            best = max(best, matcher.ratio())
        if best >= cutoff:
            add(entry, 0.75 * best, "fuzzy")


def _words_prefix(query_words: list[str], name_words: tuple[str, ...]) -> bool:
    return all(any(word.startswith(q) for word in name_words) for q in query_words)


def _index_for(session: Session) -> _Index:
    cache = caches_of(session).get(AccountIndexCache)
    return cache.current() or _rebuild(session, cache)


def _rebuild(session: Session, cache: AccountIndexCache) -> _Index:
    index = _build_index(session, built_at=cache.clock())
    cache.store(index)
    return index


def _build_index(session: Session, *, built_at: float) -> _Index:
    rows = session.exec(
        select(Account.id, Account.external_id, Account.name).order_by(col(Account.name))
    ).all()
    newest_id = max((int(r[0]) for r in rows if r[0] is not None), default=0)
    entries: list[_Entry] = []
    by_key: dict[str, list[_Entry]] = {}
    by_exact_name: dict[str, list[_Entry]] = {}
    for id_, ext, name in rows:
        exact = exact_name_key(name)
        key = _without_suffixes(exact)
        if id_ is None or not key:
            continue
        entry = _Entry(int(id_), ext, name, key, tuple(key.split()))
        entries.append(entry)
        by_key.setdefault(key, []).append(entry)
        by_exact_name.setdefault(exact, []).append(entry)
    return _Index(
        newest_id=newest_id,
        built_at=built_at,
        entries=entries,
        by_key=by_key,
        by_exact_name=by_exact_name,
        by_external_id={e.external_id.lower(): e for e in entries},
    )
