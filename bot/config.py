"""Settings, read from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changethis", "change-me", "xoxb-your-token", "your-token", "todo", "secret"}


class Settings(BaseSettings):
    """Everything cs-copilot reads from its environment. Secrets are ``SecretStr``: never logged."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        default="sqlite:///csbot.db",
        description="SQLAlchemy URL. SQLite file by default; postgresql://… for PostgreSQL.",
    )
    scoring_config: Path | None = Field(
        default=None, description="TOML file overriding scoring weights, thresholds and bands."
    )
    timezone: str = Field(default="UTC", description="IANA timezone for schedules and dates.")
    log_level: str = Field(default="INFO", description="Python logging level.")

    slack_bot_token: SecretStr | None = Field(default=None, description="xoxb-… bot token.")
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Request signing secret."
    )
    slack_app_token: SecretStr | None = Field(default=None, description="xapp-… for Socket Mode.")
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base URL (point at a fake)."
    )
    slack_client_id: str | None = Field(
        default=None, description="OAuth client id (multi-workspace)."
    )
    slack_client_secret: SecretStr | None = Field(default=None, description="OAuth client secret.")
    alerts_channel: str = Field(default="#cs-alerts", description="Channel for churn alerts.")
    leaders_channel: str = Field(
        default="#cs-leaders", description="Channel for the weekly digest."
    )
    sales_channel: str = Field(default="#sales-handoffs", description="Channel for hand-offs.")

    anthropic_api_key: SecretStr | None = Field(default=None, description="Claude API key.")
    anthropic_model: str = Field(default="claude-sonnet-5-5", description="Claude model id.")

    notion_token: SecretStr | None = Field(default=None, description="Notion integration token.")
    notion_qbr_database_id: str | None = Field(default=None, description="Notion QBR database.")
    notion_task_database_id: str | None = Field(default=None, description="Notion task database.")

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_secret",
        "anthropic_api_key",
        "notion_token",
    )
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        if not raw:
            return None
        if raw.lower() in PLACEHOLDERS:
            raise ValueError("is a placeholder; set the real value or leave it unset")
        return value
