"""Serve a Bolt app over plain HTTP: a WSGI app plus a small threaded stdlib server.

Every request passes ``bot.gate.RequestGate`` before Bolt sees it.

``csbot serve --http`` and the harness both use these; in production put any WSGI server
(gunicorn, waitress) in front of ``make_wsgi_app(app)`` instead of ``make_server``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.gate import RequestGate

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _make_server

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTHZ_PATH = "/healthz"


def make_wsgi_app(
    app: App, *, path: str = EVENTS_PATH, signing_secret: str | None = None
) -> WSGIApplication:
    """A WSGI app: Slack requests on ``path`` go through the gate (bot/gate.py: size cap,
    timestamp, signature, well-formed payload) to Bolt; ``GET /healthz`` answers ``ok``.

    ``signing_secret`` defaults to the app's own; without one every Slack request gets 401.
    """
    secret = signing_secret if signing_secret is not None else app_signing_secret(app)
    bolt = RequestGate(SlackRequestHandler(app, path=path), signing_secret=secret, path=path)

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == HEALTHZ_PATH:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok"]
        return bolt(environ, start_response)

    return wsgi


def app_signing_secret(app: App) -> str:
    """The signing secret ``app`` was built with ("" when none)."""
    return str(getattr(app, "_signing_secret", "") or "")


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http: " + format, *args)


def make_server(app: App, *, host: str = "127.0.0.1", port: int = 3000) -> WSGIServer:
    """A threaded stdlib WSGI server for ``app`` (call ``serve_forever()``; port 0 = any free)."""
    return _make_server(
        host,
        port,
        make_wsgi_app(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
