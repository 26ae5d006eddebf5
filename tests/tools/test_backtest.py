"""The backtest: metrics on hand-computed cases, labels from contract dates, no look-ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot import cli
from tools import db
from tools.backtest import (
    BacktestReport,
    Term,
    add_months,
    auc,
    average_ranks,
    default_observation_dates,
    flag_metrics,
    monthly_dates,
    outcome,
    run_backtest,
    top_fraction_lift,
)
from tools.importer import import_directory
from tools.models import Account, Contract, ContractStatus, Ticket, UsageDaily
from tools.scoring_config import load_config

D = date(2026, 3, 1)


def term(start: date, end: date, arr: int = 10_000, seats: int = 10) -> Term:
    return Term(start=start, end=end, arr=Decimal(arr), seats=seats)


# --- Metrics ------------------------------------------------------------------------------------


def test_average_ranks_share_ties() -> None:
    ranks = average_ranks(np.array([10.0, 20.0, 20.0, 30.0, 5.0]))
    assert ranks.tolist() == [2.0, 3.5, 3.5, 5.0, 1.0]


def test_auc_of_a_perfect_ranking_is_one() -> None:
    assert auc([90, 80, 20, 10], [True, True, False, False]).value == 1.0


def test_auc_of_a_reversed_ranking_is_zero() -> None:
    assert auc([10, 20, 80, 90], [True, True, False, False]).value == 0.0


def test_auc_of_all_ties_is_one_half() -> None:
    assert auc([50, 50, 50, 50], [True, False, True, False]).value == 0.5


def test_auc_counts_each_tied_pair_as_one_half() -> None:
    # positive 0.8 beats both negatives; positive 0.35 beats 0.1, loses to 0.4: 3 of 4 pairs
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]).value == 0.75
    # positive 1 ties negative 1 (1/2) and beats negative 0 (1): 1.5 of 2 pairs
    assert auc([1, 1, 0], [True, False, False]).value == 0.75


@pytest.mark.parametrize(
    ("scores", "labels", "reason"),
    [
        ([], [], "no observations"),
        ([1, 2, 3], [False, False, False], "no positives"),
        ([1, 2], [True, True], "every observation is positive"),
    ],
)
def test_auc_of_degenerate_inputs_is_none_with_a_reason(
    scores: list[float], labels: list[bool], reason: str
) -> None:
    metric = auc(scores, labels)
    assert metric.value is None
    assert metric.reason == reason


def test_metrics_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="labels"):
        auc([1, 2], [True])


def test_top_decile_lift_when_the_churners_rank_first() -> None:
    scores = list(range(20))
    labels = [s >= 18 for s in scores]  # the 2 highest of 20: rate 1.0 vs base 0.1
    assert top_fraction_lift(scores, labels).value == pytest.approx(10.0)


def test_top_decile_lift_when_the_churners_rank_last() -> None:
    scores = list(range(20))
    labels = [s < 2 for s in scores]
    assert top_fraction_lift(scores, labels).value == 0.0


def test_top_decile_lift_splits_ties_at_the_cut() -> None:
    # 10 observations, top 10% = 1 slot, all scores tied: expected rate = base rate, lift 1
    assert top_fraction_lift([7] * 10, [True] + [False] * 9).value == pytest.approx(1.0)
    # one clear top score (not a churner) then a tie: slot goes to the top score, lift 0
    assert top_fraction_lift([9] + [1] * 9, [False, True] + [False] * 8).value == 0.0


def test_top_decile_lift_without_positives_is_none() -> None:
    metric = top_fraction_lift([1, 2, 3], [False, False, False])
    assert metric.value is None
    assert metric.reason == "no positives"


def test_flag_precision_recall_and_lift() -> None:
    flags = [True, True, True, False, False, False, False, False]
    labels = [True, True, False, True, False, False, False, False]
    got = flag_metrics(flags, labels)
    assert (got.flagged, got.true_positives) == (3, 2)
    assert got.precision.value == pytest.approx(2 / 3)
    assert got.recall.value == pytest.approx(2 / 3)
    assert got.lift.value == pytest.approx((2 / 3) / (3 / 8))


def test_flag_metrics_of_degenerate_inputs() -> None:
    nothing_flagged = flag_metrics([False, False], [True, False])
    assert nothing_flagged.precision.value is None
    assert nothing_flagged.precision.reason == "nothing flagged"
    assert nothing_flagged.recall.value == 0.0
    assert nothing_flagged.lift.value is None
    no_positives = flag_metrics([True, False], [False, False])
    assert no_positives.precision.value == 0.0
    assert no_positives.recall.reason == "no positives"
    assert no_positives.lift.reason == "no positives"
    empty = flag_metrics([], [])
    assert empty.precision.value is None
    assert empty.recall.reason == "no observations"


# --- Labels -------------------------------------------------------------------------------------


def test_a_contract_ending_in_the_horizon_without_renewal_is_churn() -> None:
    got = outcome([term(date(2025, 4, 1), date(2026, 3, 31))], D, horizon_days=60)
    assert got is not None
    assert (got.churned, got.expanded) == (True, False)


def test_a_renewed_contract_is_not_churn() -> None:
    terms = [term(date(2025, 4, 1), date(2026, 3, 31)), term(date(2026, 4, 1), date(2027, 3, 31))]
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert (got.churned, got.expanded) == (False, False)


def test_a_bigger_next_contract_is_an_expansion() -> None:
    terms = [
        term(date(2025, 4, 1), date(2026, 3, 31), seats=10),
        term(date(2026, 4, 1), date(2027, 3, 31), seats=15),
    ]
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert (got.churned, got.expanded) == (False, True)


def test_a_mid_term_upsell_is_an_expansion() -> None:
    terms = [
        term(date(2025, 9, 1), date(2026, 8, 31), arr=10_000),
        term(date(2026, 4, 15), date(2027, 4, 14), arr=14_000),
    ]
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert (got.churned, got.expanded) == (False, True)


def test_an_upsell_after_the_horizon_is_not_counted() -> None:
    terms = [
        term(date(2025, 9, 1), date(2026, 8, 31), arr=10_000),
        term(date(2026, 9, 1), date(2027, 8, 31), arr=14_000),
    ]
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert (got.churned, got.expanded) == (False, False)


@pytest.mark.parametrize(("gap_days", "churned"), [(1, False), (30, False), (31, True)])
def test_grace_rule_edge(gap_days: int, churned: bool) -> None:
    end = date(2026, 3, 31)
    terms = [term(date(2025, 4, 1), end), term(end + timedelta(days=gap_days), date(2027, 4, 30))]
    got = outcome(terms, D, horizon_days=60, grace_days=30)
    assert got is not None
    assert got.churned is churned


@pytest.mark.parametrize(
    ("end", "churned"),
    [(D + timedelta(days=1), True), (D + timedelta(days=60), True)],
)
def test_horizon_is_open_at_the_start_and_closed_at_the_end(end: date, churned: bool) -> None:
    got = outcome([term(date(2025, 4, 1), end)], D, horizon_days=60)
    assert got is not None
    assert got.churned is churned


def test_an_account_whose_last_contract_ends_on_the_date_is_not_observed() -> None:
    # it is leaving that day; the dates before saw it coming
    assert outcome([term(date(2025, 4, 1), D)], D, horizon_days=60) is None


def test_a_contract_ending_after_the_horizon_is_not_churn_yet() -> None:
    got = outcome([term(date(2025, 4, 1), D + timedelta(days=61))], D, horizon_days=60)
    assert got is not None
    assert got.churned is False


def test_no_active_contract_means_no_observation() -> None:
    assert outcome([term(date(2024, 1, 1), date(2024, 12, 31))], D) is None
    assert outcome([term(D + timedelta(days=1), date(2027, 1, 1))], D) is None


def test_the_latest_ending_active_contract_is_the_one_observed() -> None:
    terms = [term(date(2025, 4, 1), date(2026, 3, 31)), term(date(2026, 1, 1), date(2026, 12, 31))]
    got = outcome(terms, D, horizon_days=60)
    assert got is not None
    assert got.churned is False


# --- Observation dates --------------------------------------------------------------------------


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 11, 15), 3) == date(2026, 2, 15)
    assert monthly_dates(date(2025, 1, 31), date(2025, 4, 30)) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]
    assert monthly_dates(date(2025, 5, 1), date(2025, 4, 30)) == []


# --- Backtests on a database --------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"
HISTORY_START = date(2025, 10, 1)
TODAY = date(2026, 9, 1)
END = date(2026, 3, 31)  # every first contract ends here, inside the horizon after D

# account -> (next contract start offset from END in days or None, next seats)
HISTORIES: dict[str, tuple[int | None, int]] = {
    "churned": (None, 10),
    "renewed": (1, 10),
    "upsold": (1, 15),
    "renewed-late": (30, 10),
    "churned-then-back": (31, 10),
}


def _add_usage(session: Session, account_id: int, first: date, last: date, users: int) -> None:
    session.add_all(
        UsageDaily(
            account_id=account_id, day=first + timedelta(days=i), active_users=users, logins=users
        )
        for i in range((last - first).days + 1)
    )


def build_history(sessions: db.SessionFactory) -> dict[str, int]:
    """Five accounts with usage up to D; each first contract ends on END."""
    ids: dict[str, int] = {}
    with db.session_scope(sessions) as session:
        for n, (name, (gap, seats)) in enumerate(HISTORIES.items()):
            account = Account(external_id=name, name=name.title(), tam_health=90)
            session.add(account)
            session.flush()
            assert account.id is not None
            ids[name] = account.id
            session.add(
                Contract(
                    external_id=f"{name}-1",
                    account_id=account.id,
                    arr=Decimal(10_000),
                    seats_purchased=10,
                    start_date=date(2025, 4, 1),
                    end_date=END,
                    # status says the opposite of the dates: the backtest must not read it
                    status=ContractStatus.ACTIVE.value if gap is None else "churned",
                )
            )
            if gap is not None:
                start = END + timedelta(days=gap)
                session.add(
                    Contract(
                        external_id=f"{name}-2",
                        account_id=account.id,
                        arr=Decimal(10_000 * seats // 10),
                        seats_purchased=seats,
                        start_date=start,
                        end_date=start + timedelta(days=364),
                    )
                )
            _add_usage(session, account.id, HISTORY_START, D, users=2 + 2 * n)
    return ids


def backtest(sessions: db.SessionFactory, **kwargs: Any) -> BacktestReport:
    with sessions() as session:
        return run_backtest(
            session,
            config=load_config(),
            horizon_days=60,
            observation_dates=[D],
            today=TODAY,
            as_of=TODAY,  # the labels may see up to TODAY, past the last usage row
            include_observations=True,
            bootstrap=50,
            **kwargs,
        )


def test_labels_on_a_constructed_history(sessions: db.SessionFactory) -> None:
    ids = build_history(sessions)
    report = backtest(sessions)
    by_name = {
        name: next(o for o in report.observations if o.account_id == i) for name, i in ids.items()
    }
    assert {n: (o.churned, o.expanded) for n, o in by_name.items()} == {
        "churned": (True, False),
        "renewed": (False, False),
        "upsold": (False, True),
        "renewed-late": (False, False),
        "churned-then-back": (True, False),
    }
    churn = report.pooled.churn
    assert (churn.observations, churn.positives) == (5, 2)
    assert churn.base_rate.value == pytest.approx(0.4)
    assert report.pooled.expansion.positives == 1
    assert [r.as_of for r in report.per_date] == [D]
    assert report.censored_dates == []
    # usage and contracts only: no NPS, invoices or contacts; the report names what was there
    assert report.signals_present["login_frequency"] == 1.0
    assert report.signals_present["nps"] == 0.0
    never = next(n for n in report.notes if n.startswith("Never present"))
    assert "nps" in never
    assert "payment" in never
    assert "stakeholder" in never
    assert all(0 <= o.score <= 100 for o in report.observations)


def test_default_observation_dates_are_monthly_and_fully_observed(
    sessions: db.SessionFactory,
) -> None:
    build_history(sessions)
    with sessions() as session:
        dates = default_observation_dates(session, today=TODAY, horizon_days=60)
    # first: 90 days into the history; last: the last day with data (the latest contract
    # start, 2026-05-01) - 60 days = 2026-03-02: later horizons reach past the data
    assert dates == [date(2025, 12, 30), date(2026, 1, 30), date(2026, 2, 28)]


def test_data_after_the_horizon_changes_nothing(sessions: db.SessionFactory) -> None:
    ids = build_history(sessions)
    before = backtest(sessions)
    later = D + timedelta(days=60 + 30 + 1)
    with db.session_scope(sessions) as session:
        for i in ids.values():
            _add_usage(session, i, later, later + timedelta(days=20), users=500)
            session.add(
                Ticket(
                    external_id=f"late-{i}",
                    account_id=i,
                    priority="urgent",
                    escalated=True,
                    opened_at=datetime.combine(later, time(9), tzinfo=UTC),
                )
            )
        session.add(
            Contract(
                external_id="churned-late-return",
                account_id=ids["churned"],
                arr=Decimal(50_000),
                seats_purchased=50,
                start_date=later,
                end_date=later + timedelta(days=364),
            )
        )
    after = backtest(sessions)
    assert after.data_end is not None
    assert after.data_end > D + timedelta(days=90)
    assert after.model_copy(update={"data_end": before.data_end}) == before


def test_scores_at_d_ignore_data_after_d(sessions: db.SessionFactory) -> None:
    ids = build_history(sessions)
    before = backtest(sessions)
    with db.session_scope(sessions) as session:
        for i in ids.values():
            # usage collapses and tickets pile up right after D: knowable only later
            _add_usage(session, i, D + timedelta(days=1), D + timedelta(days=30), users=0)
            session.add_all(
                Ticket(
                    external_id=f"spike-{i}-{k}",
                    account_id=i,
                    priority="urgent",
                    sentiment=-1,
                    escalated=True,
                    opened_at=datetime.combine(D + timedelta(days=1 + k), time(9), tzinfo=UTC),
                )
                for k in range(5)
            )
            # today's TAM health says nothing about D: the backtest leaves it out
            account = session.get(Account, i)
            assert account is not None
            account.tam_health = 5
    assert backtest(sessions) == before


def test_an_empty_database_gives_an_empty_report(sessions: db.SessionFactory) -> None:
    with sessions() as session:
        report = run_backtest(session, config=load_config(), today=TODAY)
    assert report.observation_dates == []
    assert report.pooled.churn.observations == 0
    assert report.pooled.churn.auc.reason == "no observations"
    assert report.notes


def test_dates_whose_horizon_passes_the_data_are_censored_and_counted(
    sessions: db.SessionFactory,
) -> None:
    build_history(sessions)  # the last day with data: 2026-05-01 (a contract start)
    early, late = D - timedelta(days=31), D + timedelta(days=10)
    with sessions() as session:
        report = run_backtest(
            session, config=load_config(), observation_dates=[early, D, late], today=TODAY
        )
    assert report.data_end == date(2026, 5, 1)
    assert report.observation_dates == [early, D]
    assert report.censored_dates == [late]
    assert "1 observation date(s) left out" in report.notes[0]
    # --as-of replays an earlier day: only dates whose horizon it covers remain
    with sessions() as session:
        replay = run_backtest(
            session, config=load_config(), observation_dates=[early, D], today=TODAY, as_of=D
        )
    assert replay.observation_dates == []
    assert replay.censored_dates == [early, D]


def test_backtest_of_imported_example_files(sqlite_engine: Engine) -> None:
    sessions = db.session_factory(sqlite_engine)
    import_directory(sessions=sessions, directory=EXAMPLES)
    with sessions() as session:
        report = run_backtest(
            session,
            config=load_config(),
            observation_dates=[date(2025, 6, 15)],
            today=date(2026, 1, 1),
            as_of=date(2026, 1, 1),  # the contracts are complete up to then
            include_observations=True,
        )
        # without --as-of the data ends 2025-07-01 (acme's renewal): the horizon of
        # 2025-06-15 reaches past it, so the date is censored, not counted as churn
        censored = run_backtest(
            session,
            config=load_config(),
            observation_dates=[date(2025, 6, 15)],
            today=date(2026, 1, 1),
        )
    assert censored.censored_dates == [date(2025, 6, 15)]
    assert censored.pooled.churn.observations == 0
    churn, expansion = report.pooled.churn, report.pooled.expansion
    # globex's contract ends 2025-08-14 with no renewal; acme renews bigger on 2025-07-01
    assert (churn.observations, churn.positives, expansion.positives) == (3, 1, 1)
    assert churn.auc.value is not None
    assert report.model_dump_json()


def test_cli_prints_the_report_as_json(sqlite_engine: Engine, tmp_path: Path) -> None:
    url = str(sqlite_engine.url)
    import_directory(sessions=db.session_factory(sqlite_engine), directory=EXAMPLES)
    result = CliRunner().invoke(cli.app, ["backtest", "--json", "--db", url])
    assert result.exit_code == 0, result.output
    report = BacktestReport.model_validate_json(result.stdout)
    assert report.horizon_days == 60
