"""Scoring configuration: weights, thresholds and bands, with defaults in ``scoring_defaults.toml``.

``load_config(path)`` reads the packaged defaults and deep-merges the user's TOML over them; a key
that the configuration does not know is an error that names it (``health.weights.adoptoin``), so a
typo never silently falls back to a default. ``config_as_toml`` renders the effective config.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.expansion import ExpansionConfig
from tools.facts.definitions import ActivityConfig
from tools.lean import LeanConfig
from tools.onboarding.config import OnboardingConfig

DEFAULTS_PATH = Path(__file__).with_name("scoring_defaults.toml")

SIGNAL_KEYS: tuple[str, ...] = (
    "adoption",
    "tickets",
    "interaction_recency",
    "login_frequency",
    "usage_trend",
    "payment",
    "stakeholder",
    "nps",
    "renewal_proximity",
    "seat_utilisation",
    "escalations",
    "tam_health",
    "tenure",
    "term_length",
    "seat_trend",
)
# Contract features every team has: weight 0 by default (the hand-set score ignores them);
# `csbot calibrate` gives them a weight when the team's own history says they matter.
CONTRACT_SIGNAL_KEYS: tuple[str, ...] = ("tenure", "term_length", "seat_trend")


class ConfigError(ValueError):
    """The scoring configuration file is unreadable, has an unknown key or an invalid value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthWeights(_Strict):
    """Relative weight of each signal (any non-negative scale; re-normalised per account)."""

    adoption: float = Field(default=12.0, ge=0)
    tickets: float = Field(default=8.0, ge=0)
    interaction_recency: float = Field(default=8.0, ge=0)
    login_frequency: float = Field(default=10.0, ge=0)
    usage_trend: float = Field(default=12.0, ge=0)
    payment: float = Field(default=8.0, ge=0)
    stakeholder: float = Field(default=10.0, ge=0)
    nps: float = Field(default=8.0, ge=0)
    renewal_proximity: float = Field(default=4.0, ge=0)
    seat_utilisation: float = Field(default=10.0, ge=0)
    escalations: float = Field(default=5.0, ge=0)
    tam_health: float = Field(default=5.0, ge=0)
    tenure: float = Field(default=0.0, ge=0)
    term_length: float = Field(default=0.0, ge=0)
    seat_trend: float = Field(default=0.0, ge=0)

    def as_dict(self) -> dict[str, float]:
        """Weights keyed by signal, in ``SIGNAL_KEYS`` order."""
        return {key: float(getattr(self, key)) for key in SIGNAL_KEYS}


class Normalisation(_Strict):
    """Parameters of the 0-100 normalisation of each signal (formulas in tools/health.py)."""

    adoption_window_days: int = Field(default=30, ge=1)
    adoption_target: float = Field(default=0.6, gt=0, le=1)
    ticket_window_days: int = Field(default=90, ge=1)
    tickets_per_10_users_max: float = Field(default=2.0, gt=0)
    ticket_volume_share: float = Field(default=0.5, ge=0, le=1)
    interaction_recent_days: int = Field(default=14, ge=0)
    interaction_stale_days: int = Field(default=90, ge=1)
    usage_window_days: int = Field(default=28, ge=7)
    logins_per_seat_week_target: float = Field(default=10.0, gt=0)
    new_account_days: int = Field(default=14, ge=0)
    usage_trend_full_scale: float = Field(default=0.5, gt=0)
    overdue_cap: float = Field(default=80.0, ge=0, le=100)
    overdue_zero_days: int = Field(default=90, ge=1)
    champion_engaged_days: int = Field(default=30, ge=0)
    champion_stale_days: int = Field(default=90, ge=1)
    champion_stale_score: float = Field(default=40.0, ge=0, le=100)
    nps_window_days: int = Field(default=180, ge=1)
    renewal_horizon_days: int = Field(default=180, ge=1)
    seat_target_utilisation: float = Field(default=0.85, gt=0)
    escalation_window_days: int = Field(default=180, ge=1)
    escalation_penalty: float = Field(default=20.0, ge=0)
    open_escalation_penalty: float = Field(default=20.0, ge=0)
    tenure_full_days: int = Field(default=730, ge=1)
    term_full_days: int = Field(default=365, ge=1)

    @model_validator(mode="after")
    def _ordered_windows(self) -> Normalisation:
        if self.interaction_stale_days <= self.interaction_recent_days:
            raise ValueError("interaction_stale_days must be greater than interaction_recent_days")
        if self.champion_stale_days <= self.champion_engaged_days:
            raise ValueError("champion_stale_days must be greater than champion_engaged_days")
        return self


class HealthConfig(_Strict):
    """Composite health score: band edges, weights and normalisation."""

    green: float = Field(default=70.0, ge=0, le=100)
    amber: float = Field(default=55.0, ge=0, le=100)
    all_missing_score: float = Field(default=62.0, ge=0, le=100)
    max_drivers: int = Field(default=4, ge=0)
    weights: HealthWeights = Field(default_factory=HealthWeights)
    normalise: Normalisation = Field(default_factory=Normalisation)

    @model_validator(mode="after")
    def _ordered_bands(self) -> HealthConfig:
        if self.amber > self.green:
            raise ValueError("health.amber must not exceed health.green")
        return self


class ChurnConfig(_Strict):
    """Thresholds of the deterministic churn-risk triggers (rules in tools/churn.py)."""

    renewal_window_days: int = Field(default=60, ge=0)
    usage_decline: float = Field(default=0.25, gt=0, le=1)
    usage_decline_severe: float = Field(default=0.5, gt=0, le=1)
    champion_left_days: int = Field(default=90, ge=0)
    detractor_max: float = Field(default=6.0, ge=0, le=10)
    detractor_severe: float = Field(default=3.0, ge=0, le=10)
    detractor_window_days: int = Field(default=90, ge=1)
    ticket_spike_days: int = Field(default=30, ge=1)
    ticket_baseline_days: int = Field(default=90, ge=1)
    ticket_spike_ratio: float = Field(default=2.0, gt=0)
    ticket_spike_min: int = Field(default=3, ge=1)
    overdue_min_days: int = Field(default=15, ge=0)
    overdue_severe_days: int = Field(default=60, ge=0)
    tam_health_low: int = Field(default=40, ge=0, le=100)
    tam_health_severe: int = Field(default=25, ge=0, le=100)
    open_escalations_severe: int = Field(default=2, ge=1)


class CalibrationInfo(_Strict):
    """Where a calibrated config came from (written by ``csbot calibrate``; empty by default)."""

    fitted_on: date | None = Field(default=None, description="The day calibrate ran.")
    fit_from: date | None = None
    fit_to: date | None = Field(default=None, description="The last observation date fitted.")
    evaluate_from: date | None = None
    evaluate_to: date | None = None
    horizon_days: int | None = None
    observations: int | None = Field(default=None, description="Account-dates fitted.")
    churners: int | None = Field(default=None, description="Churned account-dates fitted.")
    model: str = ""


class ScoringConfig(_Strict):
    """Everything the scoring engine reads: health, churn, Lean and expansion settings."""

    health: HealthConfig = Field(default_factory=HealthConfig)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    lean: LeanConfig = Field(default_factory=LeanConfig)
    expansion: ExpansionConfig = Field(default_factory=ExpansionConfig)
    onboarding: OnboardingConfig = Field(default_factory=OnboardingConfig)
    calibration: CalibrationInfo = Field(default_factory=CalibrationInfo)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"scoring config {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scoring config {path} is not valid TOML: {exc}") from exc


def _unknown_keys(data: dict[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names of keys in ``data`` that ``model`` (recursively) does not define."""
    unknown: list[str] = []
    extra_allowed = model.model_config.get("extra") == "allow"
    for key, value in data.items():
        field = model.model_fields.get(key)
        name = f"{prefix}{key}"
        if field is None:
            if not extra_allowed:
                unknown.append(name)
            continue
        annotation = field.annotation
        if (
            isinstance(value, dict)
            and isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
        ):
            unknown.extend(_unknown_keys(value, annotation, f"{name}."))
    return unknown


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: tables merge key by key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: Path | None = None) -> ScoringConfig:
    """The packaged defaults, deep-merged with the TOML file at ``path`` when one is given."""
    data = _read_toml(DEFAULTS_PATH)
    if path is not None:
        user = _read_toml(Path(path))
        unknown = _unknown_keys(user, ScoringConfig)
        if unknown:
            raise ConfigError(f"unknown key(s) in scoring config {path}: {', '.join(unknown)}")
        data = deep_merge(data, user)
    try:
        return ScoringConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid scoring config {path or DEFAULTS_PATH}: {problems}") from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _toml_value(value.value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if value is None:
        raise ConfigError("TOML cannot represent None")
    raise ConfigError(f"cannot render {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _toml_value(key)


def _emit_table(name: str, table: dict[str, Any], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if name and (scalars or not tables):
        lines.append(f"[{name}]")
    for key, value in scalars.items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    if name and (scalars or not tables):
        lines.append("")
    for key, value in tables.items():
        _emit_table(f"{name}.{_toml_key(key)}" if name else _toml_key(key), value, lines)


def config_as_toml(config: ScoringConfig) -> str:
    """The effective configuration as TOML (what ``csbot config show`` prints)."""
    return dict_as_toml(config.model_dump(mode="python"))


def dict_as_toml(data: dict[str, Any]) -> str:
    """Nested tables of scalars and lists as TOML (``None`` values are left out)."""
    lines: list[str] = []
    _emit_table("", data, lines)
    return "\n".join(lines).rstrip() + "\n"
