"""The scoring facade, its config, the CLI, and the named demo stories."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col
from typer.testing import CliRunner

from bot.cli import app
from tests.utils.factories import add_usage, make_account, make_contact, make_contract
from tools import db
from tools.models import Account, ChurnTriggerRecord, HealthSnapshot
from tools.results import Band, RiskLevel
from tools.scoring import (
    account_report,
    account_summaries,
    at_risk_accounts,
    backfill_snapshots,
    scan_portfolio,
)
from tools.scoring_config import ConfigError, ScoringConfig, config_as_toml, load_config

AS_OF = date(2026, 6, 30)
CONFIG = load_config()


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def seed(session: Session) -> dict[str, Account]:
    """A healthy account, two risky ones (one owned by U1) and a churned one."""
    accounts = {}
    for name, renewal_in, arr, owner in (
        ("healthy", 300, 50_000, "U1"),
        ("risky", 30, 90_000, "U2"),
        ("risky_small", 40, 10_000, "U1"),
        ("churned", -20, 70_000, "U1"),
    ):
        account = make_account(session, name=name, external_id=name, owner_slack_id=owner)
        make_contract(
            session,
            account=account,
            start=days_ago(400),
            end=AS_OF + timedelta(days=renewal_in),
            arr=arr,
            seats=100,
        )
        accounts[name] = account
    add_usage(
        session,
        account=accounts["healthy"],
        start=days_ago(56),
        days=56,
        logins=700,
        active_users=90,
    )
    make_contact(session, account=accounts["healthy"], last_engaged=days_ago(3))
    for name in ("risky", "risky_small"):
        make_contact(session, account=accounts[name], left_on=days_ago(20))
    session.commit()
    return accounts


def count(session: Session, model: type[HealthSnapshot] | type[ChurnTriggerRecord]) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_scan_is_idempotent_within_a_day(session: Session) -> None:
    accounts = seed(session)
    first = scan_portfolio(session, as_of=AS_OF, config=CONFIG)
    snapshots, triggers = count(session, HealthSnapshot), count(session, ChurnTriggerRecord)
    second = scan_portfolio(session, as_of=AS_OF, config=CONFIG)
    assert (count(session, HealthSnapshot), count(session, ChurnTriggerRecord)) == (
        snapshots,
        triggers,
    )
    assert first.snapshots_written == second.snapshots_written == 3  # churned: no snapshot
    assert first.band_mix == second.band_mix
    assert first.high_risk == 2
    risky = [a.id for n, a in accounts.items() if n.startswith("risky") and a.id is not None]
    assert sorted(first.newly_risky) == sorted(risky)
    snap = session.execute(
        select(HealthSnapshot).where(col(HealthSnapshot.account_id) == accounts["risky"].id)
    ).scalar_one()
    assert snap.churn_level == "high"
    assert {s["key"] for s in snap.signals} >= {"adoption", "stakeholder"}


def test_newly_risky_compares_with_the_previous_snapshot(session: Session) -> None:
    seed(session)
    scan_portfolio(session, as_of=AS_OF - timedelta(days=1), config=CONFIG)
    assert scan_portfolio(session, as_of=AS_OF, config=CONFIG).newly_risky == []


def test_backfill_weekly(session: Session) -> None:
    seed(session)
    seen: list[date] = []
    reports = backfill_snapshots(
        session,
        start=days_ago(14),
        end=AS_OF,
        step_days=7,
        config=CONFIG,
        progress=lambda day, n, total: seen.append(day),
    )
    assert [r.as_of for r in reports] == seen == [days_ago(14), days_ago(7), AS_OF]
    days = session.execute(select(col(HealthSnapshot.day)).distinct()).scalars().all()
    assert sorted(days) == seen
    with pytest.raises(ValueError, match="step_days"):
        backfill_snapshots(session, start=AS_OF, end=AS_OF, step_days=0, config=CONFIG)


def test_at_risk_ranking_owner_filter_and_churned_excluded(session: Session) -> None:
    accounts = seed(session)
    ranked = at_risk_accounts(session, as_of=AS_OF, config=CONFIG)
    names = [r.account.name for r in ranked]
    assert "churned" not in names
    assert "healthy" not in names
    assert set(names) == {"risky", "risky_small"}
    key = [(r.churn.level != RiskLevel.HIGH, r.health.score, -r.account.arr) for r in ranked]
    assert key == sorted(key)
    mine = at_risk_accounts(session, as_of=AS_OF, config=CONFIG, owner_slack_id="U1", limit=5)
    assert [r.account.account_id for r in mine] == [accounts["risky_small"].id]
    assert at_risk_accounts(session, as_of=AS_OF, config=CONFIG, owner_slack_id="nobody") == []
    assert at_risk_accounts(session, as_of=AS_OF, config=CONFIG, limit=1)[0].account.name in names


def test_account_report_and_summaries(session: Session) -> None:
    accounts = seed(session)
    risky_id = accounts["risky"].id
    assert risky_id is not None
    report = account_report(session, account_id=risky_id, as_of=AS_OF, config=CONFIG)
    assert report.account.name == "risky"
    assert report.account.renewal_date == AS_OF + timedelta(days=30)
    assert {t.key for t in report.churn.triggers} >= {"champion_left"}
    assert report.health.trend_30d is not None
    summaries = account_summaries(session, as_of=AS_OF)
    assert summaries[accounts["churned"].id or 0].churned
    assert not summaries[risky_id].churned
    assert summaries[risky_id].arr == 90_000
    assert summaries[accounts["healthy"].id or 0].seats_used == 90


def test_config_defaults_merge_and_unknown_keys(tmp_path: Path) -> None:
    assert ScoringConfig() == CONFIG  # the TOML defaults and the model defaults agree
    assert (CONFIG.health.green, CONFIG.health.amber, CONFIG.churn.renewal_window_days) == (
        70,
        55,
        60,
    )
    user = tmp_path / "scoring.toml"
    user.write_text("[health.weights]\nadoption = 30\n[churn]\nrenewal_window_days = 90\n")
    merged = load_config(user)
    assert merged.health.weights.adoption == 30
    assert merged.health.weights.nps == CONFIG.health.weights.nps
    assert merged.churn.renewal_window_days == 90
    user.write_text("[health.weights]\nadoptoin = 3\n")
    with pytest.raises(ConfigError, match=r"health\.weights\.adoptoin"):
        load_config(user)
    user.write_text("[health]\ngreen = 40\namber = 60\n")
    with pytest.raises(ConfigError, match="amber"):
        load_config(user)
    assert ScoringConfig.model_validate(tomllib.loads(config_as_toml(merged))) == merged


@pytest.fixture
def cli_db(sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    with db.session_factory(sqlite_engine)() as session:
        seed(session)
    monkeypatch.delenv("SCORING_CONFIG", raising=False)
    return sqlite_engine.url.render_as_string(hide_password=False)


def test_cli_scan_and_config_show(cli_db: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["scan", "--date", AS_OF.isoformat(), "--db", cli_db])
    assert result.exit_code == 0, result.output
    assert "Scanned 3 active accounts" in result.output
    assert "risky" in result.output
    bad = runner.invoke(app, ["scan", "--date", "30/06/2026", "--db", cli_db])
    assert bad.exit_code == 2
    shown = runner.invoke(app, ["config", "show"])
    assert shown.exit_code == 0
    assert "[health.weights]" in shown.output
    assert "renewal_window_days = 60" in shown.output


# --- the named demo stories -------------------------------------------------------------------

DEMO_TODAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def demo_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[db.SessionFactory]:
    demo = pytest.importorskip("tools.demo")
    engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}")
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    demo.generate_demo(session_factory=sessions, today=DEMO_TODAY, accounts=120, months=6)
    yield sessions
    engine.dispose()


def story(session: Session, external_id: str) -> tuple[int, str]:
    account = session.execute(
        select(Account).where(col(Account.external_id) == external_id)
    ).scalar_one()
    assert account.id is not None
    return account.id, account.name


def test_demo_stories(demo_sessions: db.SessionFactory) -> None:
    with demo_sessions() as session:
        reports = {
            ext: account_report(
                session, account_id=story(session, ext)[0], as_of=DEMO_TODAY, config=CONFIG
            )
            for ext in ("acme", "globex", "umbrella", "stark", "wayne", "wonka")
        }
    acme = reports["acme"]
    assert acme.health.band in (Band.AMBER, Band.RED)
    assert "renewal_window" in {t.key for t in acme.churn.triggers}
    assert acme.churn.level == RiskLevel.HIGH
    assert any("seats unused" in d.text or "logins down" in d.text for d in acme.health.drivers)

    globex = reports["globex"]
    assert "champion_left" in {t.key for t in globex.churn.triggers}
    assert any("left" in d.text for d in globex.health.drivers)

    umbrella = reports["umbrella"]
    assert {d.signal for d in umbrella.health.drivers} & {"tickets", "escalations"}
    assert {t.key for t in umbrella.churn.triggers} & {"ticket_spike", "tam_escalation"}

    for healthy in ("stark", "wayne", "wonka"):
        assert reports[healthy].health.band == Band.GREEN, healthy
        assert reports[healthy].churn.level == RiskLevel.LOW, healthy


def test_demo_scan_band_mix(demo_sessions: db.SessionFactory) -> None:
    with demo_sessions() as session:
        report = scan_portfolio(session, as_of=DEMO_TODAY, config=CONFIG)
    mix = report.band_mix
    assert mix.green + mix.amber + mix.red == report.accounts_scored > 0
    assert mix.green > mix.amber  # a demo portfolio is mostly healthy
