"""The local Slack harness: a fake Slack Web API, a signed-request driver and a terminal Slack.

Used by the tests, the benchmarks, ``csbot chat`` and ``csbot demo``; nothing here talks to Slack.
"""

from bot.harness.driver import DriverResponse, ServedApp, SlackDriver, serve_app
from bot.harness.fake_slack import FakeSlack, SlackCall, SlackError
from bot.harness.http import make_wsgi_app

__all__ = [
    "DriverResponse",
    "FakeSlack",
    "ServedApp",
    "SlackCall",
    "SlackDriver",
    "SlackError",
    "make_wsgi_app",
    "serve_app",
]
