"""The request gate: nothing reaches Bolt unless its size, timestamp and signature check out.

``RequestGate`` wraps the WSGI app that hands requests to Bolt. For every ``POST`` to the
events path it, in this order:

1. refuses a body without ``Content-Length`` (411; chunked bodies included: Slack always sends a
   length) or longer than ``MAX_BODY_BYTES`` (413) *without reading it*, and reads at most that
   many bytes otherwise;
2. refuses (401) a request whose ``X-Slack-Request-Timestamp`` is not a plain ASCII integer
   within five minutes of now, or whose ``X-Slack-Signature`` does not match (slack_sdk's
   ``SignatureVerifier``). Nothing about the body is logged, nothing is called;
3. refuses (400, one log line) a *signed* body that is not a well-formed Slack payload (bad JSON,
   ``actions: []``, a view without ``type``…), so Bolt never raises on it.

Only then does Bolt see the request, carrying the header ``X-Csbot-Verified`` set to a secret
nonce drawn once per process (``is_verified``). The app's error handler acts only on requests
that carry it (or that came over Socket Mode, which the app-level token authenticates), so no
failure path can answer, post to a ``response_url`` or call Slack for an unverified request.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_CLOCK_SKEW_SECONDS = 300
VERIFIED_HEADER = "X-Csbot-Verified"
_VERIFIED_ENVIRON = "HTTP_X_CSBOT_VERIFIED"
_NONCE = secrets.token_hex(16)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class MalformedPayloadError(ValueError):
    """A signed body that is not a Slack payload we can route (the message says why)."""


def is_verified(headers: Mapping[str, Any] | None) -> bool:
    """Whether a Bolt request's headers carry this process's gate nonce."""
    if not headers:
        return False
    value = headers.get(VERIFIED_HEADER.lower())
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = value[0] if value else None
    return isinstance(value, str) and hmac.compare_digest(value, _NONCE)


def check_signature(
    body: bytes, timestamp: str | None, signature: str | None, *, secret: str, now: float
) -> str | None:
    """None when ``body`` is signed by ``secret`` at a fresh ``timestamp``; else the reason."""
    if not secret:
        return "no signing secret configured"
    if timestamp is None or _TIMESTAMP.fullmatch(timestamp) is None:
        return "timestamp missing or not an integer"
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return "timestamp outside five minutes"
    if signature is None or _SIGNATURE.fullmatch(signature) is None:
        return "signature missing or malformed"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    expected = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=text) or ""
    if not hmac.compare_digest(expected, signature):
        return "signature mismatch"
    return None


def check_payload(body: bytes, content_type: str) -> None:
    """Raise ``MalformedPayloadError`` unless ``body`` is a Slack payload Bolt can route."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayloadError("body is not UTF-8") from exc
    if content_type.startswith("application/json"):
        _check_event(_json_object(text, "body"))
        return
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:
        _check_interaction(_json_object(form["payload"][0], "payload"))
    elif "command" in form:
        if not form["command"][0].startswith("/"):
            raise MalformedPayloadError("slash command without a /command")
    elif form.get("ssl_check") == ["1"]:
        return
    else:
        raise MalformedPayloadError("neither a slash command nor an interaction payload")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayloadError(f"{what} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise MalformedPayloadError(f"{what} is not a JSON object")
    return data


def _check_event(body: dict[str, Any]) -> None:
    kind = body.get("type")
    if kind == "url_verification":
        if not isinstance(body.get("challenge"), str):
            raise MalformedPayloadError("url_verification without a challenge")
        return
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise MalformedPayloadError("event_callback without an event type")
        return
    if not isinstance(kind, str):
        raise MalformedPayloadError("JSON body without a type")


def _check_interaction(payload: dict[str, Any]) -> None:
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise MalformedPayloadError("interaction payload without a type")
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            raise MalformedPayloadError("block_actions without actions")
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            raise MalformedPayloadError("block_actions with an action lacking action_id")
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("type"), str):
            raise MalformedPayloadError(f"{kind} without a view type")
        if not isinstance(view.get("callback_id", ""), str):
            raise MalformedPayloadError(f"{kind} with a non-text callback_id")
    if kind in ("shortcut", "message_action") and not isinstance(payload.get("callback_id"), str):
        raise MalformedPayloadError(f"{kind} without a callback_id")
    for key in ("user", "team", "channel", "view", "message", "container"):
        if key in payload and payload[key] is not None and not isinstance(payload[key], dict):
            raise MalformedPayloadError(f"{key} is not an object")


class RequestGate:
    """WSGI middleware in front of Bolt: size cap, signature, well-formed payload (see module)."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        signing_secret: str,
        path: str,
        max_body: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app = app
        self._secret = signing_secret
        self._path = path
        self._max_body = max_body
        self._clock = clock

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ.pop(_VERIFIED_ENVIRON, None)  # only the gate may set it
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self._path:
            return self._app(environ, start_response)
        length = self._length(environ)
        if isinstance(length, tuple):
            return _refuse(start_response, *length)
        body = _read(environ, length)
        if len(body) != length:
            return _refuse(start_response, "400 Bad Request", "body shorter than Content-Length")
        reason = check_signature(
            body,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            environ.get("HTTP_X_SLACK_SIGNATURE"),
            secret=self._secret,
            now=self._clock(),
        )
        if reason is not None:
            return _refuse(start_response, "401 Unauthorized", reason)
        try:
            check_payload(body, str(environ.get("CONTENT_TYPE") or ""))
        except MalformedPayloadError as exc:
            logger.warning("refused a signed but malformed Slack request: %s", exc)
            return _respond(start_response, "400 Bad Request")
        environ[_VERIFIED_ENVIRON] = _NONCE
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self._app(environ, start_response)

    def _length(self, environ: WSGIEnvironment) -> int | tuple[str, str]:
        raw = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not raw or "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
            return "411 Length Required", "no Content-Length"
        if not raw.isascii() or not raw.isdigit():
            return "400 Bad Request", "Content-Length is not a number"
        if int(raw) > self._max_body:
            return "413 Content Too Large", f"body of {raw} bytes over {self._max_body}"
        return int(raw)


def _read(environ: WSGIEnvironment, length: int) -> bytes:
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _refuse(start_response: StartResponse, status: str, reason: str) -> Iterable[bytes]:
    """Answer an unverified request: status only; the log names the reason, never the body."""
    logger.info("refused a request before verification: %s (%s)", status, reason)
    return _respond(start_response, status)


def _respond(start_response: StartResponse, status: str) -> Iterable[bytes]:
    body = status.split(" ", 1)[1].encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]
