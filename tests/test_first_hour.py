"""A newcomer's first hour: the package builds without warnings, drafts are named after their
account, the demo points at commands that exist."""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.cli import app
from bot.cli.demo import runnable
from bot.config import Settings
from bot.deps import Deps
from bot.router import Intent, IntentKind, answer, home_view
from tests.utils.factories import make_account
from tools import db
from tools.freshness import data_state
from tools.importer import import_directory
from tools.models import QbrDraft, UsageDaily
from tools.qbr_draft import draft_view
from tools.scoring_config import load_config

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "data"
TODAY = date(2031, 3, 10)


def test_license_is_an_spdx_expression_setuptools_accepts() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert isinstance(project["project"]["license"], str), "a table is deprecated (PEP 639)"
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_a_qbr_draft_is_named_after_its_account(session: Session) -> None:
    account = make_account(session, name="Acme Corp")
    draft = QbrDraft(account_id=account.id or 0, version=1)
    session.add(draft)
    session.commit()
    view = draft_view(session, draft_id=draft.id or 0)
    assert view is not None
    assert view.account_name == "Acme Corp"


# --- sample data that is alive whatever the day, and databases that say they are empty/stale --


def deps_for(sessions: db.SessionFactory, today: date) -> Deps:
    return Deps(
        settings=Settings(_env_file=None),
        sessions=sessions,
        clock=lambda: datetime.combine(today, time(9), tzinfo=UTC),
        config=load_config(),
    )


def test_shifted_examples_describe_a_live_portfolio(
    sessions: db.SessionFactory, session: Session
) -> None:
    yesterday = date(2031, 3, 9)
    report = import_directory(sessions=sessions, directory=EXAMPLES, shift_to=yesterday)
    assert report.newest_activity == date(2025, 6, 2)
    assert report.shifted_days == (yesterday - date(2025, 6, 2)).days
    newest_usage = session.exec(select(func.max(col(UsageDaily.day)))).one()
    assert newest_usage == yesterday
    state = data_state(session, as_of=yesterday + timedelta(days=1))
    assert (state.accounts, state.active, state.problem()) == (3, 3, None)


def test_unshifted_old_examples_are_called_stale_with_the_next_command(
    sessions: db.SessionFactory,
) -> None:
    import_directory(sessions=sessions, directory=EXAMPLES)
    today = date(2031, 3, 10)
    churn = answer(Intent(IntentKind.AT_RISK, user_id="U0CSM001"), deps_for(sessions, today))
    text = str(churn.blocks)
    assert ":tada:" not in text
    assert "looks out of date" in text
    assert "--shift-dates-to-today" in text
    home = str(home_view("U0CSM001", deps_for(sessions, today)))
    assert "looks out of date" in home
    assert "NRR" not in home
    assert "Logo churn" not in home


def test_an_empty_database_does_not_celebrate(sessions: db.SessionFactory) -> None:
    churn = answer(Intent(IntentKind.AT_RISK, user_id="U0CSM001"), deps_for(sessions, TODAY))
    text = str(churn.blocks)
    assert ":tada:" not in text
    assert "no account data yet" in text
    assert "csbot import DIR" in text
    assert "csbot demo" in text
    home = str(home_view("U0CSM001", deps_for(sessions, TODAY)))
    assert "no account data yet" in home
    assert "NRR" not in home


def test_a_healthy_book_still_celebrates(sessions: db.SessionFactory) -> None:
    import_directory(sessions=sessions, directory=EXAMPLES, shift_to=TODAY)
    nobody = answer(
        Intent(IntentKind.AT_RISK, user_id="U0NOBODY", mine=True),
        deps_for(sessions, TODAY + timedelta(days=1)),
    )
    assert "None of your accounts is at risk" in str(nobody.blocks)


def test_readme_flow_import_then_scan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'first-hour.db'}"
    env = {"LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    stale = runner.invoke(app, ["import", str(EXAMPLES), "--db", url], env=env)
    assert stale.exit_code == 0, stale.output
    assert "csbot scan" in stale.output
    scanned = runner.invoke(app, ["scan", "--db", url], env=env)
    assert "Scanned 0 active accounts" in scanned.output
    assert "--shift-dates-to-today" in scanned.output
    shifted = runner.invoke(
        app, ["import", str(EXAMPLES), "--shift-dates-to-today", "--db", url], env=env
    )
    assert shifted.exit_code == 0, shifted.output
    assert "is now yesterday" in shifted.output
    live = runner.invoke(app, ["scan", "--db", url], env=env)
    assert live.exit_code == 0, live.output
    assert "Scanned 3 active accounts" in live.output
    assert "out of date" not in live.output


def test_scan_of_an_empty_database_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(app, ["scan", "--db", url], env={"LOG_LEVEL": "WARNING"})
    assert result.exit_code == 0, result.output
    assert "no account data yet" in result.output
    assert "csbot demo" in result.output


def test_the_demo_suggests_a_command_that_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(shutil, "which", lambda _: None)  # right after `make demo`: not on PATH
    assert runnable("chat") == "make chat"
    assert "chat:" in (REPO / "Makefile").read_text(encoding="utf-8")
    monkeypatch.setattr(shutil, "which", lambda name: f"/somewhere/bin/{name}")
    assert runnable("chat") == "csbot chat"


def test_readme_tells_the_newcomer_how_to_run_csbot() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ". .venv/bin/activate" in readme
    assert "make chat" in readme
    assert "csbot import examples/data --shift-dates-to-today" in readme
