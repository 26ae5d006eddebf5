"""Run the Slack app: Socket Mode (no public URL needed) or HTTP on ``/slack/events``."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import SlackSetupError, create_app
from bot.config import Settings
from bot.harness.http import EVENTS_PATH, make_server
from bot.jobs.delivery import scheduler_client
from bot.jobs.schedule import start_scheduler
from bot.narrator import claude_writer, make_alert_narrator
from tools.db import SessionFactory
from tools.scoring_config import load_config

logger = logging.getLogger(__name__)


def settle_heap() -> None:
    """Collect, then freeze what startup allocated (modules, the app, caches): the collector's
    full passes then skip it, so they no longer add ~150 ms to a request now and then (App Home
    p99, issue 12). Done once, before serving."""
    gc.collect()
    gc.freeze()


@contextmanager
def scheduled_jobs(
    settings: Settings, *, session_factory: SessionFactory, enabled: bool
) -> Iterator[BackgroundScheduler | None]:
    """Run the scheduler in the background while the app serves (and stop it afterwards)."""
    if not enabled:
        yield None
        return
    scheduler = start_scheduler(
        settings,
        session_factory=session_factory,
        client=scheduler_client(settings),
        config=load_config(settings.scoring_config),
        narrator=make_alert_narrator(session_factory, claude_writer(settings)),
    )
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def serve_socket_mode(
    settings: Settings, *, session_factory: SessionFactory, with_jobs: bool = True
) -> None:
    """Connect to Slack over Socket Mode and handle requests until interrupted."""
    if settings.slack_app_token is None:
        raise SlackSetupError(
            "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) with the "
            "connections:write scope (Slack app settings → Basic Information → App-Level Tokens). "
            "To receive requests over HTTP instead, run `csbot serve --http`."
        )
    app = create_app(settings, session_factory=session_factory, socket_mode=True)
    logger.info("connecting to Slack over Socket Mode")
    handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
    with scheduled_jobs(settings, session_factory=session_factory, enabled=with_jobs):
        settle_heap()
        handler.start()  # type: ignore[no-untyped-call]


def serve_http(
    settings: Settings,
    *,
    session_factory: SessionFactory,
    host: str,
    port: int,
    with_jobs: bool = True,
) -> None:
    """Serve Slack requests on ``http://host:port/slack/events`` until interrupted."""
    app = create_app(settings, session_factory=session_factory)
    server = make_server(app, host=host, port=port)
    bound_host, bound_port = server.server_address[:2]
    logger.info("serving Slack requests on http://%s:%s%s", bound_host, bound_port, EVENTS_PATH)
    try:
        with scheduled_jobs(settings, session_factory=session_factory, enabled=with_jobs):
            settle_heap()
            server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()
