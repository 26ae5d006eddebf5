"""`csbot demo` from an empty machine: generate, score history, tour the real app; re-run reuses."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app


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
    assert "days of history" in out
    assert "This morning in #cs-alerts" in out
    assert "you> /health acme" in out
    assert "Acme Corp ·" in out  # the /health card came back from the app
    assert "At-risk accounts" in out
    assert "Your book of business" in out  # the App Home was published
    assert "xoxb-" not in out, "no token is ever printed"

    second = runner.invoke(app, [*args, "--no-tour"])
    assert second.exit_code == 0, second.output
    assert "reusing it" in second.output
    assert "you> /health acme" not in second.output
