import pytest
from pydantic import ValidationError

from bot.config import Settings


def test_defaults_need_no_accounts(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    settings = Settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.slack_bot_token is None
    assert settings.anthropic_model == "claude-sonnet-5-5"


def test_placeholder_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "changethis")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_empty_secret_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "  ")
    assert Settings(_env_file=None).anthropic_api_key is None  # type: ignore[call-arg]


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-real-looking-123")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "xoxb-real-looking-123" not in repr(settings)
    assert "xoxb-real-looking-123" not in str(settings.model_dump())


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / ".env"
    path.write_text("ALERTS_CHANNEL=#from-dotenv\n")
    monkeypatch.delenv("ALERTS_CHANNEL", raising=False)
    assert Settings(_env_file=path).alerts_channel == "#from-dotenv"  # type: ignore[call-arg]
