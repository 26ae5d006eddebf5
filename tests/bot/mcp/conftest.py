"""Fixtures for the MCP server tests: a seeded book and servers built over it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.mcp.server import McpSettings
from tests.utils.agent_book import TODAY, seed_book
from tools import db
from tools.scoring_config import load_config


@pytest.fixture(scope="module")
def mcp_book_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    path = tmp_path_factory.mktemp("mcp-book") / "book.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    seed_book(db.session_factory(engine))
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def mcp_book(mcp_book_template: Path, tmp_path: Path) -> Iterator[db.SessionFactory]:
    path = tmp_path / "book.db"
    shutil.copy(mcp_book_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    yield db.session_factory(engine)
    engine.dispose()


def mcp_settings(sessions: db.SessionFactory, *, allow_drafts: bool = False) -> McpSettings:
    """Settings for a server over ``sessions`` on the book's day."""
    return McpSettings(
        sessions=sessions, config=load_config(None), today=lambda: TODAY, allow_drafts=allow_drafts
    )
