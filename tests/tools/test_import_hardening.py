"""Hostile import files: every one is refused with file, line, column and reason, nothing is
kept, and no input can produce a traceback (a property-based fuzz test over the CLI)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from tests.utils.import_files import dump, write
from tools import db
from tools.importer import ImportValidationError, import_directory
from tools.importer.parse import MAX_FIELD_CHARS
from tools.importer.readers import MAX_JSON_DEPTH

ACCOUNTS = "external_id,name,segment\na1,Acme,smb\na2,Beta,enterprise\n"
CONTRACTS_HEADER = "external_id,account_id,arr,seats_purchased,start_date,end_date\n"
CONTRACT = "k1,a1,120000,50,2025-01-01,2026-01-01\n"
INVOICES_HEADER = "external_id,account_id,issued_on,due_on,amount\n"
NPS = (
    '{"external_id": "n1", "account_id": "a1", "score": 9, "responded_at": "2025-01-01T00:00:00Z"}'
)


def errors_for(sessions: db.SessionFactory, tmp_path: Path, files: dict[str, str]) -> list[str]:
    """The messages of an import that must fail (the test fails if it succeeds)."""
    with pytest.raises(ImportValidationError) as caught:
        import_directory(sessions=sessions, directory=write(tmp_path / "in", files))
    return [str(e) for e in caught.value.errors]


def contracts(row: str) -> dict[str, str]:
    return {"accounts.csv": ACCOUNTS, "contracts.csv": CONTRACTS_HEADER + row}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            contracts("k1,a1,-5000,50,2025-01-01,2026-01-01\n"),
            'contracts.csv:2: column "arr": "-5000" is negative (amounts must be 0 or more)',
        ),
        (
            contracts("k1,a1,5000,-3,2025-01-01,2026-01-01\n"),
            'contracts.csv:2: column "seats_purchased": "-3" is negative (must be 0 or more)',
        ),
        (
            {
                "accounts.csv": ACCOUNTS,
                "invoices.csv": INVOICES_HEADER + "i1,a1,2025-01-01,2025-02-01,-10.50\n",
            },
            'invoices.csv:2: column "amount": "-10.50" is negative (amounts must be 0 or more)',
        ),
        (
            contracts("k1,a1,5000,100000000000000000000000,2025-01-01,2026-01-01\n"),
            'contracts.csv:2: column "seats_purchased": "100000000000000000000000" is above the '
            "maximum 2147483647",
        ),
        (
            contracts("k1,a1,100000000000000000000000,5,2025-01-01,2026-01-01\n"),
            'contracts.csv:2: column "arr": "100000000000000000000000" is too large '
            "(at most 999,999,999,999.99)",
        ),
    ],
    ids=["negative-arr", "negative-seats", "negative-invoice", "10^23-seats", "10^23-arr"],
)
def test_out_of_range_values_are_refused(
    sessions: db.SessionFactory, tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert errors_for(sessions, tmp_path, files) == [expected]


def test_huge_numbers_in_jsonl_name_the_column(sessions: db.SessionFactory, tmp_path: Path) -> None:
    row = json.loads(NPS)
    lines = [
        json.dumps({**row, "external_id": "n1", "score": 10**23}),
        json.dumps({**row, "external_id": "n2", "score": 1e23}),
        '{"external_id": "n3", "account_id": "a1", "score": ' + "9" * 5000 + "}",
    ]
    errors = errors_for(
        sessions, tmp_path, {"accounts.csv": ACCOUNTS, "nps.jsonl": "\n".join(lines)}
    )
    assert (
        errors[0]
        == 'nps.jsonl:1: column "score": "100000000000000000000000" is above the maximum 10'
    )
    assert errors[1] == 'nps.jsonl:2: column "score": "1e+23" is above the maximum 10'
    assert errors[2].startswith("nps.jsonl:3: is not valid JSON (Exceeds the limit")


def test_unterminated_quote_at_the_end_names_line_and_column(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    files = {"accounts.csv": 'external_id,name,segment\na1,"Acme Corp,smb\na2,Beta,smb\n'}
    errors = errors_for(sessions, tmp_path, files)
    assert errors == [
        'accounts.csv:2:4: column "name" opens a quote that is never closed; '
        "nothing after it was read"
    ]


def test_a_quote_closed_lines_later_is_refused(sessions: db.SessionFactory, tmp_path: Path) -> None:
    files = {"accounts.csv": 'external_id,name,segment\na1,"Acme Corp,smb\na2,"Beta",smb\n'}
    (error,) = errors_for(sessions, tmp_path, files)
    assert error.startswith('accounts.csv:2:4: column "name" has a quoted value followed by more')


def test_a_name_that_swallowed_the_next_line_is_refused(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    # the quote closes at the end of the next line: one row with the right width, two lines
    files = {"accounts.csv": 'external_id,name,segment\na1,"Acme Corp\na2,Beta",smb\n'}
    (error,) = errors_for(sessions, tmp_path, files)
    assert error.startswith('accounts.csv:2: column "name": "Acme Corp\\na2,Beta" contains a line')
    assert "is a quote left open?" in error


def test_multi_line_free_text_is_still_accepted(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    tickets = 'external_id,account_id,subject,opened_at\nt1,a1,"two\nlines",2025-05-01T10:00:00Z\n'
    directory = write(tmp_path / "in", {"accounts.csv": ACCOUNTS, "tickets.csv": tickets})
    report = import_directory(sessions=sessions, directory=directory)
    assert report.counts["tickets"].inserted == 1


def test_oversized_fields_are_refused_with_the_documented_limit(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    big = "x" * (MAX_FIELD_CHARS + 1)
    tickets = f"external_id,account_id,subject,opened_at\nt1,a1,{big},2025-05-01T10:00:00Z\n"
    comment = json.dumps({**json.loads(NPS), "comment": "y" * 140_000})
    files = {"accounts.csv": ACCOUNTS, "tickets.csv": tickets, "nps.jsonl": comment}
    errors = errors_for(sessions, tmp_path, files)
    limit = f"is longer than {MAX_FIELD_CHARS:,} characters (the limit for any field)"
    assert errors == [
        f'tickets.csv:2: column "subject" {limit}',
        f'nps.jsonl:1: column "comment" {limit}',
    ]
    assert (
        f"{MAX_FIELD_CHARS:,} characters"
        in (Path(__file__).parents[2] / "docs" / "data-format.md").read_text()
    )


def test_deep_nesting_is_refused_before_parsing(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    deep = (
        '{"external_id": "n1", "account_id": "a1", "comment": '
        + "[" * 100_000
        + "]" * 100_000
        + "}"
    )
    errors = errors_for(sessions, tmp_path, {"accounts.csv": ACCOUNTS, "nps.jsonl": deep})
    position = len('{"external_id": "n1", "account_id": "a1", "comment": ') + MAX_JSON_DEPTH
    assert errors == [
        f"nps.jsonl:1:{position}: nests lists/objects deeper than {MAX_JSON_DEPTH} levels"
    ]


def test_timestamps_at_the_edge_of_time_and_control_characters(
    sessions: db.SessionFactory, tmp_path: Path
) -> None:
    tickets = (
        "external_id,account_id,subject,opened_at\n"
        "t1,a1,ok,0001-01-01T00:00:00+01:00\n"
        "t2,a1,ok,\x1b[31mred\x1b[0m\n"
    )
    errors = errors_for(sessions, tmp_path, {"accounts.csv": ACCOUNTS, "tickets.csv": tickets})
    assert errors[0] == (
        'tickets.csv:2: column "opened_at": "0001-01-01T00:00:00+01:00" is out of range '
        "(years 0001 to 9999 in UTC)"
    )
    assert "\x1b" not in errors[1]
    assert "\\x1b[31mred" in errors[1]


# --- the fuzz test: any malformed file, through the command --------------------------------

BAD_VALUES = st.sampled_from(
    [
        "-1",
        "-0.01",
        "100000000000000000000000",
        "1e23",
        "9" * 400,
        '"unterminated',
        'x"y',
        "\x00",
        "x" * (MAX_FIELD_CHARS + 1),
        "2025-13-45",
        "NaN",
        "inf",
    ]
)
JSON_BAD = st.one_of(
    st.just("[" * 5000 + "]" * 5000),
    st.just("1" + "0" * 5000),
    st.just('"' + "z" * (MAX_FIELD_CHARS + 10) + '"'),
    st.just("-1"),
    st.just("1e400"),
    st.just("{"),
    st.text(alphabet=string.printable, max_size=30).map(lambda t: "[" + json.dumps(t) + "]" * 2),
)


@st.composite
def malformed(draw: st.DrawFn) -> dict[str, str | bytes]:
    """A small valid folder with one guaranteed defect, plus optional random garbage."""
    kind = draw(st.sampled_from(["csv-cell", "jsonl-value", "bytes"]))
    files: dict[str, str | bytes] = {"accounts.csv": ACCOUNTS}
    if kind == "csv-cell":
        column = draw(st.sampled_from(["arr", "seats_purchased", "start_date"]))
        cells = {"external_id": "k1", "account_id": "a1", "arr": "1000", "seats_purchased": "5"}
        cells |= {"start_date": "2025-01-01", "end_date": "2026-01-01"}
        cells[column] = draw(BAD_VALUES)
        files["contracts.csv"] = CONTRACTS_HEADER + ",".join(cells.values()) + "\n"
    elif kind == "jsonl-value":
        column = draw(st.sampled_from(["score", "comment", "responded_at", "contact_id"]))
        # any column but score: score is then missing, which is an error too
        row = NPS.replace('"score": 9', f'"{column}": ' + draw(JSON_BAD), 1)
        files["nps.jsonl"] = row + "\n"
    else:
        junk = draw(st.binary(min_size=1, max_size=200))
        files["contracts.csv"] = CONTRACTS_HEADER.encode() + b"k1,a1,-1," + junk + b"\n"
    return files


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=malformed())
def test_fuzz_malformed_files_exit_1_name_the_file_and_change_nothing(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, str | bytes]
) -> None:
    work = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{work / 'fuzz.db'}"
    seeded = CliRunner().invoke(
        app, ["import", "--db", url, str(write(work / "seed", {"accounts.csv": ACCOUNTS}))]
    )
    assert seeded.exit_code == 0, seeded.output
    engine = db.make_engine(url)
    before = dump(engine)

    result = CliRunner().invoke(app, ["import", "--db", url, str(write(work / "bad", files))])

    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    bad_files = [name for name in files if name != "accounts.csv"]
    assert any(name in result.output for name in bad_files), result.output
    assert "nothing was written" in result.output
    assert dump(engine) == before
    engine.dispose()
