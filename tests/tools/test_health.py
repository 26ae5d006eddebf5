"""Health score: each signal's normalisation, re-weighting, bands, edge cases, no look-ahead."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from tests.utils.factories import (
    add_feature_usage,
    add_usage,
    make_account,
    make_contact,
    make_contract,
    make_feature,
    make_interaction,
    make_invoice,
    make_nps,
    make_ticket,
)
from tools.health import band_for, composite, health_score_for, score_portfolio
from tools.models import Account, HealthSnapshot
from tools.results import Band, HealthResult, SignalScore
from tools.scoring_config import SIGNAL_KEYS, ScoringConfig, load_config

AS_OF = date(2026, 6, 30)
CONFIG = load_config()


def days_ago(n: int) -> date:
    return AS_OF - timedelta(days=n)


def signal(result: HealthResult, key: str) -> SignalScore:
    return next(s for s in result.signals if s.key == key)


def customer(session: Session, *, seats: int = 100, renewal_in: int = 300, **kw: object) -> Account:
    account = make_account(session, **kw)  # type: ignore[arg-type]
    make_contract(
        session,
        account=account,
        start=days_ago(400),
        end=AS_OF + timedelta(days=renewal_in),
        seats=seats,
    )
    return account


def score(session: Session, account: Account, config: ScoringConfig = CONFIG) -> HealthResult:
    session.commit()
    assert account.id is not None
    return health_score_for(session, account_id=account.id, as_of=AS_OF, config=config)


def test_adoption_is_share_of_plan_features_over_target(session: Session) -> None:
    account = customer(session)
    used = make_feature(session, tier="starter")
    make_feature(session, tier="pro")
    make_feature(session, tier="enterprise")  # not in a pro plan
    add_feature_usage(session, account=account, feature=used, day=days_ago(3))
    result = score(session, account)
    assert signal(result, "adoption").raw == 50.0
    assert signal(result, "adoption").score == pytest.approx(83.3, abs=0.05)  # 0.5 / 0.6


def test_adoption_missing_without_feature_data(session: Session) -> None:
    account = customer(session)
    make_feature(session)
    assert signal(score(session, account), "adoption").score is None


def test_tickets_volume_per_10_seats_and_sentiment(session: Session) -> None:
    account = customer(session)
    add_usage(session, account=account, start=days_ago(28), days=28, active_users=10)
    for n in (5, 20, 60):
        make_ticket(session, account=account, opened=days_ago(n), sentiment=-0.5)
    make_ticket(session, account=account, opened=days_ago(95))  # outside the 90-day window
    # 3 tickets / 3 months / 10 seats * 10 = 1 per 10 seats -> volume 50; sentiment -0.5 -> 25
    assert signal(score(session, account), "tickets").score == pytest.approx(37.5)


def test_no_tickets_scores_100(session: Session) -> None:
    assert signal(score(session, customer(session)), "tickets").score == 100.0


def test_interaction_recency_is_linear_between_14_and_90_days(session: Session) -> None:
    account = customer(session)
    make_interaction(session, account=account, day=days_ago(52))
    make_interaction(session, account=account, day=days_ago(5), meaningful=False)
    recency = signal(score(session, account), "interaction_recency")
    assert recency.raw == 52.0
    assert recency.score == pytest.approx(50.0)


def test_login_frequency_per_active_seat_per_week(session: Session) -> None:
    account = customer(session)
    add_usage(session, account=account, start=days_ago(28), days=28, logins=20, active_users=20)
    logins = signal(score(session, account), "login_frequency")
    assert logins.raw == pytest.approx(7.0)  # 560 logins / 4 weeks / 20 seats
    assert logins.score == pytest.approx(70.0)


def test_account_with_no_usage_at_all(session: Session) -> None:
    account = customer(session)
    result = score(session, account)
    assert signal(result, "login_frequency").score == 0.0
    assert signal(result, "usage_trend").score is None
    assert 0 <= result.score <= 100


def test_brand_new_account_without_usage_is_not_penalised(session: Session) -> None:
    account = make_account(session)
    make_contract(session, account=account, start=days_ago(5), end=days_ago(-360))
    result = score(session, account)
    assert signal(result, "login_frequency").score is None
    assert signal(result, "usage_trend").score is None


def test_brand_new_account_with_ten_days_of_data(session: Session) -> None:
    account = make_account(session)
    make_contract(session, account=account, start=days_ago(10), end=days_ago(-355))
    add_usage(session, account=account, start=days_ago(9), days=10, logins=50, active_users=10)
    result = score(session, account)
    assert signal(result, "usage_trend").score is None
    assert signal(result, "login_frequency").score == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("logins", "users", "expected"),
    [(75, 10, 25.0), (100, 10, 50.0), (150, 15, 100.0), (150, 10, 50.0), (0, 10, 0.0)],
)
def test_usage_trend_is_the_worse_of_logins_and_users(
    session: Session, logins: int, users: int, expected: float
) -> None:
    account = customer(session)
    add_usage(session, account=account, start=days_ago(56), days=28, logins=100, active_users=10)
    add_usage(
        session, account=account, start=days_ago(28), days=28, logins=logins, active_users=users
    )
    assert signal(score(session, account), "usage_trend").score == pytest.approx(expected)


def test_payment_overdue_days_and_late_payment_counts_as_unpaid(session: Session) -> None:
    account = customer(session)
    make_invoice(
        session, account=account, issued=days_ago(100), due=days_ago(70), paid=days_ago(69)
    )
    # paid after as_of: still unpaid at as_of, 45 days overdue -> 80 * (1 - 45/90) = 40
    make_invoice(session, account=account, issued=days_ago(75), due=days_ago(45), paid=days_ago(-3))
    payment = signal(score(session, account), "payment")
    assert payment.raw == 10_000.0
    assert payment.score == pytest.approx(40.0)


def test_payment_all_paid_and_missing_without_invoices(session: Session) -> None:
    paid = customer(session)
    make_invoice(session, account=paid, issued=days_ago(60), due=days_ago(30), paid=days_ago(31))
    assert signal(score(session, paid), "payment").score == 100.0
    assert signal(score(session, customer(session)), "payment").score is None


def test_stakeholder_engagement(session: Session) -> None:
    engaged = customer(session)
    make_contact(session, account=engaged, name="Ann", last_engaged=days_ago(60))
    assert signal(score(session, engaged), "stakeholder").score == pytest.approx(70.0)

    via_interaction = customer(session)
    champ = make_contact(session, account=via_interaction, last_engaged=days_ago(-5))
    make_interaction(session, account=via_interaction, contact=champ, day=days_ago(10))
    assert signal(score(session, via_interaction), "stakeholder").score == 100.0

    gone = customer(session)
    make_contact(session, account=gone, name="Jane Doe", left_on=days_ago(35))
    result = score(session, gone)
    assert signal(result, "stakeholder").score == 0.0
    assert any("champion Jane Doe left 35 days ago" in d.text for d in result.drivers)

    assert signal(score(session, customer(session)), "stakeholder").score is None


def test_engagement_dated_after_as_of_is_ignored(session: Session) -> None:
    account = customer(session)
    make_contact(session, account=account, last_engaged=days_ago(-10))
    assert signal(score(session, account), "stakeholder").score == 40.0  # never engaged by as_of


def test_nps_is_promoters_minus_detractors(session: Session) -> None:
    account = customer(session)
    for value in (10, 9, 5, 7):
        make_nps(session, account=account, day=days_ago(20), score=value)
    make_nps(session, account=account, day=days_ago(200), score=0)  # outside 180 days
    nps = signal(score(session, account), "nps")
    assert nps.raw == 25.0  # (2 - 1) / 4
    assert nps.score == pytest.approx(62.5)


def test_renewal_proximity(session: Session) -> None:
    renewal = signal(score(session, customer(session, renewal_in=90)), "renewal_proximity")
    assert renewal.raw == 90.0
    assert renewal.score == pytest.approx(50.0)


def test_seat_utilisation_and_zero_seats(session: Session) -> None:
    account = customer(session, seats=100)
    add_usage(session, account=account, start=days_ago(28), days=28, active_users=34)
    result = score(session, account)
    assert signal(result, "seat_utilisation").score == pytest.approx(40.0)  # 0.34 / 0.85
    assert any("66% of 100 seats unused" in d.text for d in result.drivers)

    zero = customer(session, seats=0)
    add_usage(session, account=zero, start=days_ago(28), days=28, active_users=5)
    result = score(session, zero)
    assert signal(result, "seat_utilisation").score is None
    assert 0 <= result.score <= 100


def test_escalations_count_open_as_of(session: Session) -> None:
    account = customer(session)
    make_ticket(session, account=account, opened=days_ago(100), closed=days_ago(90), escalated=True)
    make_ticket(session, account=account, opened=days_ago(10), closed=days_ago(-2), escalated=True)
    make_ticket(session, account=account, opened=days_ago(200), escalated=True)  # older than 180
    escalations = signal(score(session, account), "escalations")
    assert escalations.raw == 2.0
    # 100 - 2*20 - 2 open (one closed after as_of, one never closed) * 20
    assert escalations.score == pytest.approx(20.0)


def test_tam_health_and_use_static_fields(session: Session) -> None:
    account = customer(session, tam_health=35)
    assert signal(score(session, account), "tam_health").score == 35.0
    assert account.id is not None
    backtest = score_portfolio(
        session, as_of=AS_OF, config=CONFIG, account_ids=[account.id], use_static_fields=False
    )
    assert signal(backtest[account.id], "tam_health").score is None


def test_account_without_any_data_is_neutral_amber(session: Session) -> None:
    result = score(session, make_account(session))
    assert result.score == CONFIG.health.all_missing_score
    assert result.band == Band.AMBER
    assert all(s.score is None and s.effective_weight == 0 for s in result.signals)


def test_contributions_add_up_and_weights_renormalise(session: Session) -> None:
    account = customer(session, tam_health=80)
    add_usage(session, account=account, start=days_ago(56), days=56, logins=30, active_users=10)
    result = score(session, account)
    present = [s for s in result.signals if s.score is not None]
    assert sum(s.effective_weight for s in present) == pytest.approx(1.0, abs=1e-3)
    assert sum(s.contribution for s in result.signals) == pytest.approx(result.score, abs=0.1)
    assert result.drivers
    assert result.drivers[0].impact < 0  # harmful drivers come first


def test_trends_from_stored_snapshots(session: Session) -> None:
    account = customer(session)
    assert account.id is not None
    session.add(HealthSnapshot(account_id=account.id, day=days_ago(32), score=40.0, band="RED"))
    result = score(session, account)
    assert result.trend_30d == pytest.approx(result.score - 40.0, abs=0.05)
    assert result.trend_90d == 0.0  # computed as of day -90: nothing changed since


def test_score_portfolio_matches_single_account(session: Session) -> None:
    accounts = [customer(session, seats=50 + n) for n in range(3)]
    for n, account in enumerate(accounts):
        add_usage(session, account=account, start=days_ago(56), days=56, active_users=10 + n)
    session.commit()
    everyone = score_portfolio(session, as_of=AS_OF, config=CONFIG)
    for account in accounts:
        assert account.id is not None
        assert everyone[account.id] == health_score_for(
            session, account_id=account.id, as_of=AS_OF, config=CONFIG
        )


def test_no_look_ahead(session: Session) -> None:
    account = customer(session, renewal_in=100)
    add_usage(session, account=account, start=days_ago(56), days=56, logins=40, active_users=10)
    champ = make_contact(session, account=account, name="Ann", last_engaged=days_ago(20))
    make_ticket(session, account=account, opened=days_ago(5))
    before = score(session, account)

    later = AS_OF + timedelta(days=1)
    add_usage(session, account=account, start=later, days=20, logins=0, active_users=0)
    make_ticket(session, account=account, opened=later, escalated=True, sentiment=-1)
    make_nps(session, account=account, day=later, score=0)
    make_interaction(session, account=account, contact=champ, day=later)
    make_invoice(session, account=account, issued=later, due=later)
    make_contact(session, account=account, name="Bob", role="user", left_on=later)
    make_contract(session, account=account, start=later, end=later + timedelta(days=365), seats=1)
    assert account.id is not None
    feature = make_feature(session)
    add_feature_usage(session, account=account, feature=feature, day=later)
    after = score(session, account)
    # the later contact counts as present (contacts have no start date); nothing else moved
    assert after.score == before.score
    assert [s.score for s in after.signals] == [s.score for s in before.signals]


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (100, Band.GREEN),
        (70, Band.GREEN),
        (69.6, Band.GREEN),  # shown as 70
        (69.4, Band.AMBER),  # shown as 69
        (55, Band.AMBER),
        (54.6, Band.AMBER),
        (54.4, Band.RED),
        (0, Band.RED),
    ],
)
def test_band_edges(value: float, band: Band) -> None:
    assert band_for(value, CONFIG) == band


WEIGHTS = np.array([CONFIG.health.weights.as_dict()[k] for k in SIGNAL_KEYS])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
        min_size=len(SIGNAL_KEYS),
        max_size=len(SIGNAL_KEYS),
    ),
    st.lists(
        st.floats(min_value=0, max_value=1000),
        min_size=len(SIGNAL_KEYS),
        max_size=len(SIGNAL_KEYS),
    ),
)
def test_composite_is_bounded_and_never_divides_by_zero(
    values: list[float | None], weights: list[float]
) -> None:
    row = np.array([[np.nan if v is None else v for v in values]], dtype=np.float64)
    scores, effective = composite(row, np.array(weights), 50.0)
    assert 0.0 <= scores[0] <= 100.0
    assert not np.isnan(effective).any()
    present = ~np.isnan(row[0])
    if (np.array(weights)[present] > 0).any():
        assert effective[0].sum() == pytest.approx(1.0)
        lo, hi = row[0][present & (np.array(weights) > 0)].min(), row[0][present].max()
        assert lo - 0.05 <= scores[0] <= hi + 0.05
    else:
        assert scores[0] == 50.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=len(SIGNAL_KEYS), max_size=len(SIGNAL_KEYS)))
def test_reweighting_any_subset_missing(missing: list[bool]) -> None:
    row = np.where(np.array(missing), np.nan, 80.0)[np.newaxis, :]
    scores, effective = composite(row, WEIGHTS, 50.0)
    weighted_missing = all(m for m, w in zip(missing, WEIGHTS, strict=True) if w > 0)
    assert scores[0] == (50.0 if weighted_missing else 80.0)
    assert effective[0][np.array(missing)].sum() == 0.0
