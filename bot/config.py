"""Settings, read from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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
    slack_team_id: str | None = Field(
        default=None,
        description="The Slack team (workspace) this deployment serves; requests and installs "
        "from any other team are refused. Unset with a bot token: the token's own team.",
    )
    slack_enterprise_id: str | None = Field(
        default=None,
        description="The Enterprise Grid org this deployment serves (any of its workspaces).",
    )
    token_encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated (the first encrypts), for OAuth tokens at "
        "rest. Required with SLACK_CLIENT_ID.",
    )
    alerts_channel: str = Field(default="#cs-alerts", description="Channel for churn alerts.")
    leaders_channel: str = Field(
        default="#cs-leaders", description="Channel for the weekly digest."
    )
    sales_channel: str = Field(default="#sales-handoffs", description="Channel for hand-offs.")
    handoff_approvers: str = Field(
        default="",
        description="Comma-separated Slack user ids of CS leads who may approve, edit or dismiss "
        "any hand-off and publish or discard any QBR draft (owners always may; see "
        "docs/security.md).",
    )
    sales_reps: str = Field(
        default="",
        description="Comma-separated Slack user ids and/or user group ids (S…) who may accept "
        "or decline hand-offs for Sales. Unset: only HANDOFF_APPROVERS may.",
    )

    anthropic_api_key: SecretStr | None = Field(default=None, description="Claude API key.")
    anthropic_model: str = Field(default="claude-sonnet-5-5", description="Claude model id.")
    agent_turn_seconds: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Total deadline of a conversational turn with Claude (seconds); after it "
        "the user gets the deterministic answer.",
    )

    notion_token: SecretStr | None = Field(default=None, description="Notion integration token.")
    mcp_token: SecretStr | None = Field(
        default=None, description="Bearer token for `csbot mcp --http` (24+ characters)."
    )
    notion_qbr_database_id: str | None = Field(default=None, description="Notion QBR database.")
    notion_task_database_id: str | None = Field(default=None, description="Notion task database.")

    scan_time: str = Field(
        default="07:00", description="Local time (HH:MM, TIMEZONE) of the daily churn scan."
    )
    alert_quiet_days: int = Field(
        default=14,
        ge=1,
        description="Days before an account that stays risky (and gets no worse) is re-alerted.",
    )
    alert_routes: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'JSON routing of churn alerts: {"segment:enterprise": "#cs-enterprise", '
            '"owner:U0CSM002": "#team-b"}; owner beats segment, else ALERTS_CHANNEL.'
        ),
    )
    alert_max_per_owner: int = Field(
        default=3,
        ge=0,
        description="Churn alerts posted in the channel per account owner per day; the rest go "
        "into the owner's book DM (0: every churn alert goes there).",
    )
    alert_first_day_max: int = Field(
        default=3,
        ge=0,
        description="Churn alerts in the channel on a first day (the first run, a new owner, a "
        "run after BOOK_CATCH_UP_DAYS without one), all owners together: only news (worse than "
        "an earlier state) and urgency (high risk, renewal inside ALERT_FIRST_DAY_RENEWAL_DAYS); "
        "every other account at risk is in its owner's 'state of your book' DM.",
    )
    alert_first_day_renewal_days: int = Field(
        default=60,
        ge=0,
        description="On a first day, a high-risk account renewing within this many days is "
        "urgent enough for the channel even if it was already at risk.",
    )
    book_batch: bool = Field(
        default=True,
        description="Gather QBR-due and expansion-proposal items in one book DM per owner a day "
        "(false: one DM per item, and no 'state of your book' message).",
    )
    book_max_items: int = Field(
        default=10,
        ge=1,
        description="Lines per section of a book DM (at risk, renewals, proposals); the rest are "
        "counted with where to see them.",
    )
    book_catch_up_days: int = Field(
        default=3,
        ge=1,
        description="A daily scan after this many days without one sends every owner the "
        "'state of your book' again instead of the backlog item by item.",
    )
    digest_day: str = Field(
        default="mon", description="Day of the weekly digest (mon, tue, … sun)."
    )
    digest_time: str = Field(default="08:00", description="Local time (HH:MM) of the digest.")
    qbr_time: str = Field(
        default="09:00",
        description="Local time (HH:MM) of the quarterly QBR drafts (first day of each quarter).",
    )

    @field_validator("scan_time", "digest_time", "qbr_time")
    @classmethod
    def _valid_clock_time(cls, value: str) -> str:
        hour, sep, minute = value.strip().partition(":")
        if not (sep and hour.isdigit() and minute.isdigit()):
            raise ValueError("must be HH:MM, e.g. 07:00")
        if not (0 <= int(hour) <= 23 and 0 <= int(minute) <= 59):
            raise ValueError("must be a time of day between 00:00 and 23:59")
        return f"{int(hour):02d}:{int(minute):02d}"

    @field_validator("digest_day")
    @classmethod
    def _valid_weekday(cls, value: str) -> str:
        day = value.strip().lower()[:3]
        if day not in WEEKDAYS:
            raise ValueError(f"must be one of {', '.join(WEEKDAYS)}")
        return day

    @field_validator("alert_routes")
    @classmethod
    def _valid_routes(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            kind, sep, name = key.partition(":")
            if not sep or kind not in ("segment", "owner") or not name:
                raise ValueError(f"route key {key!r} must be segment:<name> or owner:<Slack id>")
        return value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_secret",
        "token_encryption_key",
        "anthropic_api_key",
        "notion_token",
        "mcp_token",
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
