"""`csbot demo` from an empty machine: generate, score history, tour the real app; re-run reuses."""

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.harness.fake_slack import SlackCall
from bot.tour import SUMMARY_LINES, show_alert_summary


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "demo.db"


def test_demo_tours_the_real_app_and_reruns(env: Path) -> None:
    runner = CliRunner()
    args = ["demo", "--db", str(env), "--accounts", "20", "--months", "3"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    out = first.output
    assert "Generated 20 accounts" in out
    assert "months of history" in out
    assert "This morning in #cs-alerts" in out
    # a quiet first day still has its most urgent alerts (Acme: high risk, renewing in 45 days)
    assert "One of them in full" in out
    before_health = out[: out.index("you> /health acme")]
    assert len(before_health.splitlines()) < 150, "a quiet tour: /health comes early"
    assert "INFO" not in out, "no log lines inside the tour"
    assert "you> /health acme" in out
    assert "Acme Corp ·" in out  # the /health card came back from the app
    assert "At-risk accounts" in out
    assert "Your book of business" in out  # the App Home was published
    # an alert's owner acknowledges it (the message updated in place) and logs a call
    assert "acknowledges an alert" in out
    assert "Acknowledged by @U0CSM" in out
    assert "Logged a call on" in out
    assert "xoxb-" not in out, "no token is ever printed"

    second = runner.invoke(app, [*args, "--no-tour"])
    assert second.exit_code == 0, second.output
    assert "reusing it" in second.output
    assert "you> /health acme" not in second.output


def test_the_morning_alerts_are_a_short_list_and_one_example() -> None:
    def post(n: int, thread: str | None = None) -> SlackCall:
        params = {"channel": "#cs-alerts", **({"thread_ts": thread} if thread else {})}
        text = f"Churn risk: Account {n} (high) — <@U0CSM001>: new: Logins falling"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Account {n}* body"}}]
        return SlackCall(
            "chat.postMessage",
            {**params, "text": text, "blocks": blocks},
            {},
            response={"ts": f"{n}.0"},
        )

    alerts = [post(n) for n in range(30)]
    emails = [post(100 + n, thread=f"{n}.0") for n in range(30)]
    out = io.StringIO()
    show_alert_summary([*alerts, *emails], console=Console(file=out, width=100), channel="#a")
    text = out.getvalue()
    assert "30 messages posted to #a, 30 draft emails in their threads:" in text
    assert text.count("• Churn risk:") == SUMMARY_LINES
    assert "… and 22 more" in text
    assert "@U0CSM001" in text
    assert "<@U0CSM001>" not in text
    assert text.count("Account 0 body") == 1, "one alert in full"
    assert "Account 1 body" not in text
    assert len(text.splitlines()) < 40
