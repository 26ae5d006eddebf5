"""The keyless asks' rules: text -> ``Intent`` or None (case-insensitive regular expressions)."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.intents import Intent, IntentKind

_ACCOUNT = r"(?P<account>[\w&.,' -]{1,80}?)"
_END = r"\s*[?.!]*\s*$"
_MINE = re.compile(r"\b(?:my|mine|i own|my book)\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d{1,3})\s*(days?|weeks?|months?)\b", re.IGNORECASE)
_SEGMENTS = {
    "enterprise": "enterprise",
    "mid-market": "mid-market",
    "mid market": "mid-market",
    "midmarket": "mid-market",
    "smb": "smb",
    "small business": "smb",
}
SEGMENTS = frozenset(_SEGMENTS.values())
TRIGGER_WORDS: tuple[tuple[str, str], ...] = (
    (
        r"champion\w*\s+(?:left|gone|departed|quit)|lost\s+(?:their|the|a)\s+champion|"
        r"no\s+champion|without\s+a\s+champion",
        "champion_left",
    ),
    (r"overdue|unpaid|late\s+(?:invoice|payment)|hasn't\s+paid|not\s+paid", "overdue_invoice"),
    (r"detractor|bad\s+nps|low\s+nps", "detractor_nps"),
    (r"ticket\s+spike|spike\s+in\s+tickets|support\s+spike|lots\s+of\s+tickets", "ticket_spike"),
    (r"logins?\s+(?:falling|declining|dropping|down)|fewer\s+logins", "logins_declining"),
    (r"usage\s+(?:falling|declining|dropping|down)|declining\s+usage", "usage_declining"),
    (r"no\s+usage|stopped\s+using|not\s+using", "no_usage"),
    (r"escalat\w+", "tam_escalation"),
)
TRIGGER_TITLES = {
    "champion_left": "whose champion left",
    "overdue_invoice": "with an overdue invoice",
    "detractor_nps": "with detractor NPS",
    "ticket_spike": "with a support ticket spike",
    "logins_declining": "with logins falling",
    "usage_declining": "with usage falling",
    "no_usage": "with no product usage",
    "tam_escalation": "with a technical escalation",
    "renewal_window": "renewing soon while unhealthy",
}


def _match(patterns: tuple[str, ...], text: str) -> str | None:
    for pattern in patterns:
        found = re.match(pattern, text, re.IGNORECASE)
        if found and found.group("account").strip(" ,.'"):
            return found.group("account").strip(" ,.'")
    return None


def _days(text: str, default: int) -> int:
    found = _DAYS.search(text)
    if not found:
        return default
    unit = found.group(2).lower()
    scale = 7 if unit.startswith("week") else 30 if unit.startswith("month") else 1
    return max(1, min(int(found.group(1)) * scale, 365))


def segment_in(text: str) -> str | None:
    """The segment a question names ("enterprise accounts at risk"), if any."""
    lowered = text.lower()
    for word, segment in _SEGMENTS.items():
        if re.search(rf"\b{re.escape(word)}\b", lowered):
            return segment
    return None


_QBR = (
    rf"^(?:please\s+)?(?:draft|prepare|prep|write|build|create|make|start|generate|do)\s+"
    rf"(?:a\s+|an\s+|the\s+)?(?:new\s+)?qbr\s+(?:for|of|with|on)\s+{_ACCOUNT}{_END}",
    rf"^(?:please\s+)?(?:draft|prepare|prep|write|build|create|make|start|generate|do)\s+"
    rf"(?:the\s+)?{_ACCOUNT}(?:'s|s')\s+(?:next\s+)?qbr{_END}",
    rf"^(?:a\s+|the\s+)?qbr\s+(?:for|of)\s+{_ACCOUNT}{_END}",
    rf"^{_ACCOUNT}(?:'s|s')?\s+qbr(?:\s+draft)?{_END}",
)
_VERB = r"(?:drop|dropped|fall|fell|falls|decline|declined|slip|slipped|go\s+down|went\s+down|dip|dipped|get\s+worse|got\s+worse|tank|tanked)"  # noqa: E501
_WHY = (
    rf"^why\s+(?:did|has|have|does|is)\s+{_ACCOUNT}(?:'s)?\s+(?:health\s+)?(?:score\s+)?"
    rf"{_VERB}(?:\s+(?:so\s+much|recently|lately|this\s+month))?{_END}",
    rf"^why\s+(?:is|are)\s+{_ACCOUNT}(?:'s)?\s+(?:health\s+)?(?:score\s+)?(?:down|red|amber|"
    rf"dropping|falling|at\s+risk|so\s+low|worse)(?:\s+now)?{_END}",
    rf"^what\s+(?:changed|happened)\s+(?:at|with|to|for)\s+{_ACCOUNT}{_END}",
    rf"^what\s+moved\s+{_ACCOUNT}(?:'s)?\s+(?:health\s+)?score{_END}",
)
_ADVICE = (
    rf"^what\s+(?:should|do|can|could|must)\s+(?:i|we)\s+do\s+(?:about|with|for|on)\s+"
    rf"{_ACCOUNT}{_END}",
    rf"^how\s+(?:do|can|should)\s+(?:i|we)\s+(?:save|rescue|fix|help|retain)\s+{_ACCOUNT}{_END}",
    rf"^(?:next\s+steps?|playbook|action\s+plan|plan)\s+(?:for|on)\s+{_ACCOUNT}{_END}",
    rf"^what(?:'s| is| are)\s+(?:the\s+)?(?:next\s+steps?|playbook|plan)\s+(?:for|on)\s+"
    rf"{_ACCOUNT}{_END}",
)
_TICKETS = (
    rf"^(?:please\s+)?(?:summari[sz]e|summary\s+of|show(?:\s+me)?|list|what\s+are|recap)\s+"
    rf"(?:the\s+)?{_ACCOUNT}(?:'s|s')?\s+(?:support\s+)?tickets{_END}",
    rf"^(?:please\s+)?(?:summari[sz]e|summary\s+of|show(?:\s+me)?|list|what\s+are|recap|any)\s+"
    rf"(?:the\s+)?(?:recent\s+)?(?:support\s+)?tickets\s+(?:for|of|from|at|with)\s+{_ACCOUNT}{_END}",
    rf"^{_ACCOUNT}(?:'s|s')?\s+(?:support\s+)?tickets(?:\s+summary)?{_END}",
    rf"^(?:support\s+)?tickets\s+(?:for|of|from|at)\s+{_ACCOUNT}{_END}",
)
_METRICS = re.compile(
    r"\b(?P<m>nrr|grr|net\s+(?:revenue|dollar)\s+retention|gross\s+(?:revenue\s+)?retention|"
    r"logo\s+churn|retention|portfolio\s+metrics|nps|net\s+promoter)\b",
    re.IGNORECASE,
)
_QUIET = re.compile(
    r"\b(?:(?:hasn't|has\s+not|haven't|have\s+not|hadn't|not|never|no\s+one\s+has|nobody\s+has)"
    r"\s+logged\s+in|no\s+logins?|not\s+logging\s+in|stopped\s+logging\s+in|inactive|dormant|"
    r"gone\s+quiet|gone\s+dark)\b",
    re.IGNORECASE,
)


def qbr_rule(text: str) -> Intent | None:
    account = _match(_QBR, text)
    return Intent(IntentKind.QBR, account=account, command="/qbr") if account else None


def why_rule(text: str) -> Intent | None:
    account = _match(_WHY, text)
    if account is None:
        return None
    return Intent(IntentKind.WHY_CHANGED, account=account, within_days=_days(text, 30))


def advice_rule(text: str) -> Intent | None:
    account = _match(_ADVICE, text)
    return Intent(IntentKind.ADVICE, account=account) if account else None


def tickets_rule(text: str) -> Intent | None:
    account = _match(_TICKETS, text)
    if account is None or account.lower() in ("open", "my", "recent", "all", "urgent"):
        return None
    return Intent(IntentKind.TICKETS, account=account, within_days=_days(text, 90))


def metrics_rule(text: str) -> Intent | None:
    found = _METRICS.search(text)
    if found is None:
        return None
    word = found.group("m").lower()
    metric = (
        "nrr"
        if word.startswith(("nrr", "net"))
        else "grr"
        if word.startswith(("grr", "gross"))
        else "logo_churn"
        if word.startswith("logo")
        else "nps"
        if word.startswith("nps")
        else "all"
    )
    return Intent(IntentKind.METRICS, metric=metric)


def trigger_rule(text: str) -> Intent | None:
    for pattern, key in TRIGGER_WORDS:
        if re.search(pattern, text, re.IGNORECASE):
            return Intent(
                IntentKind.TRIGGER,
                trigger=key,
                mine=bool(_MINE.search(text)),
                segment=segment_in(text),
                within_days=_days(text, 60) if _renewing(text) else None,
            )
    return None


def quiet_rule(text: str) -> Intent | None:
    if not _QUIET.search(text):
        return None
    return Intent(
        IntentKind.QUIET,
        within_days=_days(text, 30),
        mine=bool(_MINE.search(text)),
        segment=segment_in(text),
    )


def _renewing(text: str) -> bool:
    return bool(re.search(r"\brenew\w*", text, re.IGNORECASE))


RULES: tuple[Callable[[str], Intent | None], ...] = (
    qbr_rule,
    why_rule,
    advice_rule,
    tickets_rule,
    quiet_rule,
    trigger_rule,
    metrics_rule,
)
"""Tried in order before the health/renewals/at-risk/expansion rules (they are more specific)."""
