"""The one way out to Slack: every outbound payload is escaped here, whoever built it.

The boundary sits below every renderer, at the transport:

- ``SafeWebClient`` (a ``WebClient`` whose ``api_call`` sanitises its arguments) is the client of
  the app, of every request (``CsbotApp`` builds it per request in place of Bolt's plain one), of
  the scheduled jobs and of the harness. Messages, updates, ephemerals, stream chunks
  (``chat.startStream/appendStream/stopStream``), views and file titles/comments all pass
  ``api_call``, so no posting path can skip it.
- ``SafeRespond`` does the same for ``response_url`` posts, and ``CsbotApp.dispatch`` for the
  body of every ``ack(...)`` (slash command replies, modal errors).

What is escaped: every display string (top-level ``text``/``markdown_text``/``initial_comment``,
every text object in blocks, attachments and views, rich text, stream chunks, file titles) gets
``&``, ``<`` and ``>`` escaped (idempotently: an existing ``&lt;`` stays as it is, so renderers
that already escape are not double-escaped). In markdown (``markdown_text``, ``markdown`` blocks,
markdown chunks) a link whose label is not its URL, ``[click here](https://evil)``, becomes
``click here (https://evil)``.

What is not: mentions and links made by our own typed helpers (``mention``, ``channel_link``,
``link``). Each wraps its ``<…>`` in private-use markers carrying a secret (derived from the
signing secret, else random per process: ``use_key``), which the boundary unwraps; data and
model output cannot know the secret, so whatever they contain (``<!channel>``, ``<@U…>``,
``<!subteam^…>``, ``<https://evil|click here>``) is escaped and shown as text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from slack_bolt.context.respond import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.config import Settings

_OPEN, _MID, _CLOSE = "\ue000", "\ue001", "\ue002"
_KEY = {"secret": secrets.token_hex(12)}
_TOKEN = re.compile(f"{_OPEN}([0-9a-f]{{24}}){_MID}(<[^<>{_OPEN}{_MID}{_CLOSE}]*>){_CLOSE}")
_MARKS = re.compile(f"[{_OPEN}{_MID}{_CLOSE}]")
_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")
_MD_LINK = re.compile(r"\[([^\[\]]*)\]\(([^()\s]*)\)")
_USER_ID = re.compile(r"[UWB][A-Z0-9]{2,20}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,20}")
_URL = re.compile(r"(?:https://|mailto:)[^\s<>|\"'\x00-\x1f\x7f]{1,2000}")

TEXT_KEYS = frozenset({"text", "markdown_text", "initial_comment", "title", "alt_text"})
ATTACHMENT_KEYS = frozenset(
    {"text", "pretext", "title", "fallback", "footer", "author_name", "value"}
)
DISPLAY_KEYS = TEXT_KEYS | ATTACHMENT_KEYS
JSON_STRING_KEYS = frozenset({"blocks", "attachments", "view", "files", "chunks"})
MARKDOWN_TYPES = frozenset({"markdown", "markdown_text"})


# -- our typed helpers: the only source of mentions and links ----------------------------------


def use_key(material: str | None) -> None:
    """Derive the marker secret from ``material`` (a deployment secret), so that a message
    rendered by one process (``csbot scan``) and posted by another (``csbot serve``) keeps its
    mentions; without material the secret stays random to this process."""
    if material:
        digest = hashlib.sha256(b"csbot-slack-marks\0" + material.encode()).hexdigest()
        _KEY["secret"] = digest[:24]


def use_settings_key(settings: Settings) -> None:
    """``use_key`` with the deployment's signing secret (else its bot token)."""
    secret = settings.slack_signing_secret or settings.slack_bot_token
    use_key(secret.get_secret_value() if secret is not None else None)


def _mark(token: str) -> str:
    return f"{_OPEN}{_KEY['secret']}{_MID}{token}{_CLOSE}"


def mention(user_id: object) -> str:
    """``<@U…>`` for a Slack user id; anything else is shown as (escaped) text."""
    value = str(user_id or "")
    return _mark(f"<@{value}>") if _USER_ID.fullmatch(value) else escape(value)


def channel_link(channel_id: object) -> str:
    """``<#C…>`` for a channel id; a channel name (``#cs-alerts``) is shown as text."""
    value = str(channel_id or "")
    return _mark(f"<#{value}>") if _CHANNEL_ID.fullmatch(value) else escape(value)


def link(url: object, label: object | None = None) -> str:
    """``<url|label>`` for an https (or mailto) URL; anything else is shown as text."""
    target = str(url or "")
    if not _URL.fullmatch(target):
        return escape(target if label is None else f"{label} ({target})")
    shown = escape(_MARKS.sub("", str(label))).replace("|", "/") if label is not None else ""
    return _mark(f"<{target}|{shown}>" if shown else f"<{target}>")


# -- the boundary ------------------------------------------------------------------------------


def escape(text: str) -> str:
    """``&``, ``<``, ``>`` escaped (``&amp;``, ``&lt;``, ``&gt;`` left as they are)."""
    return _AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def escape_data(text: object) -> str:
    """Renderers' escape: data escaped, our marked mentions/links kept (still marked), so the
    boundary can tell them apart later; idempotent."""
    raw = str(text)
    if _OPEN not in raw:
        return escape(raw)
    out: list[str] = []
    at = 0
    for match in _TOKEN.finditer(raw):
        out.append(escape(_MARKS.sub("", raw[at : match.start()])))
        ours = hmac.compare_digest(match.group(1), _KEY["secret"])
        out.append(match.group(0) if ours else escape(match.group(2)))
        at = match.end()
    out.append(escape(_MARKS.sub("", raw[at:])))
    return "".join(out)


def safe_text(text: str, *, markdown: bool = False) -> str:
    """``text`` with our own marked mentions/links kept and everything else escaped."""
    out: list[str] = []
    at = 0
    for match in _TOKEN.finditer(text):
        out.append(_plain(text[at : match.start()], markdown))
        if hmac.compare_digest(match.group(1), _KEY["secret"]):
            out.append(match.group(2))
        else:
            out.append(_plain(match.group(2), markdown))
        at = match.end()
    out.append(_plain(text[at:], markdown))
    return "".join(out)


def _plain(text: str, markdown: bool) -> str:
    cleaned = escape(_MARKS.sub("", text))
    return _MD_LINK.sub(_neutral_link, cleaned) if markdown else cleaned


def _neutral_link(match: re.Match[str]) -> str:
    label, url = match.group(1), match.group(2)
    return url if label.strip() in ("", url) else f"{label} ({url})"


def sanitize(value: Any, *, markdown: bool = False) -> Any:
    """A copy of a block, view, attachment or chunk tree with every display string escaped."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        value = value.to_dict()
    if isinstance(value, Mapping):
        kind = value.get("type")
        is_markdown = markdown or kind in MARKDOWN_TYPES
        out: dict[str, Any] = {}
        for key, item in value.items():
            if (
                isinstance(item, str)
                and key in TEXT_KEYS | ATTACHMENT_KEYS
                and _is_display(value, key)
            ):
                out[key] = safe_text(item, markdown=is_markdown)
            else:
                out[key] = sanitize(item, markdown=is_markdown and key != "elements")
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [sanitize(item, markdown=markdown) for item in value]
    return value


def _is_display(node: Mapping[str, Any], key: str) -> bool:
    """``value`` is display text only in attachment fields; elsewhere (buttons) it is data."""
    return key != "value" or ("title" in node and "short" in node)


def sanitize_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of one Web API call (or a response_url / ack body) with display text
    escaped; ids, values, URLs and metadata are left alone."""
    out: dict[str, Any] = {}
    for key, item in args.items():
        if key in JSON_STRING_KEYS and isinstance(item, str):
            try:
                decoded = json.loads(item)
            except ValueError:
                out[key] = safe_text(item)
                continue
            out[key] = json.dumps(sanitize(decoded))
        elif key in JSON_STRING_KEYS:
            out[key] = sanitize(item)
        elif key in TEXT_KEYS and isinstance(item, str):
            out[key] = safe_text(item, markdown=key == "markdown_text")
        elif key == "errors" and isinstance(item, Mapping):
            out[key] = {k: safe_text(str(v)) for k, v in item.items()}
        else:
            out[key] = item
    return out


class SafeRespond(Respond):
    """Bolt's ``respond()`` through the boundary: the ``response_url`` post is escaped too."""

    def __call__(  # type: ignore[override]
        self, text: str | dict[str, Any] = "", **fields: Any
    ) -> WebhookResponse:
        """Post to the verified request's ``response_url`` (escaped)."""
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        message = (
            _build_message(**text)
            if isinstance(text, dict)
            else _build_message(text=text, **fields)
        )
        client = WebhookClient(url=self.response_url, proxy=self.proxy, ssl=self.ssl)
        return client.send_dict(sanitize_arguments(message))


class SafeWebClient(WebClient):
    """A ``WebClient`` whose every call passes the output boundary (see the module)."""

    def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        """Escape the call's display text, then send it as ``WebClient`` would."""
        return super().api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=sanitize_arguments(data) if isinstance(data, dict) else data,
            params=sanitize_arguments(params) if isinstance(params, dict) else params,
            json=sanitize_arguments(json) if isinstance(json, dict) else json,
            headers=headers,
            auth=auth,
        )


_SAFE_CLASSES: dict[type[WebClient], type[SafeWebClient]] = {}


def safe_client(client: WebClient) -> SafeWebClient:
    """``client`` itself, made safe: its class becomes a subclass of ``SafeWebClient`` (and of
    its own class, so its own behaviour and state are kept), whatever the caller injected."""
    if isinstance(client, SafeWebClient):
        return client
    cls = type(client)
    if cls is WebClient:
        safe: type[SafeWebClient] = SafeWebClient
    else:
        safe = _SAFE_CLASSES.setdefault(cls, type(f"Safe{cls.__name__}", (SafeWebClient, cls), {}))
    client.__class__ = safe
    assert isinstance(client, SafeWebClient)
    return client


def strip_marks(text: str) -> str:
    """``text`` as plain text outside Slack (our mention/link markers removed)."""
    return _TOKEN.sub(lambda m: m.group(2), text) if _OPEN in text else text
