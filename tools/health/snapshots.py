"""The rows the daily snapshots store, built fast for the whole portfolio (the scan)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.facts.extract import RawMetrics
from tools.health.drivers import driver_text
from tools.health.signals import SignalMatrix, band_for, composite, signal_matrix, signal_weights
from tools.results import Band
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig

# The JSON text the snapshot columns store: exactly ``json.dumps`` of the lists of dicts (the
# JSON column's encoding), filled in with ``%`` (``str(float)`` is ``repr``, as in ``json``).
_SIGNALS_JSON = (
    "["
    + ", ".join(
        '{"key": ' + json.dumps(key) + ', "raw": %s, "score": %s, "contribution": %s}'
        for key in SIGNAL_KEYS
    )
    + "]"
)
_DRIVER_JSON = '{"signal": %s, "text": %s, "impact": %s}'
_KEYS_JSON = [json.dumps(key) for key in SIGNAL_KEYS]
_NULL = "null"


@dataclass
class SnapshotRows:
    """What the daily snapshots store for some accounts of ``raw`` (lists aligned together).

    ``signals`` and ``drivers`` are the JSON texts of the lists the ``HealthSnapshot`` columns
    hold: signals ``{key, raw, score, contribution}`` and drivers ``{signal, text, impact}``.
    """

    matrix: SignalMatrix
    positions: list[int]
    account_ids: list[int]
    scores: list[float]
    bands: list[Band]
    signals: list[str]
    drivers: list[str]


def snapshot_rows(
    raw: RawMetrics, config: ScoringConfig, include: npt.NDArray[np.bool_] | None = None
) -> SnapshotRows:
    """Scores, bands, signals and drivers (as JSON text) of the accounts of ``raw`` in ``include``.

    The scan's fast path: no ``HealthResult`` objects, no dicts; the same numbers, rounding and
    driver order as ``score_raw``.
    """
    m = signal_matrix(raw, config)
    n = len(raw)
    scores, effective = composite(m.scores, signal_weights(config), config.health.all_missing_score)
    present = ~np.isnan(m.scores)
    filled = np.nan_to_num(m.scores)
    impacts = np.where(present, effective * (filled - 50.0), 0.0)
    contributions = np.round(np.where(present, effective * filled, 0.0), 2)
    order = np.argsort(np.where(impacts < 0, impacts - 1000.0, -impacts), axis=1, kind="stable")
    top = order[:, : config.health.max_drivers]
    # Object arrays with "null" where the value is missing: one ``%`` per account fills them in.
    rounded_scores = np.round(m.scores, 1).astype(object)
    rounded_scores[~present] = _NULL
    rounded_raw = np.round(m.raw, 2).astype(object)
    rounded_raw[np.isnan(m.raw)] = _NULL
    values = np.stack([rounded_raw, rounded_scores, contributions.astype(object)], axis=2)
    # ``str`` spells NaN and infinities differently from ``json``: such rows take the slow path.
    numbers = [np.where(np.isnan(m.raw), 0.0, m.raw), np.where(present, m.scores, 0.0), impacts]
    finite = np.asarray(np.isfinite(np.hstack(numbers)).all(axis=1), dtype=np.bool_)
    rounded_impacts = np.round(impacts, 1)
    shown: npt.NDArray[np.bool_] = np.abs(impacts) >= 0.05
    positions = list(range(n)) if include is None else np.flatnonzero(include).tolist()
    score_list = scores.tolist()
    ids = raw.ids.tolist()
    out = SnapshotRows(m, positions, [], [], [], [], [])
    if not positions:
        return out
    value_rows = values[positions].reshape(len(positions), -1).tolist()
    top_rows = top[positions].tolist()
    impact_rows = rounded_impacts[positions].tolist()
    shown_rows: list[list[bool]] = shown[positions].tolist()
    finite_rows = finite[positions].tolist()
    for k, i in enumerate(positions):
        impact_row, shown_row = impact_rows[k], shown_rows[k]
        shown_top = [j for j in top_rows[k] if shown_row[j]]
        if finite_rows[k]:
            signals = _SIGNALS_JSON % tuple(value_rows[k])
            drivers = (
                "["
                + ", ".join(
                    _DRIVER_JSON
                    % (
                        _KEYS_JSON[j],
                        encode_basestring_ascii(driver_text(SIGNAL_KEYS[j], m, i, config)),
                        impact_row[j],
                    )
                    for j in shown_top
                )
                + "]"
            )
        else:
            signals, drivers = _json_lists(m, i, value_rows[k], shown_top, impact_row, config)
        score = float(score_list[i])
        out.account_ids.append(ids[i])
        out.scores.append(score)
        out.bands.append(band_for(score, config))
        out.signals.append(signals)
        out.drivers.append(drivers)
    return out


def _json_lists(
    m: SignalMatrix,
    i: int,
    values: list[Any],
    shown_top: list[int],
    impacts: list[float],
    config: ScoringConfig,
) -> tuple[str, str]:
    """The signals and drivers JSON of row ``i`` through ``json.dumps`` (non-finite numbers)."""
    signals = [
        {
            "key": key,
            "raw": None if isinstance(values[3 * j], str) else values[3 * j],
            "score": None if isinstance(values[3 * j + 1], str) else values[3 * j + 1],
            "contribution": values[3 * j + 2],
        }
        for j, key in enumerate(SIGNAL_KEYS)
    ]
    drivers = [
        {
            "signal": SIGNAL_KEYS[j],
            "text": driver_text(SIGNAL_KEYS[j], m, i, config),
            "impact": impacts[j],
        }
        for j in shown_top
    ]
    return json.dumps(signals), json.dumps(drivers)
