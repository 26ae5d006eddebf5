"""docs/scoring.md cannot drift from the code: every weight, target and threshold it names is the
effective default configuration's."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tools.scoring_config import SIGNAL_KEYS, load_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"
# `name` [value] or name [value] (inside a formula).
MENTION = re.compile(r"`?([a-z][a-z_]+)`? \[([^\]]+)\]")
WEIGHT_ROW = re.compile(r"^\| `([a-z_]+)` \| ([0-9.]+) \|", re.MULTILINE)


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "tier_uplift":
            for leaf, found in _leaves(value, f"{prefix}{key}.").items():
                out.setdefault(leaf, []).extend(found)
        else:
            out.setdefault(key, []).append((prefix + key, value))
    return out


def _number(text: str) -> float | None:
    cleaned = text.strip().strip("`").replace(",", "").rstrip("\u00d7x")
    scale = 1.0
    if cleaned.endswith("%"):
        cleaned, scale = cleaned[:-1], 0.01
    try:
        return float(cleaned) * scale
    except ValueError:
        return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def test_every_named_parameter_has_its_default_value() -> None:
    leaves = _leaves(load_config().model_dump())
    text = DOC.read_text()
    checked, wrong = 0, []
    for name, shown in MENTION.findall(text):
        if name not in leaves:
            continue
        number = _number(shown)
        values = [v for _, v in leaves[name]]
        if number is None:
            assert any(shown.strip("`") in str(v) for v in values), (name, shown, values)
            continue
        checked += 1
        if not any(_as_float(v) == pytest.approx(number) for v in values):
            wrong.append(f"{name} [{shown}] but the code says {values}")
    assert not wrong, "docs/scoring.md disagrees with the config:\n" + "\n".join(wrong)
    assert checked >= 60  # the page names most parameters: a broken regex must not pass


def test_signal_weights_table_is_the_config() -> None:
    weights = load_config().health.weights.as_dict()
    rows = dict(WEIGHT_ROW.findall(DOC.read_text()))
    assert set(rows) == set(SIGNAL_KEYS)
    assert {k: float(v) for k, v in rows.items()} == weights


def test_a_wrong_value_would_be_caught() -> None:
    leaves = _leaves(load_config().model_dump())
    (name, shown) = MENTION.findall("`seat_target_utilisation [0.8]`")[0]
    values = [v for _, v in leaves[name]]
    assert not any(_as_float(v) == pytest.approx(_number(shown)) for v in values)
