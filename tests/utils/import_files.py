"""Writing import folders and reading back every imported row, for the import tests."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import SQLModel

from tools import db, models
from tools.importer import ImportReport, ImportValidationError, import_directory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"
ACCOUNTS_HEADER = "external_id,name,segment\n"
CONTRACTS_HEADER = (
    "external_id,account_id,plan,arr,seats_purchased,start_date,end_date,auto_renew,status\n"
)


def run_import(sessions: db.SessionFactory, directory: Path) -> ImportReport:
    """Import ``directory`` into the database."""
    return import_directory(sessions=sessions, directory=directory)


def import_errors(sessions: db.SessionFactory, directory: Path) -> list[str]:
    """The messages of a failing import (the test fails if the import succeeds)."""
    with pytest.raises(ImportValidationError) as caught:
        run_import(sessions, directory)
    return [str(e) for e in caught.value.errors]


def count_rows(engine: Engine, model: type[SQLModel]) -> int:
    """How many rows ``model``'s table holds."""
    table = model.__tablename__
    with engine.connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def copy_examples(tmp_path: Path) -> Path:
    """A copy of examples/data under ``tmp_path``."""
    target = tmp_path / "data"
    shutil.copytree(EXAMPLES, target)
    return target


def write(directory: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``{file name: content}`` into ``directory`` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return directory


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every imported table, ordered by id."""
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(model).order_by(model.id))]  # type: ignore[attr-defined]
            for name, model in models.IMPORTED_TABLES.items()
        }
