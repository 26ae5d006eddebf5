"""Serve a Bolt app over plain HTTP: a WSGI app plus a small threaded stdlib server.

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

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _make_server

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTHZ_PATH = "/healthz"


def make_wsgi_app(app: App, *, path: str = EVENTS_PATH) -> WSGIApplication:
    """A WSGI app: Slack requests on ``path`` go to Bolt; ``GET /healthz`` answers ``ok``."""
    bolt = SlackRequestHandler(app, path=path)

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == HEALTHZ_PATH:
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok"]
        return bolt(environ, start_response)

    return wsgi


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
