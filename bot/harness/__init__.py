"""Every fake and the local Slack harness: a fake Slack Web API, a signed-request driver, a
terminal Slack, and fakes of the Anthropic Messages API (``bot.harness.fake_anthropic``) and the
Notion API (``bot.harness.fake_notion``).

Used by the tests, the benchmarks, ``csbot chat`` and ``csbot demo``; nothing here talks to Slack,
Anthropic or Notion. The Anthropic and Notion fakes are imported from their modules, not here.
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
