"""Writing import folders and reading back every imported row, for the import tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from tools import models


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
