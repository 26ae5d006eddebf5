"""One error style for every command: configuration, connection, network and permission errors
become at most three lines (what failed, the likely cause, what to do) and exit code 1;
``--debug`` or LOG_LEVEL=DEBUG shows the traceback instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from bot.cli import app
from bot.cli import scan as scan_command
from tools import db

UNREACHABLE = "postgresql://csbot:s3cret-pw@127.0.0.1:55432/nope"  # nothing listens on 55432
REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], **env: str) -> tuple[int, list[str]]:
    """Exit code and the non-empty stderr lines of ``csbot ARGS``."""
    result = CliRunner().invoke(app, args, env={"LOG_LEVEL": "WARNING", **env})
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


def test_unreachable_database_is_three_lines_without_the_password() -> None:
    code, lines = run(["scan", "--db", UNREACHABLE])
    assert code == 1
    assert len(lines) <= 3
    assert lines[0] == "Cannot use the database postgresql://csbot:***@127.0.0.1:55432/nope."
    assert "Connection refused" in lines[1]
    assert "DATABASE_URL" in lines[2]
    assert "s3cret-pw" not in "\n".join(lines)


def test_placeholder_token_stops_serve_with_a_short_message(tmp_path: Path) -> None:
    code, lines = run(["serve", "--db", str(tmp_path / "x.db")], SLACK_BOT_TOKEN="changethis")
    assert code == 1
    assert len(lines) <= 3
    assert "SLACK_BOT_TOKEN: is a placeholder" in lines[0]
    assert "changethis" not in "\n".join(lines)


def test_notion_check_without_network(tmp_path: Path) -> None:
    # every request goes to a proxy on a closed loopback port: the network is "down"
    proxy = "http://127.0.0.1:9"
    env = {"NOTION_TOKEN": "ntn_test", "NOTION_QBR_DATABASE_ID": "db", "HTTPS_PROXY": proxy}
    code, lines = run(["notion", "check"], **env, ALL_PROXY=proxy)
    assert code == 1
    assert len(lines) <= 3
    assert lines[0] == "A network request to api.notion.com failed."
    assert "HTTPS_PROXY" in lines[2]


def test_permission_denied_says_which_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, **_: object) -> None:
        raise PermissionError(13, "Permission denied", "/srv/csbot/csbot.db")

    monkeypatch.setattr(db, "make_engine", refuse)
    code, lines = run(["scan", "--db", str(tmp_path / "x.db")])
    assert code == 1
    assert lines[0] == "Permission denied: /srv/csbot/csbot.db."
    assert len(lines) <= 3


def test_bad_scoring_config_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "scoring.toml"
    broken.write_text("[health\n", encoding="utf-8")
    code, _ = run(["config", "show"], SCORING_CONFIG=str(broken))
    assert code == 1


def test_an_unexpected_error_is_one_line_and_points_at_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(scan_command, "open_context", boom)
    code, lines = run(["scan"])
    assert code == 1
    assert lines[0] == "Unexpected error: RuntimeError: boom"
    assert "--debug" in lines[-1]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback(how: str) -> None:
    args = (
        ["--debug", "scan", "--db", UNREACHABLE] if how == "flag" else ["scan", "--db", UNREACHABLE]
    )
    env = {"LOG_LEVEL": "DEBUG"} if how == "env" else {}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, OperationalError)


def test_the_installed_command_prints_no_traceback_unless_asked() -> None:
    env = {**os.environ, "LOG_LEVEL": "WARNING", "DATABASE_URL": UNREACHABLE}
    quiet = subprocess.run(
        [sys.executable, "-m", "bot", "scan"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert quiet.returncode == 1
    assert "Traceback" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) <= 3
    loud = subprocess.run(
        [sys.executable, "-m", "bot", "--debug", "scan"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr
