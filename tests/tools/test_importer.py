"""The validated import: every rule is checked against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import SQLModel
from sqlmodel import select as model_select
from typer.testing import CliRunner

from bot.cli import app
from tests.utils.import_files import dump, write
from tools import db, models
from tools.importer import (
    EntityCounts,
    ImportReport,
    ImportValidationError,
    RowError,
    import_directory,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"
ACCOUNTS_HEADER = "external_id,name,segment\n"
CONTRACTS_HEADER = (
    "external_id,account_id,plan,arr,seats_purchased,start_date,end_date,auto_renew,status\n"
)


def run_import(sessions: db.SessionFactory, directory: Path) -> ImportReport:
    return import_directory(sessions=sessions, directory=directory)


def import_errors(sessions: db.SessionFactory, directory: Path) -> list[str]:
    """The messages of a failing import (the test fails if the import succeeds)."""
    with pytest.raises(ImportValidationError) as caught:
        run_import(sessions, directory)
    return [str(e) for e in caught.value.errors]


def count_rows(engine: Engine, model: type[SQLModel]) -> int:
    table = model.__tablename__
    with engine.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def copy_examples(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(EXAMPLES, target)
    return target


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


# --- validation -------------------------------------------------------------------------------


def test_missing_required_column_names_the_column(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    errors = import_errors(
        sessions, write(tmp_path, {"accounts.csv": "external_id,segment\na,smb\n"})
    )

    assert errors == ['accounts.csv:1: column "name" is missing from the header (required)']


def test_wrong_types_report_file_line_column_value_and_reason(
    sessions: db.SessionFactory, tmp_path: Path, engine: Engine
) -> None:
    contracts = (
        CONTRACTS_HEADER
        + "k1,a1,pro,12k,10,2025-01-01,2025-12-31,true,active\n"
        + "k2,a1,gold,10,ten,2025-01-01,2025-12-31,maybe,active\n"
    )
    files = {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n", "contracts.csv": contracts}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == [
        'contracts.csv:2: column "arr": "12k" is not a number',
        'contracts.csv:3: column "plan": "gold" is not one of: starter, pro, enterprise',
        'contracts.csv:3: column "seats_purchased": "ten" is not a whole number',
        'contracts.csv:3: column "auto_renew": "maybe" is not a boolean (use true/false, 1/0 or '
        "yes/no)",
    ]
    assert count_rows(engine, models.Account) == 0  # the valid accounts file was not written


def test_row_error_fields_and_text() -> None:
    error = RowError("accounts.csv", 7, "arr", "12k", "is not a number")

    assert str(error) == 'accounts.csv:7: column "arr": "12k" is not a number'
    assert str(RowError("a.csv", 2, None, None, "has 3 values")) == "a.csv:2: has 3 values"


def test_unknown_account_reference_is_rejected(sessions: db.SessionFactory, tmp_path: Path) -> None:
    contracts = CONTRACTS_HEADER + "k1,ghost,pro,10,1,2025-01-01,2025-12-31,1,active\n"
    files = {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n", "contracts.csv": contracts}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == [
        'contracts.csv:2: column "account_id": "ghost" is not a known account '
        "(not in accounts nor in the database)"
    ]


def test_duplicate_ids_within_a_file(sessions: db.SessionFactory, tmp_path: Path) -> None:
    accounts = ACCOUNTS_HEADER + "a1,A,smb\na2,B,smb\na1,C,smb\n"
    usage = "account_id,day,active_users\na1,2025-01-01,3\na1,2025-01-01,4\n"

    errors = import_errors(
        sessions, write(tmp_path, {"accounts.csv": accounts, "usage_daily.csv": usage})
    )

    assert errors == [
        'accounts.csv:4: column "external_id": "a1" is a duplicate of line 2',
        'usage_daily.csv:3: column "account_id, day": "a1 / 2025-01-01" is a duplicate of line 2',
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-13-01", "is not a valid calendar date"),
        ("01/02/2025", "is not a date (expected YYYY-MM-DD)"),
        ("20250102", "is not a date (expected YYYY-MM-DD)"),
    ],
)
def test_bad_dates(sessions: db.SessionFactory, tmp_path: Path, value: str, reason: str) -> None:
    usage = f"account_id,day,active_users\na1,{value},3\n"
    files = {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n", "usage_daily.csv": usage}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == [f'usage_daily.csv:2: column "day": "{value}" {reason}']


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2025-05-01T10:00:00", "has no UTC offset (add Z or +HH:MM)"),
        ("2025-05-01", "is not a timestamp (expected e.g. 2024-05-01T09:30:00Z)"),
        ("2025-05-01T25:00:00Z", "is not a valid timestamp (e.g. 2024-05-01T09:30:00Z)"),
    ],
)
def test_bad_and_naive_timestamps(
    sessions: db.SessionFactory, tmp_path: Path, value: str, reason: str
) -> None:
    tickets = f"external_id,account_id,opened_at\nt1,a1,{value}\n"
    events = f"account_id,timestamp,event\na1,2025-05-01T10:00:00+02:00,login\na1,{value},login\n"
    files = {
        "accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n",
        "tickets.csv": tickets,
        "events.csv": events,
    }

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == [
        f'tickets.csv:2: column "opened_at": "{value}" {reason}',
        f'events.csv:3: column "timestamp": "{value}" {reason}',
    ]


@pytest.mark.parametrize(("name", "content"), [("accounts.csv", ""), ("nps.jsonl", "\n\n")])
def test_empty_file(sessions: db.SessionFactory, tmp_path: Path, name: str, content: str) -> None:
    errors = import_errors(sessions, write(tmp_path, {name: content}))

    assert len(errors) == 1
    assert errors[0].startswith(f"{name}:1: file is empty")


def test_non_utf8_bytes_name_the_line(
    sessions: db.SessionFactory, tmp_path: Path, engine: Engine
) -> None:
    accounts = ACCOUNTS_HEADER.encode() + b"a1,Acme,smb\na2,Caf\xe9 Paris,smb\n"

    errors = import_errors(sessions, write(tmp_path, {"accounts.csv": accounts}))

    assert errors == [
        "accounts.csv:3: is not valid UTF-8 (byte 0xe9 at position 7); save the file as UTF-8"
    ]
    assert count_rows(engine, models.Account) == 0


def test_row_with_too_many_values(sessions: db.SessionFactory, tmp_path: Path) -> None:
    contracts = (
        CONTRACTS_HEADER
        + "k1,a1,pro,10,1,2025-01-01,2025-12-31,1,active\n"
        + "k2,a1,pro,10,1,2025-01-01,2025-12-31,1,active,surprise\n"
    )
    files = {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n", "contracts.csv": contracts}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == ["contracts.csv:3: has 10 values but the header has 9"]


def test_quoted_newlines_keep_physical_line_numbers(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    tickets = (
        "external_id,account_id,subject,opened_at\n"
        't1,a1,"two\nlines",2025-05-01T10:00:00Z\n'
        "t2,a1,ok,yesterday\n"
    )
    files = {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n", "tickets.csv": tickets}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == [
        'tickets.csv:4: column "opened_at": "yesterday" is not a timestamp '
        "(expected e.g. 2024-05-01T09:30:00Z)"
    ]


def test_cross_column_and_range_rules(sessions: db.SessionFactory, tmp_path: Path) -> None:
    nps = (
        '{"external_id": "n1", "account_id": "a1", "kind": "csat", "score": 9, '
        '"responded_at": "2025-01-01T00:00:00Z"}\n'
        '{"external_id": "n2", "account_id": "a1", "score": 11, "contact_id": "nobody", '
        '"responded_at": "2025-01-01T00:00:00Z"}\n'
        '{"external_id": "n3", "account_id": "a1", "score": 5, "colour": "red"}\n'
        "{not json}\n"
    )
    contracts = CONTRACTS_HEADER + "k1,a1,pro,10.555,1,2025-02-01,2025-01-01,1,active\n"
    files = {
        "accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n",
        "nps.jsonl": nps,
        "contracts.csv": contracts,
    }

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors[0] == 'contracts.csv:2: column "arr": "10.555" has more than 2 decimal places'
    assert errors[1:3] == [
        'nps.jsonl:1: column "score": "9" is outside 1-5, the CSAT scale',
        'nps.jsonl:2: column "contact_id": "nobody" is not a known contact '
        "(not in contacts nor in the database)",
    ]
    assert 'nps.jsonl:2: column "score": "11" is above the maximum 10' in errors
    assert any(e.startswith('nps.jsonl:3: column "colour" is not a known column') for e in errors)
    assert (
        "nps.jsonl:4:2: is not valid JSON (Expecting property name enclosed in double quotes)"
        in (errors)
    )


def test_end_before_start_is_rejected(sessions: db.SessionFactory, tmp_path: Path) -> None:
    contracts = CONTRACTS_HEADER + "k1,a1,pro,10,1,2025-02-01,2025-01-01,1,active\n"
    files = {"accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n", "contracts.csv": contracts}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == ['contracts.csv:2: column "end_date": "2025-01-01" is before start_date']


def test_usage_given_twice_for_the_same_day_is_rejected(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    files = {
        "accounts.csv": ACCOUNTS_HEADER + "a1,A,smb\n",
        "usage_daily.csv": "account_id,day,logins\na1,2025-01-02,3\na1,2025-01-01,3\n",
        "events.csv": "account_id,timestamp,event\na1,2025-01-01T10:00:00Z,login\n",
    }

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == [
        'usage_daily.csv:3: column "account_id, day": "a1 / 2025-01-01" is also computed from '
        "events.csv; give it in one place only"
    ]


def test_errors_are_collected_and_capped(
    sessions: db.SessionFactory, tmp_path: Path, engine: Engine
) -> None:
    accounts = ACCOUNTS_HEADER + "".join(f"a{i},A,platinum\n" for i in range(120))

    with pytest.raises(ImportValidationError) as caught:
        run_import(sessions, write(tmp_path, {"accounts.csv": accounts}))

    assert caught.value.total == 120
    assert len(caught.value.errors) == 50
    assert str(caught.value.errors[-1]).startswith('accounts.csv:51: column "segment"')
    assert count_rows(engine, models.Account) == 0


def test_csv_and_jsonl_of_the_same_entity_conflict(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    files = {"accounts.csv": ACCOUNTS_HEADER, "accounts.jsonl": '{"external_id": "a"}\n'}

    errors = import_errors(sessions, write(tmp_path, files))

    assert errors == ["accounts.jsonl: give either accounts.csv or accounts.jsonl, not both"]


def test_a_directory_without_data_files(sessions: db.SessionFactory, tmp_path: Path) -> None:
    errors = import_errors(sessions, write(tmp_path, {"notes.txt": "hello"}))

    assert len(errors) == 1
    assert "has no data files" in errors[0]


def test_progress_reports_bytes_read(sessions: db.SessionFactory, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []

    import_directory(
        sessions=sessions,
        directory=EXAMPLES,
        progress=lambda name, done, total: calls.append((name, done, total)),
    )

    names = {c[0] for c in calls}
    assert {"accounts.csv", "events.csv", "nps.jsonl"} <= names
    assert all(done == total for _, done, total in calls)  # small files: one final call each


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
