"""The history calibrate learns from: per observation date, every observed account's normalised
signals (as the product computes them on that date), expansion-strength components and labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from tools.backtest.labels import Term, outcome
from tools.expansion_strength import strength_matrix
from tools.facts import active_contracts
from tools.facts.extract import RawMetrics, extract_raw
from tools.health import signal_matrix
from tools.scoring_config import ScoringConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Sample:
    """One observation date: aligned rows of accounts."""

    as_of: date
    raw: RawMetrics
    signals: FloatArray  # (accounts, SIGNAL_KEYS) normalised 0-100, NaN = missing
    strength: FloatArray  # (accounts, expansion_strength.COMPONENTS)
    churned: BoolArray
    upsold: BoolArray
    upsell_seen: bool

    @property
    def ids(self) -> list[int]:
        """Account ids of the rows."""
        return [int(i) for i in self.raw.ids.tolist()]


def collect(
    session: Session,
    *,
    config: ScoringConfig,
    dates: Sequence[date],
    terms: dict[int, list[Term]],
    horizon_days: int,
    upsell_days: int,
    grace_days: int,
    upsell_seen: Sequence[bool],
) -> list[Sample]:
    """A ``Sample`` per date (dates with no observed account are skipped)."""
    samples: list[Sample] = []
    for day, seen in zip(dates, upsell_seen, strict=True):
        labels = {}
        for account_id, account_terms in terms.items():
            got = outcome(
                account_terms,
                day,
                horizon_days=horizon_days,
                upsell_days=upsell_days,
                grace_days=grace_days,
            )
            if got is not None:
                labels[account_id] = got
        if not labels:
            continue
        ids = sorted(labels)
        raw = extract_raw(
            session, as_of=day, config=config, account_ids=ids, use_static_fields=False
        )
        m = signal_matrix(raw, config)
        contracts = active_contracts(session, on=day, account_ids=ids)
        strength = strength_matrix(
            session, as_of=day, contracts=contracts, window_days=config.expansion.window_days
        )
        position = {a: i for i, a in enumerate(strength.ids)}
        rows = raw.ids.tolist()
        comps = np.zeros((len(rows), strength.components.shape[1]), dtype=np.float64)
        for r, account_id in enumerate(rows):
            if account_id in position:
                comps[r] = strength.components[position[account_id]]
        samples.append(
            Sample(
                as_of=day,
                raw=raw,
                signals=m.scores,
                strength=comps,
                churned=np.array([labels[a].churned for a in rows], dtype=np.bool_),
                upsold=np.array([labels[a].upsold for a in rows], dtype=np.bool_),
                upsell_seen=seen,
            )
        )
    return samples
