"""The validated import: every rule is checked against a real database (SQLite and PostgreSQL).

The happy path and the command here; the validation rules in test_import_validation.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select as model_select
from typer.testing import CliRunner

from bot.cli import app
from tests.utils.import_files import (
    ACCOUNTS_HEADER,
    CONTRACTS_HEADER,
    EXAMPLES,
    copy_examples,
    count_rows,
    dump,
    run_import,
    write,
)
from tools import db, models
from tools.importer import (
    EntityCounts,
)

# --- the happy path ---------------------------------------------------------------------------


def test_example_data_imports_every_file(sessions: db.SessionFactory, engine: Engine) -> None:
    report = run_import(sessions, EXAMPLES)

    assert report.counts["accounts"] == EntityCounts(inserted=3)
    assert report.counts["contracts"] == EntityCounts(inserted=4)
    assert report.counts["usage_daily"].inserted == 4 + 5  # file rows + days from events
    assert report.event_rows == 11
    assert set(report.counts) == set(models.IMPORTED_TABLES)
    with sessions() as s:
        acme = s.exec(
            model_select(models.Account).where(models.Account.external_id == "acme")
        ).one()
        assert (acme.name, acme.segment, acme.tam_health) == ("Acme Corp", "enterprise", 72)
        contract = s.exec(
            model_select(models.Contract).where(models.Contract.external_id == "k-globex-2024")
        ).one()
        assert contract.arr == Decimal("48000.50")
        assert contract.auto_renew is False
        initech_contract = s.exec(
            model_select(models.Contract).where(models.Contract.external_id == "k-initech-2025")
        ).one()
        assert initech_contract.auto_renew is True  # "yes"
        contact = s.exec(
            model_select(models.Contact).where(models.Contact.external_id == "c-acme-2")
        ).one()
        assert contact.last_engaged_at == datetime(2025, 4, 2, 7, 30, tzinfo=UTC)
        assert contact.account_id == acme.id
        nps = s.exec(
            model_select(models.NpsResponse).order_by(models.NpsResponse.external_id)
        ).all()
        assert [(r.external_id, r.contact_id is None) for r in nps] == [
            ("n-1", False),
            ("n-2", True),
            ("n-3", False),
        ]


def test_events_become_daily_usage_and_feature_usage(
    sessions: db.SessionFactory, engine: Engine
) -> None:
    run_import(sessions, EXAMPLES)

    with engine.connect() as conn:
        usage = dict(
            ((ext, d), (users, logins))
            for ext, d, users, logins in conn.execute(
                text(
                    "SELECT a.external_id, u.day, u.active_users, u.logins FROM usage_daily u "
                    "JOIN account a ON a.id = u.account_id"
                )
            )
        )
        features = {
            (ext, key, d): (users, events)
            for ext, key, d, users, events in conn.execute(
                text(
                    "SELECT a.external_id, f.key, u.day, u.users, u.events FROM feature_usage u "
                    "JOIN account a ON a.id = u.account_id JOIN feature f ON f.id = u.feature_id"
                )
            )
        }

    def day(value: str) -> Any:
        # SQLite returns text from a raw SQL query, PostgreSQL a date.
        return date.fromisoformat(value) if engine.dialect.name != "sqlite" else value

    # u-1 and u-2 log in on June 1st (09:15+02:00 is 07:15Z); u-3's 23:30-02:00 is June 2nd UTC.
    assert usage[("acme", day("2025-06-01"))] == (2, 2)
    assert usage[("acme", day("2025-06-02"))] == (1, 1)
    assert usage[("acme", day("2025-05-30"))] == (130, 410)  # from usage_daily.csv
    assert usage[("initech", day("2025-06-02"))] == (1, 1)
    assert features[("acme", "reports", day("2025-06-01"))] == (1, 3)  # quantity 3
    assert features[("acme", "api", day("2025-06-01"))] == (0, 250)  # no user id
    assert features[("globex", "dashboards", day("2025-06-01"))] == (1, 1)
    assert ("acme", "sso", day("2025-06-01")) not in features


def test_reimporting_the_same_directory_changes_nothing(
    sessions: db.SessionFactory, engine: Engine
) -> None:
    run_import(sessions, EXAMPLES)
    before = dump(engine)

    again = run_import(sessions, EXAMPLES)

    assert dump(engine) == before
    assert not again.changed
    assert all(c.inserted == c.updated == 0 and c.unchanged for c in again.counts.values())


def test_a_newer_file_updates_rows_in_place(
    sessions: db.SessionFactory, engine: Engine, tmp_path: Path
) -> None:
    data = copy_examples(tmp_path)
    run_import(sessions, data)
    before = dump(engine)
    # A narrower accounts file: only the columns it has are updated.
    accounts = "external_id,name\nacme,Acme Inc\nglobex,Globex\ninitech,Initech\nhooli,Hooli\n"
    contracts = (data / "contracts.csv").read_text().replace("135000,220", "150000,250")
    usage = (
        (data / "usage_daily.csv")
        .read_text()
        .replace("acme,2025-05-31,41,90", "acme,2025-05-31,45,99")
    )
    events = (data / "events.csv").read_text() + "initech,2025-06-02T16:00:00Z,login,i-2,\n"
    write(
        data,
        {
            "accounts.csv": accounts,
            "contracts.csv": contracts,
            "usage_daily.csv": usage,
            "events.csv": events,
        },
    )

    report = run_import(sessions, data)

    assert report.counts["accounts"] == EntityCounts(inserted=1, updated=1, unchanged=2)
    assert report.counts["contracts"] == EntityCounts(updated=1, unchanged=3)
    assert report.counts["usage_daily"] == EntityCounts(updated=2, unchanged=7)
    after = dump(engine)
    account_columns = list(models.Account.model_fields)
    acme_before = dict(zip(account_columns, before["accounts"][0], strict=True))
    acme_after = dict(zip(account_columns, after["accounts"][0], strict=True))
    # Only the columns present in the file change; segment etc. are left as they were.
    assert acme_after == {**acme_before, "name": "Acme Inc"}
    assert after["accounts"][3][1:4] == ("hooli", "Hooli", None)
    assert len(after["usage_daily"]) == len(before["usage_daily"])
    contract = next(r for r in after["contracts"] if r[1] == "k-acme-2025")
    assert (contract[4], contract[5]) == (Decimal("150000.00"), 250)
    assert after["tickets"] == before["tickets"]


def test_references_may_point_at_rows_already_in_the_database(
    sessions: db.SessionFactory, tmp_path: Path, engine: Engine
) -> None:
    run_import(sessions, write(tmp_path / "one", {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n"}))
    contracts = CONTRACTS_HEADER + "k1,a1,pro,10,1,2025-01-01,2025-12-31,1,active\n"

    run_import(sessions, write(tmp_path / "two", {"contracts.csv": contracts}))

    assert count_rows(engine, models.Contract) == 1


def test_jsonl_and_csv_accept_the_same_values(
    sessions: db.SessionFactory, tmp_path: Path, engine: Engine
) -> None:
    jsonl = (
        '{"external_id": "a1", "name": "A", "segment": "SMB", "tam_health": 40}\n'
        "\n"
        '{"external_id": "a2", "name": "B", "tam_health": "55"}\n'
    )
    report = run_import(sessions, write(tmp_path, {"accounts.jsonl": jsonl}))

    assert report.counts["accounts"].inserted == 2
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT segment, tam_health FROM account ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("smb", 40), ("mid-market", 55)]


# --- the command ------------------------------------------------------------------------------


def test_cli_imports_and_prints_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    result = CliRunner().invoke(app, ["import", str(EXAMPLES)])

    assert result.exit_code == 0, result.output
    assert "accounts" in result.output
    assert "11 product events" in result.output
    engine = db.make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    assert count_rows(engine, models.Account) == 3
    engine.dispose()


def test_cli_reports_errors_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    data = write(tmp_path / "bad", {"accounts.csv": ACCOUNTS_HEADER + "a1,A,gold\n"})

    result = CliRunner().invoke(app, ["import", str(data)])

    assert result.exit_code == 1
    assert (
        'accounts.csv:2: column "segment": "gold" is not one of: enterprise, mid-market, smb'
        in result.output
    )
    assert "nothing was written" in result.output
    engine = db.make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    assert count_rows(engine, models.Account) == 0
    engine.dispose()
