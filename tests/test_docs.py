"""The docs a newcomer reads stay in step with the code."""

from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    env = name.upper()
    assert env in (ROOT / "README.md").read_text(), f"{env} missing from README.md"
    assert env in (ROOT / ".env.example").read_text(), f"{env} missing from .env.example"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```", 2)[1]
    assert "make demo" in first_block
    assert "make test" in first_block


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
