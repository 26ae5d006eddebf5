"""The fake Slack's wire: request bodies decoded like Slack does, the HTTP handler, and the small
helpers its Web API methods share (``ok_response``, paging, channel ids)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bot.harness.block_kit_checks import json_or_none

if TYPE_CHECKING:
    from bot.harness.fake_slack import FakeSlack

logger = logging.getLogger(__name__)

DROP = -1
"""``FakeSlack.handle``'s status for a call whose response is dropped (see ``drop_responses``)."""


def page_of(messages: list[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """One page of ``messages`` (``limit``, ``cursor`` = offset), metadata only when asked."""
    start = int(str(params.get("cursor") or 0) or 0)
    limit = int(str(params.get("limit") or 100) or 100)
    with_meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
    page = [
        m if with_meta else {k: v for k, v in m.items() if k != "metadata"}
        for m in messages[start : start + limit]
    ]
    more = start + limit < len(messages)
    cursor = str(start + limit) if more else ""
    return ok_response(messages=page, has_more=more, response_metadata={"next_cursor": cursor})


def ok_response(**fields: Any) -> dict[str, Any]:
    """A successful Web API answer."""
    return {"ok": True, **fields}


def has_token(params: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    """Whether the call carries a token (bearer header or ``token`` parameter)."""
    auth = headers.get("authorization", "")
    has_bearer = auth.lower().startswith("bearer ") and len(auth) > len("bearer ")
    return has_bearer or bool(params.get("token"))


def channel_id(channel: Any) -> str:
    """A channel id for a channel parameter (``#name`` becomes a stable fake id)."""
    text = str(channel or "C0TEST")
    return "C0" + text.lstrip("#").upper()[:9] if text.startswith("#") else text


def dm_channel(params: Mapping[str, Any]) -> str:
    """The DM channel id ``conversations.open`` gives for its first user."""
    users = str(params.get("users", "U0TEST")).split(",")[0]
    return "D" + users.removeprefix("U")


def decode_body(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    """Parameters from a query string and a form or JSON body (what Slack accepts)."""
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if not raw:
        return params
    if "json" in content_type:
        decoded = json_or_none(raw.decode("utf-8"))
        if isinstance(decoded, dict):
            params.update(decoded)
        return params
    if "x-www-form-urlencoded" in content_type:
        form = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
        return params
    params["_raw"] = raw.decode("utf-8", errors="replace")
    return params


def handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    """The HTTP request handler that feeds every request to ``fake.handle``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            if parts.path.startswith("/upload/"):  # file bytes, not a form: keep them as sent
                params: dict[str, Any] = {"_bytes": raw}
            else:
                params = decode_body(raw, headers.get("content-type", ""), parts.query)
            status, extra, body = fake.handle(parts.path, params, headers)
            if status == DROP:  # accepted, then the response is lost
                self.close_connection = True
                return
            is_json = isinstance(body, dict)
            payload = (json.dumps(body) if is_json else str(body)).encode("utf-8")
            self.send_response(status, HTTPStatus(status).phrase)
            kind = "application/json; charset=utf-8" if is_json else "text/plain; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("fake slack: " + format, *args)

    return Handler
