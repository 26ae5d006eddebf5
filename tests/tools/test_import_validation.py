"""The import's validation rules, each checked against a real database (SQLite and PostgreSQL):
missing columns, bad values with file, line, column and reason, references, duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.utils.import_files import (
    ACCOUNTS_HEADER,
    CONTRACTS_HEADER,
    EXAMPLES,
    count_rows,
    import_errors,
    run_import,
    write,
)
from tools import db, models
from tools.importer import (
    ImportValidationError,
    RowError,
    import_directory,
)

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
