"""Portfolio metrics: retention, logo churn, NPS, health mix, renewals, pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlmodel import Session, col

from tests.tools.test_lean import (
    AS_OF,
    CONFIG,
    add_account,
    add_contract,
    add_usage,
    days_back,
)
from tools.facts import active_contracts
from tools.facts.contracts import arr_in_force
from tools.metrics import (
    compute_portfolio_metrics,
    net_promoter_score,
    one_year_before,
    portfolio_metrics,
)
from tools.models import HandoffProposal, HealthSnapshot, NpsResponse
from tools.models_cache import PortfolioMetricsRecord
from tools.onboarding import time_to_value_by_cohort
from tools.results import Band, BandMix, HealthResult, RiskLevel

YEAR_AGO = date(2025, 3, 31)


def health(account_id: int, score: float, band: Band) -> HealthResult:
    return HealthResult(
        account_id=account_id, as_of=AS_OF, score=score, band=band, signals=[], drivers=[]
    )


def _retention_portfolio(session: Session) -> dict[str, int]:
    """One churn, one upsell, one flat (each $100k a year ago), one new logo."""
    ids = {
        "churned": add_account(
            session, "churned", arr="100000", start=date(2024, 6, 1), end=date(2025, 12, 31)
        ),
        "upsell": add_account(
            session, "upsell", arr="100000", start=date(2024, 6, 1), end=date(2025, 5, 31)
        ),
        "flat": add_account(
            session, "flat", arr="100000", start=date(2024, 6, 1), end=date(2026, 5, 31)
        ),
        "new": add_account(
            session, "new", arr="50000", start=date(2025, 9, 1), end=date(2026, 8, 31)
        ),
    }
    add_contract(
        session,
        ids["upsell"],
        "upsell-c2",
        arr="150000",
        start=date(2025, 6, 1),
        end=date(2026, 5, 31),
    )
    return ids


def test_retention_on_a_hand_computed_portfolio(session: Session) -> None:
    _retention_portfolio(session)

    m = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    assert m.accounts == 4
    assert m.active_accounts == 3
    assert m.total_arr == Decimal("300000")  # upsell 150k + flat 100k + new 50k
    assert m.nrr == pytest.approx(250 / 300, abs=1e-4)  # (0 + 150 + 100) / 300
    assert m.grr == pytest.approx(200 / 300, abs=1e-4)  # (0 + 100 + 100) / 300
    assert m.logo_churn == pytest.approx(1 / 3, abs=1e-4)


def test_empty_portfolio(session: Session) -> None:
    m = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    assert (m.accounts, m.active_accounts, m.total_arr) == (0, 0, Decimal("0"))
    assert (m.nrr, m.grr, m.logo_churn, m.nps, m.average_health) == (None,) * 5
    assert m.band_mix == BandMix()
    assert [(b.days, b.count) for b in m.renewals] == [(30, 0), (60, 0), (90, 0)]


_responses = iter(range(1, 10**9))


def _nps(session: Session, account_id: int, score: int, day: date, kind: str = "nps") -> None:
    session.add(
        NpsResponse(
            external_id=f"nps-{next(_responses)}",
            account_id=account_id,
            kind=kind,
            score=score,
            responded_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
        )
    )
    session.flush()


def test_nps_arithmetic(session: Session) -> None:
    account = add_account(session, "acme")
    for score in (10, 10, 9, 3):  # 3 promoters, 1 detractor of 4
        _nps(session, account, score, AS_OF - timedelta(days=score))
    _nps(session, account, 0, AS_OF - timedelta(days=91))  # before the 90 complete days
    _nps(session, account, 0, AS_OF)  # on as_of: not a complete day yet
    _nps(session, account, 0, AS_OF + timedelta(days=1))  # after as_of
    _nps(session, account, 1, AS_OF - timedelta(days=1), kind="csat")  # not NPS

    assert net_promoter_score(session, as_of=AS_OF) == 50.0
    passives = add_account(session, "passive")
    for score in (7, 8):
        _nps(session, passives, score, AS_OF - timedelta(days=90))  # first day of the window
    assert net_promoter_score(session, as_of=AS_OF) == pytest.approx(33.3)


def test_renewals_and_arr_at_risk_from_given_health(session: Session) -> None:
    soon = add_account(session, "soon", arr="10000", end=AS_OF + timedelta(days=20))
    mid = add_account(session, "mid", arr="20000", end=AS_OF + timedelta(days=45))
    late = add_account(session, "late", arr="40000", end=AS_OF + timedelta(days=90))
    far = add_account(session, "far", arr="80000", end=AS_OF + timedelta(days=91))
    bands = {
        soon: health(soon, 40, Band.RED),
        mid: health(mid, 80, Band.GREEN),
        late: health(late, 60, Band.AMBER),
        far: health(far, 30, Band.RED),
    }

    # At risk = churn level medium/high (not the band): the GREEN one at medium risk counts,
    # the AMBER one at low risk does not.
    levels = {soon: RiskLevel.HIGH, mid: RiskLevel.MEDIUM, late: RiskLevel.LOW, far: RiskLevel.HIGH}

    m = portfolio_metrics(session, as_of=AS_OF, config=CONFIG, health=bands, levels=levels)

    assert [(b.days, b.count, b.arr, b.arr_at_risk) for b in m.renewals] == [
        (30, 1, Decimal("10000"), Decimal("10000")),
        (60, 2, Decimal("30000"), Decimal("30000")),
        (90, 3, Decimal("70000"), Decimal("30000")),
    ]
    assert m.band_mix == BandMix(green=1, amber=1, red=2)
    assert m.average_health == 52.5


def test_health_from_latest_snapshot_on_or_before_as_of(session: Session) -> None:
    a = add_account(session, "a", end=AS_OF + timedelta(days=10))
    b = add_account(session, "b")
    gone = add_account(session, "gone", start=date(2024, 1, 1), end=date(2025, 1, 1))
    rows = [
        (a, AS_OF - timedelta(days=5), 90.0, "GREEN", "low"),
        (a, AS_OF - timedelta(days=1), 50.0, "AMBER", "high"),
        (a, AS_OF + timedelta(days=1), 20.0, "RED", "low"),  # after as_of: ignored
        (b, AS_OF - timedelta(days=30), 30.0, "RED", "medium"),
        (gone, AS_OF, 10.0, "RED", "high"),  # not active: ignored
    ]
    for account_id, day, score, band, level in rows:
        session.add(
            HealthSnapshot(
                account_id=account_id, day=day, score=score, band=band, churn_level=level
            )
        )
    session.flush()

    m = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    assert m.band_mix == BandMix(green=0, amber=1, red=1)
    assert m.average_health == 40.0
    assert m.renewals[0].arr_at_risk == Decimal("120000")  # a: churn risk high on its snapshot


def test_expansion_pipeline(session: Session) -> None:
    busy = add_account(session, "busy", arr="120000", seats=100)
    add_usage(session, busy, days_back(28), 100)

    m = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    assert m.expansion_pipeline_count == 1
    assert m.expansion_pipeline_arr == Decimal("12000")


def test_no_look_ahead(session: Session) -> None:
    ids = _retention_portfolio(session)
    before = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    add_contract(
        session,
        ids["flat"],
        "flat-c2",
        arr="900000",
        start=AS_OF + timedelta(days=1),
        end=date(2027, 12, 31),
    )
    _nps(session, ids["flat"], 0, AS_OF + timedelta(days=2))
    session.add(
        HealthSnapshot(account_id=ids["flat"], day=AS_OF + timedelta(days=1), score=5, band="RED")
    )
    add_usage(session, ids["flat"], [AS_OF + timedelta(days=1)], 500)

    assert portfolio_metrics(session, as_of=AS_OF, config=CONFIG) == before


def test_one_year_before_handles_leap_day() -> None:
    assert one_year_before(date(2028, 2, 29)) == date(2027, 2, 28)
    assert one_year_before(AS_OF) == YEAR_AGO


def _scan(session: Session, account_ids: list[int], *, written: datetime) -> None:
    """What a scan of AS_OF leaves behind: one snapshot per account, all written at once."""
    session.execute(delete(HealthSnapshot).where(col(HealthSnapshot.day) == AS_OF))
    for account_id in account_ids:
        session.add(
            HealthSnapshot(
                account_id=account_id,
                day=AS_OF,
                score=40.0,
                band="AMBER",
                churn_level="high",
                computed_at=written,
            )
        )
    session.flush()


def _stored(session: Session) -> int:
    return len(session.execute(select(PortfolioMetricsRecord)).all())


def test_a_scanned_day_is_computed_once_and_stored_until_the_next_scan(session: Session) -> None:
    ids = list(_retention_portfolio(session).values())
    _scan(session, ids, written=datetime(2026, 3, 31, 6, tzinfo=UTC))

    first = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    assert _stored(session) == 1
    assert first == compute_portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    # Data imported after the scan shows after the next scan, not before.
    add_account(session, "late-import", arr="70000")
    assert portfolio_metrics(session, as_of=AS_OF, config=CONFIG) == first
    _scan(session, ids, written=datetime(2026, 3, 31, 11, tzinfo=UTC))
    rescanned = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    assert rescanned.total_arr == first.total_arr + Decimal("70000")
    assert _stored(session) == 1  # the day's older figures are replaced


def test_a_day_without_a_scan_is_never_stored(session: Session) -> None:
    _retention_portfolio(session)
    before = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    add_account(session, "late-import", arr="70000")

    after = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    assert after.total_arr == before.total_arr + Decimal("70000")
    assert _stored(session) == 0


def test_another_config_is_not_served_the_stored_figures(session: Session) -> None:
    busy = add_account(session, "busy", arr="120000", seats=100)
    add_usage(session, busy, days_back(28), 100)
    _scan(session, [busy], written=datetime(2026, 3, 31, 6, tzinfo=UTC))
    assert portfolio_metrics(session, as_of=AS_OF, config=CONFIG).expansion_pipeline_count == 1

    strict = CONFIG.model_copy(
        update={
            "expansion": CONFIG.expansion.model_copy(update={"min_estimated_arr": Decimal(10**9)})
        }
    )
    assert portfolio_metrics(session, as_of=AS_OF, config=strict).expansion_pipeline_count == 0


def test_open_hand_offs_are_read_live_over_stored_figures(session: Session) -> None:
    account = add_account(session, "acme")
    _scan(session, [account], written=datetime(2026, 3, 31, 6, tzinfo=UTC))
    assert portfolio_metrics(session, as_of=AS_OF, config=CONFIG).handoff_pipeline_count == 0

    session.add(
        HandoffProposal(
            account_id=account, kind="seats", key="acme:seats", estimated_arr=Decimal("5000")
        )
    )
    session.flush()
    live = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)
    assert (live.handoff_pipeline_count, live.handoff_pipeline_arr) == (1, Decimal("5000.00"))


def test_metrics_report_median_time_to_value_by_cohort(session: Session) -> None:
    quick = add_account(session, "quick", start=date(2026, 1, 5))
    add_account(session, "slow", start=date(2026, 1, 20))
    add_usage(session, quick, [date(2026, 1, d) for d in range(6, 31)], 20)

    m = portfolio_metrics(session, as_of=AS_OF, config=CONFIG)

    expected = time_to_value_by_cohort(session, as_of=AS_OF, config=CONFIG.onboarding)
    assert m.time_to_value == expected
    january = next(c for c in m.time_to_value if c.cohort == "2026-01")
    assert january.accounts == 2
    assert january.median_days is not None


def test_the_arr_in_force_is_that_of_the_contract_in_force(session: Session) -> None:
    """The team figures' light reader (ARR and end date) picks the contract ``active_contracts``
    picks on every day: the latest-starting one when a renewal overlaps its predecessor, none
    between contracts or before the first."""
    ids = _retention_portfolio(session)
    add_contract(  # overlaps the flat account's contract by a month, then runs on
        session, ids["flat"], "flat-c2", arr="90000", start=date(2026, 5, 1), end=date(2027, 4, 30)
    )
    add_contract(  # starts the same day as the new logo's contract: the later id wins
        session, ids["new"], "new-c2", arr="55000", start=date(2025, 9, 1), end=date(2026, 9, 30)
    )
    session.flush()
    for day in (YEAR_AGO, date(2025, 6, 1), date(2025, 9, 1), AS_OF, date(2026, 5, 15)):
        expected = {a: (c.arr, c.end_date) for a, c in active_contracts(session, on=day).items()}
        assert arr_in_force(session, on=day) == expected, day
    assert arr_in_force(session, on=date(2026, 5, 15))[ids["flat"]] == (
        Decimal("90000"),
        date(2027, 4, 30),
    )
    assert arr_in_force(session, on=date(2025, 9, 1))[ids["new"]][0] == Decimal("55000")
