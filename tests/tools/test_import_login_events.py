"""Which raw events count as a login is the scoring config's ``[activity] login_events``."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from bot.cli import app
from tools import db
from tools.churn import churn_risk_for
from tools.importer import import_directory
from tools.models import Account, UsageDaily
from tools.scoring_config import ConfigError, load_config

TODAY = date(2026, 6, 30)
CONFIG = load_config()


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _sign_in_export(directory: Path, login_name: str = "sign_in") -> Path:
    """Three accounts; a0 and a1 sign in (10 users a day, then 6 in the last four weeks) and run
    reports; a2 has no events. No event is named ``login``."""
    directory.mkdir(exist_ok=True)
    _write_csv(
        directory / "accounts.csv",
        [{"external_id": f"a{k}", "name": f"Account {k}"} for k in range(3)],
    )
    contract = {"plan": "pro", "arr": 12000, "seats_purchased": 20}
    _write_csv(
        directory / "contracts.csv",
        [
            {"external_id": f"k{k}", "account_id": f"a{k}", **contract}
            | {"start_date": "2025-01-01", "end_date": "2027-01-01"}
            for k in range(3)
        ],
    )
    events = []
    for offset in range(60):
        when = TODAY - timedelta(days=60 - offset)
        stamp = datetime.combine(when, time(10), tzinfo=UTC).isoformat()
        for k in range(2):
            for user in range(10 if offset < 32 else 6):
                for name in (login_name, "report_run"):
                    events.append(
                        {"account_id": f"a{k}", "timestamp": stamp, "event": name, "user_id": user}
                    )
    _write_csv(directory / "events.csv", events)
    return directory


def _triggers(sessions: db.SessionFactory) -> dict[str, set[str]]:
    with sessions() as session:
        found = {}
        for account in session.exec(select(Account)).all():
            assert account.id is not None
            risk = churn_risk_for(session, account_id=account.id, as_of=TODAY, config=CONFIG)
            found[account.external_id] = {t.key for t in risk.triggers}
        return found


def _logins(sessions: db.SessionFactory) -> int:
    with sessions() as session:
        return sum(row.logins for row in session.exec(select(UsageDaily)).all())


def test_configured_login_event_gives_logins(sessions: db.SessionFactory, tmp_path: Path) -> None:
    report = import_directory(
        sessions=sessions, directory=_sign_in_export(tmp_path), login_events=["sign_in"]
    )

    assert report.logins == 2 * (32 * 10 + 28 * 6)
    assert _logins(sessions) == report.logins
    triggers = _triggers(sessions)
    for ext in ("a0", "a1"):  # activity is logins: their decline is a login decline
        assert "no_usage" not in triggers[ext]
        assert "logins_declining" in triggers[ext]
        assert "usage_declining" not in triggers[ext]
    assert "no_usage" in triggers["a2"]


def test_login_event_names_match_in_any_case(sessions: db.SessionFactory, tmp_path: Path) -> None:
    directory = _sign_in_export(tmp_path, login_name="Sign_In")

    report = import_directory(sessions=sessions, directory=directory, login_events=[" SIGN_IN "])

    assert report.logins > 0
    with sessions() as session:
        day = session.exec(select(UsageDaily).where(col(UsageDaily.logins) > 0)).first()
        assert day is not None
        assert day.logins == day.active_users  # one sign-in per user a day


def test_default_config_falls_back_to_active_users(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    """``sign_in`` is not a login by default: no logins, but activity (active users) is real."""
    report = import_directory(sessions=sessions, directory=_sign_in_export(tmp_path))

    assert report.login_events == ("login",)
    assert report.logins == 0
    assert _logins(sessions) == 0
    triggers = _triggers(sessions)
    for ext in ("a0", "a1"):
        assert "no_usage" not in triggers[ext]
        assert "usage_declining" in triggers[ext]
        assert "logins_declining" not in triggers[ext]
    assert "no_usage" in triggers["a2"]


def test_cli_reads_login_events_from_the_scoring_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _sign_in_export(tmp_path / "data")
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    config = tmp_path / "scoring.toml"
    config.write_text('[activity]\nlogin_events = ["login", "sign_in"]\n')
    monkeypatch.setenv("SCORING_CONFIG", str(config))

    result = CliRunner().invoke(app, ["import", str(data)])

    assert result.exit_code == 0, result.output
    assert "No event counted as a login" not in result.output
    engine = db.make_engine(url)
    assert _logins(db.session_factory(engine)) > 0
    engine.dispose()


def test_cli_says_when_no_event_is_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _sign_in_export(tmp_path / "data")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("SCORING_CONFIG", raising=False)

    result = CliRunner().invoke(app, ["import", str(data)])

    assert result.exit_code == 0, result.output
    assert "No event counted as a login (login_events: login)" in result.output
    assert "login_events" in result.output


def test_blank_login_event_name_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "scoring.toml"
    config.write_text('[activity]\nlogin_events = ["sign_in", " "]\n')

    with pytest.raises(ConfigError, match="login_events"):
        load_config(config)
