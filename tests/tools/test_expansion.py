"""Expansion opportunities: seats, module and integration."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session

from tests.tools.test_lean import (
    AS_OF,
    CONFIG,
    add_account,
    add_contract,
    add_feature,
    add_feature_usage,
    add_usage,
    days_back,
    demo_ids,
)
from tools.db import SessionFactory
from tools.expansion import ExpansionConfig, expansion_opportunities
from tools.results import ExpansionOpportunity


def kinds(opps: list[ExpansionOpportunity]) -> dict[str, ExpansionOpportunity]:
    return {o.kind: o for o in opps}


def opportunities(session: Session, as_of: date = AS_OF) -> dict[int, list[ExpansionOpportunity]]:
    return expansion_opportunities(session, as_of=as_of, config=CONFIG)


# -- seats ------------------------------------------------------------------------------------


def test_seats_over_the_cap(session: Session) -> None:
    initech = add_account(session, "initech", arr="120000", seats=100)
    add_usage(
        session, initech, days_back(28), lambda d: 130 if d == AS_OF - timedelta(days=1) else 95
    )

    seats = kinds(opportunities(session)[initech])["seats"]

    # ceil(max(130, 100) x 1.10) - 100 = 43 seats x $1,200.
    assert seats.estimated_arr == Decimal("51600")
    assert seats.formula == (
        "ceil(max(peak 130, purchased 100) x 1.10) - 100 = 43 extra seats x $1,200/seat "
        "($120,000 ARR / 100 seats) = $51,600"
    )
    assert seats.key == "initech:seats:cap"
    assert "95%, 95%, 95%, 130%" in seats.evidence[0]
    assert "130" in seats.talk_track
    assert "$51,600" in seats.talk_track


def test_seats_threshold_is_inclusive_and_needs_every_week(session: Session) -> None:
    at = add_account(session, "at", seats=100)
    add_usage(session, at, days_back(28), 90)
    dip = add_account(session, "dip", seats=100)
    # The week 15-21 days ago peaks at 89: one week under the threshold breaks the run.
    add_usage(session, dip, days_back(28), lambda d: 89 if 15 <= (AS_OF - d).days <= 21 else 99)
    short = add_account(session, "short", seats=100)
    add_usage(session, short, days_back(21), 99)  # only 3 weeks of data

    found = opportunities(session)

    seats = kinds(found[at])["seats"]
    assert seats.estimated_arr == Decimal("12000")  # ceil(100 x 1.1) - 100 = 10 seats
    assert "seats" not in kinds(found[dip])
    assert "seats" not in kinds(found[short])


def test_zero_seats_purchased_has_no_seat_opportunity(session: Session) -> None:
    account = add_account(session, "zero", seats=0)
    add_usage(session, account, days_back(28), 10)

    assert opportunities(session)[account] == []


def test_key_is_stable_from_day_to_day(session: Session) -> None:
    account = add_account(session, "initech", seats=100)
    add_usage(session, account, days_back(40), lambda d: 100 + d.day % 7)
    feature = add_feature(session, "advanced_analytics", "enterprise")
    add_feature_usage(session, account, feature, days_back(40), users=20, events=50)

    day1 = {o.kind: o.key for o in opportunities(session)[account]}
    day2 = {o.kind: o.key for o in opportunities(session, AS_OF - timedelta(days=3))[account]}

    assert (
        day1
        == day2
        == {
            "seats": "initech:seats:cap",
            "module": "initech:module:enterprise",
        }
    )


# -- module and integration -------------------------------------------------------------------


def test_module_for_heavy_use_of_higher_tier_features(session: Session) -> None:
    pro = add_account(session, "pro", plan="pro", arr="100000")
    light = add_account(session, "light", plan="pro")
    ent = add_account(session, "ent", plan="enterprise")
    analytics = add_feature(session, "advanced_analytics", "enterprise")
    dashboards = add_feature(session, "dashboards", "starter")
    for account in (pro, ent):
        add_feature_usage(session, account, analytics, days_back(30), users=12, events=40)
    add_feature_usage(session, light, analytics, days_back(30), users=2, events=3)
    add_feature_usage(session, light, dashboards, days_back(30), users=90, events=900)

    found = opportunities(session)

    module = kinds(found[pro])["module"]
    assert module.estimated_arr == Decimal("50000")
    assert module.formula == "$100,000 current ARR x 50% enterprise tier uplift = $50,000"
    assert module.key == "pro:module:enterprise"
    assert module.evidence[0] == (
        "Advanced Analytics (enterprise tier): 12 users and 1,200 events in the last 30 days"
    )
    assert found[light] == []
    assert found[ent] == []


def test_integration_for_api_volume_and_integrations_outside_the_plan(session: Session) -> None:
    api_heavy = add_account(session, "apiheavy", plan="enterprise", arr="200000")
    sync_user = add_account(session, "syncer", plan="pro", arr="100000")
    api_light = add_account(session, "apilight", plan="pro")
    api = add_feature(session, "api", "pro", integration=True)
    sync = add_feature(session, "salesforce_sync", "enterprise", integration=True)
    add_feature_usage(session, api_heavy, api, days_back(30), users=3, events=4000)
    add_feature_usage(session, sync_user, sync, days_back(30), users=1, events=10)
    add_feature_usage(session, api_light, api, days_back(30), users=30, events=3000)

    found = opportunities(session)

    heavy = kinds(found[api_heavy])["integration"]
    assert heavy.estimated_arr == Decimal("30000")
    assert heavy.evidence == ["120,000 API calls in the last 30 days (threshold 100,000)"]
    assert heavy.key == "apiheavy:integration:package"
    syncer = kinds(found[sync_user])["integration"]
    assert "Salesforce Sync (enterprise tier)" in syncer.evidence[0]
    assert syncer.estimated_arr == Decimal("15000")
    assert found[api_light] == []


# -- scope and time ---------------------------------------------------------------------------


def test_churned_account_gets_nothing(session: Session) -> None:
    gone = add_account(
        session, "gone", seats=10, start=date(2025, 1, 1), end=AS_OF - timedelta(days=2)
    )
    add_usage(session, gone, days_back(28), 50)

    assert gone not in opportunities(session)


def test_no_look_ahead(session: Session) -> None:
    account = add_account(session, "grower", seats=100)
    add_usage(session, account, days_back(28), 50)
    feature = add_feature(session, "advanced_analytics", "enterprise")
    before = opportunities(session)

    later = [AS_OF + timedelta(days=i) for i in range(1, 30)]
    add_usage(session, account, later, 500)
    add_feature_usage(session, account, feature, later, users=100, events=10_000)
    add_contract(
        session,
        account,
        "grower-c2",
        seats=10,
        start=AS_OF + timedelta(days=1),
        end=date(2027, 12, 31),
    )

    assert opportunities(session) == before == {account: []}


def test_account_ids_filter(session: Session) -> None:
    a = add_account(session, "a", seats=10)
    b = add_account(session, "b", seats=10)
    for account in (a, b):
        add_usage(session, account, days_back(28), 10)

    found = expansion_opportunities(session, as_of=AS_OF, config=CONFIG, account_ids=[b])

    assert list(found) == [b]
    assert found[b] == opportunities(session)[b]


def test_config_defaults() -> None:
    cfg = ExpansionConfig()
    assert cfg.seat_utilisation_threshold == 0.9
    assert cfg.seat_weeks == 4
    assert cfg.tier_uplift["enterprise"] == 0.5


def test_demo_initech_is_an_expansion_story(sessions: SessionFactory) -> None:
    ids = demo_ids(sessions, AS_OF)
    with sessions() as s:
        found = expansion_opportunities(s, as_of=AS_OF, config=CONFIG)

    initech = kinds(found[ids["initech"]])
    assert {"seats", "module", "integration"} <= set(initech)
    assert initech["module"].key == "initech:module:enterprise"
    assert "Advanced analytics" in initech["module"].evidence[0]
    assert "seats" not in kinds(found[ids["acme"]])
