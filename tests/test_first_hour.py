"""A newcomer's first hour: the package builds without warnings, drafts are named after their
account, the demo points at commands that exist."""

from __future__ import annotations

import tomllib
from pathlib import Path

from sqlmodel import Session

from tests.utils.factories import make_account
from tools.models import QbrDraft
from tools.qbr_draft import draft_view

REPO = Path(__file__).resolve().parents[1]


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
