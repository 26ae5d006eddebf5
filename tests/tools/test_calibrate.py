"""csbot calibrate: a time-ordered fit on the demo's history, written for review, applied by
SCORING_CONFIG; and the fitting pieces on hand-made data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bot import cli
from tests.utils.demo_db import demo_database
from tools import db
from tools.calibrate import CalibrationError, CalibrationResult, run_calibration
from tools.calibrate.fit import _fit_signs, band_rates, choose_bands
from tools.health import score_portfolio
from tools.scoring_config import SIGNAL_KEYS, load_config

TODAY = date(2026, 6, 1)


@pytest.fixture(scope="module")
def demo_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    yield from demo_database(tmp_path_factory, "calibrate", today=TODAY, accounts=120)


@pytest.fixture(scope="module")
def calibrated(demo_engine: Engine) -> CalibrationResult:
    with db.session_factory(demo_engine)() as session:
        return run_calibration(session, config=load_config(), today=TODAY, step_days=21)


def test_the_split_is_time_ordered(calibrated: CalibrationResult) -> None:
    fit, evaluate = calibrated.fit_dates, calibrated.evaluate_dates
    assert len(fit) >= 2
    assert evaluate
    assert max(fit) < min(evaluate)
    # no fitted label reaches into the evaluation period
    assert all(d + timedelta(days=60) < min(evaluate) for d in fit)
    assert calibrated.before.observation_dates == evaluate
    assert calibrated.after.observation_dates == evaluate


def test_the_fitted_weights_are_written_and_load(
    calibrated: CalibrationResult, tmp_path: Path
) -> None:
    path = tmp_path / "calibrated.toml"
    path.write_text(calibrated.toml)
    config = load_config(path)
    weights = config.health.weights.as_dict()
    assert sum(weights.values()) == pytest.approx(100.0, abs=0.05)
    assert weights != load_config().health.weights.as_dict()
    assert weights["tam_health"] == 0.0  # no history of it
    assert config.calibration.fitted_on == TODAY
    assert config.calibration.fit_to == calibrated.fit_dates[-1]
    assert config.health.amber < config.health.green
    assert "REVIEW before applying" in calibrated.toml


def test_the_command_says_whether_the_later_period_improved(
    calibrated: CalibrationResult,
) -> None:
    before = calibrated.before.pooled.churn.auc.value
    after = calibrated.after.pooled.churn.auc.value
    assert before is not None
    assert after is not None
    if after > before:
        assert calibrated.improved
        assert any("improved" in m for m in calibrated.messages)
    else:
        assert not calibrated.improved
        assert any("did NOT improve" in m for m in calibrated.messages)


def test_the_applied_config_scores_with_the_fitted_weights(
    calibrated: CalibrationResult, demo_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "calibrated.toml"
    path.write_text(calibrated.toml)
    config = load_config(path)
    with db.session_factory(demo_engine)() as session:
        health = score_portfolio(session, as_of=TODAY, config=config, trends=False)
    weights = config.health.weights.as_dict()
    result = next(iter(health.values()))
    for signal in result.signals:
        assert signal.weight == weights[signal.key]
        if signal.weight == 0:
            assert signal.contribution == 0
    assert sum(s.contribution for s in result.signals) == pytest.approx(result.score, abs=0.1)


def test_too_little_history_is_a_clear_error(demo_engine: Engine) -> None:
    with (
        db.session_factory(demo_engine)() as session,
        pytest.raises(CalibrationError, match="date"),
    ):
        run_calibration(
            session, config=load_config(), today=TODAY, start=TODAY - timedelta(days=100)
        )


def test_cli_writes_the_file_refuses_to_overwrite_and_config_show_names_it(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "fit.toml"
    url = str(demo_engine.url)
    args = ["calibrate", "--db", url, "-o", str(out), "--step-days", "28"]
    first = CliRunner().invoke(cli.app, args)
    assert first.exit_code == 0, first.output
    assert out.exists()
    assert "not applied" in first.output
    assert "after (calibrated)" in first.output
    again = CliRunner().invoke(cli.app, args)
    assert again.exit_code == 2
    assert "--force" in again.output
    monkeypatch.setenv("SCORING_CONFIG", str(out))
    shown = CliRunner().invoke(cli.app, ["config", "show"])
    assert shown.exit_code == 0, shown.output
    assert str(out) in shown.output
    assert "calibrated on" in shown.output


# --- The pieces on hand-made data -----------------------------------------------------------


def test_a_signal_that_goes_with_more_churn_gets_weight_zero() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    x = np.full((n, len(SIGNAL_KEYS)), np.nan)
    good = rng.uniform(0, 100, n)  # higher = less churn
    bad = rng.uniform(0, 100, n)  # higher = MORE churn
    y = rng.random(n) < 1 / (1 + np.exp(-(-1.0 - 0.04 * (good - 50) + 0.04 * (bad - 50))))
    x[:, SIGNAL_KEYS.index("usage_trend")] = good
    x[:, SIGNAL_KEYS.index("tenure")] = bad
    weights = _fit_signs(x, y, ["usage_trend", "tenure"], 1.0)
    assert list(weights) == ["usage_trend"]
    assert weights["usage_trend"] > 0


def test_band_edges_give_monotonic_churn_rates() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(0, 100, 3000)
    y = rng.random(3000) < (100 - scores) / 300
    bands = choose_bands(scores, y)
    assert bands.monotonic
    rates = band_rates(np.round(scores), y, bands.green, bands.amber)
    assert rates["RED"] > rates["AMBER"] > rates["GREEN"]  # type: ignore[operator]


def test_no_monotonic_edges_is_reported_not_hidden() -> None:
    scores = np.linspace(0, 100, 200)
    y = np.zeros(200, dtype=bool)
    y[150:] = True  # the healthiest churn: no edges can make RED the worst
    assert not choose_bands(scores, y).monotonic


def test_backtest_auc_matches_an_independent_computation(demo_engine: Engine) -> None:
    from sklearn.metrics import roc_auc_score

    from tools.backtest import run_backtest

    with db.session_factory(demo_engine)() as session:
        report = run_backtest(
            session, config=load_config(), today=TODAY, include_observations=True, bootstrap=0
        )
    rows = report.observations
    assert report.pooled.churn.positives > 0
    independent = roc_auc_score([r.churned for r in rows], [100 - r.score for r in rows])
    assert report.pooled.churn.auc.value == pytest.approx(independent, abs=1e-9)
    seen = [r for r in rows if r.upsold is not None]
    upsell = roc_auc_score([bool(r.upsold) for r in seen], [r.strength for r in seen])
    assert report.pooled.expansion.strength_auc.value == pytest.approx(upsell, abs=1e-9)
