"""Every renderer's output parses with slack_sdk and stays within Slack's limits, even when huge."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot import blocks, home_blocks
from tools.accounts import AccountMatch
from tools.home_book import BookEntry
from tools.results import (
    AccountReport,
    AccountSummary,
    Band,
    BandMix,
    ChurnRisk,
    Driver,
    ExpansionOpportunity,
    HealthResult,
    LeanFinding,
    Playbook,
    PlaybookStep,
    PortfolioMetrics,
    RenewalBucket,
    RiskLevel,
    Severity,
    TriggerHit,
)

AS_OF = date(2026, 11, 2)
HUGE = "x" * 10_000


def report(
    account_id: int = 1,
    *,
    name: str = "Acme Corp",
    band: Band = Band.AMBER,
    level: RiskLevel = RiskLevel.HIGH,
    items: int = 2,
    text: str = "logins down 38% vs the prior 4 weeks",
    owner: str | None = "U0CSM001",
) -> AccountReport:
    summary = AccountSummary(
        account_id=account_id,
        external_id=f"acct-{account_id}",
        name=name,
        segment="enterprise",
        owner_slack_id=owner,
        owner_email="maya@example.com",
        lifecycle_stage="renewal",
        plan="pro",
        arr=Decimal("180000"),
        seats_purchased=500,
        seats_used=200,
        renewal_date=AS_OF + timedelta(days=45),
    )
    playbook = Playbook(
        key="licence_optimisation",
        title="Licence optimisation",
        goal="Right-size",
        steps=[PlaybookStep(title="Review", detail="Review seats")],
    )
    return AccountReport(
        account=summary,
        health=HealthResult(
            account_id=account_id,
            as_of=AS_OF,
            score=48.4,
            band=band,
            signals=[],
            drivers=[Driver(signal="logins", text=text, impact=-12.5) for _ in range(items)],
            trend_30d=-6.2,
            trend_90d=None,
        ),
        churn=ChurnRisk(
            account_id=account_id,
            as_of=AS_OF,
            level=level,
            triggers=[
                TriggerHit(
                    key="renewal_window",
                    kind="renewal",
                    label="Renewal at risk",
                    evidence=text,
                    severity=Severity.HIGH,
                )
                for _ in range(items)
            ],
            renewal_date=summary.renewal_date,
            days_to_renewal=45,
            arr_at_risk=Decimal("180000"),
        ),
        lean=[
            LeanFinding(
                account_id=account_id,
                kind="muda",
                title=f"$45,000/year of unused capacity {text}",
                severity=Severity.HIGH,
                evidence=[text],
                annual_cost=Decimal("45000"),
                playbook=playbook,
            )
            for _ in range(items)
        ],
        expansion=[opportunity(account_id, text) for _ in range(items)],
    )


def opportunity(account_id: int, text: str = "Seats over cap") -> ExpansionOpportunity:
    return ExpansionOpportunity(
        account_id=account_id,
        kind="seats",
        title=text,
        evidence=[text, text],
        estimated_arr=Decimal("36000"),
        formula=text,
        talk_track=text,
        key=f"seats:{account_id}",
    )


def metrics() -> PortfolioMetrics:
    return PortfolioMetrics(
        as_of=AS_OF,
        accounts=240,
        active_accounts=220,
        total_arr=Decimal("12500000"),
        nrr=1.04,
        grr=0.91,
        logo_churn=0.08,
        average_health=64.2,
        band_mix=BandMix(green=120, amber=70, red=30),
        nps=21.0,
        renewals=[RenewalBucket(days=30, count=8, arr=Decimal("400000"), arr_at_risk=Decimal("1"))],
    )


def check(rendered_blocks: list[dict[str, Any]], max_blocks: int = 50) -> None:
    """Parse with the SDK (which validates) and check the limits it does not."""
    assert 0 < len(rendered_blocks) <= max_blocks
    for block in rendered_blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.to_dict()
        if block["type"] == "section":
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        elements = [block["accessory"]] if "accessory" in block else block.get("elements", [])
        for element in elements:
            if element.get("type") == "button":
                assert len(element["value"]) <= 2000
                assert len(element["action_id"]) <= 255
                assert element["action_id"] in blocks.ACTIONS
                assert len(element["text"]["text"]) <= 75


def rendered_cases(big: bool) -> list[tuple[str, blocks.Rendered]]:
    n, text, name = (500, HUGE, "N" * 400) if big else (2, "short", "Acme Corp")
    reports = [report(i, name=name, items=n if big else 2, text=text) for i in range(1, n + 1)]
    matches = [AccountMatch(i, f"e{i}", name, 0.9, "prefix") for i in range(n)]
    items = [(r.account, opportunity(r.account.account_id, text)) for r in reports]
    return [
        ("health", blocks.health_report(reports[0])),
        ("shared", blocks.health_report(reports[0], with_actions=False, shared_by="U1")),
        ("history", blocks.health_history(reports[0], [(AS_OF, 50.0, Band.RED)] * n)),
        ("account_expansion", blocks.account_expansion(reports[0])),
        ("at_risk", blocks.at_risk_list(reports, as_of=AS_OF)),
        ("at_risk_mine", blocks.at_risk_list(reports, as_of=AS_OF, mine=True, within_days=60)),
        ("at_risk_page", blocks.at_risk_list(reports, as_of=AS_OF, offset=1)),
        ("expansion", blocks.expansion_list(items, as_of=AS_OF)),
        ("renewals", blocks.renewals_list(reports, as_of=AS_OF, start=AS_OF, end=AS_OF)),
        ("help", blocks.help_message()),
        ("usage", blocks.usage_message("/health", text, examples=[name] * 3)),
        ("not_found", blocks.account_not_found("/health", text, matches, [name])),
        ("not_found_empty", blocks.account_not_found("/health", text, [], [name])),
        ("ambiguous", blocks.ambiguous_account(text, matches)),
        ("error", blocks.error_message(text)),
        ("unknown", blocks.unknown_intent(text)),
        ("qbr", blocks.qbr_started(reports[0].account.name, requested_by="U1", version=3)),
        (
            "qbr_draft",
            blocks.qbr_draft([blocks.section(text)] * 60, draft_id=7, version=3, title=text[:200]),
        ),
    ]


@pytest.mark.parametrize("big", [False, True], ids=["normal", "huge"])
def test_every_message_is_valid_and_within_limits(big: bool) -> None:
    for name, (rendered, fallback) in rendered_cases(big):
        check(rendered)
        assert fallback.strip(), name
        assert len(fallback) <= 3000, name


@pytest.mark.parametrize("big", [False, True], ids=["normal", "huge"])
def test_home_view_is_valid_and_within_100_blocks(big: bool) -> None:
    n, text = (300, HUGE) if big else (3, "short")
    book = [
        BookEntry.of(report(i, band=list(Band)[i % 3], text=text, items=5 if big else 1))
        for i in range(n)
    ]
    view = home_blocks.home_view(
        home_blocks.HomeData(user_id="U1", as_of=AS_OF, book=book, metrics=metrics())
    )
    assert view["type"] == "home"
    check(view["blocks"], max_blocks=100)


def test_empty_home_and_lists_still_render() -> None:
    view = home_blocks.home_view(
        home_blocks.HomeData(user_id="U1", as_of=AS_OF, book=[], metrics=None)
    )
    check(view["blocks"], max_blocks=100)
    assert "don't own any accounts" in str(view)
    for rendered, _ in (
        blocks.at_risk_list([], as_of=AS_OF),
        blocks.expansion_list([], as_of=AS_OF),
        blocks.renewals_list([], as_of=AS_OF, start=AS_OF, end=AS_OF),
    ):
        check(rendered)


def test_health_card_content() -> None:
    rendered, fallback = blocks.health_report(report())
    flat = str(rendered)
    assert "Acme Corp · 48/100 · AMBER" in flat
    assert "Renewal at risk" in flat
    assert "$180,000" in flat
    assert "<@U0CSM001>" in flat
    assert "2026-12-17 (in 45 days)" in flat
    assert "$45,000/year" in flat
    assert "_Licence optimisation_" in flat, "each finding names its playbook"
    assert "AMBER" in fallback
    actions = next(b for b in rendered if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Draft QBR",
        "Show history",
        "Explain",
        "Propose expansion",
        "Share to channel",
    ]


def test_propose_expansion_only_when_there_is_something_to_propose() -> None:
    bare = report().model_copy(update={"expansion": []})
    actions = next(b for b in blocks.health_report(bare)[0] if b["type"] == "actions")
    assert blocks.ACTION_EXPANSION not in {e["action_id"] for e in actions["elements"]}


def test_user_text_is_escaped() -> None:
    rendered, fallback = blocks.health_report(
        report(name="<!channel> & co", text="<@U999> said hi")
    )
    mrkdwn = [fallback]
    for block in rendered:
        objects = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        mrkdwn += [o["text"] for o in objects if isinstance(o, dict) and o.get("type") == "mrkdwn"]
    flat = "\n".join(mrkdwn)
    assert "<!channel>" not in flat
    assert "<@U999>" not in flat
    assert "&lt;!channel&gt; &amp; co" in flat
    assert "&lt;@U999&gt; said hi" in flat


def test_long_lists_get_show_more_with_a_cursor() -> None:
    reports = [report(i) for i in range(40)]
    rendered, _ = blocks.at_risk_list(reports, as_of=AS_OF, mine=True, within_days=30)
    more = [b for b in rendered if b["type"] == "actions"][-1]["elements"][0]
    assert more["action_id"] == blocks.ACTION_MORE_AT_RISK
    assert more["value"] == '{"offset": 15, "mine": true, "within_days": 30}'
    assert "Show more (25)" in more["text"]["text"]


def test_fit_blocks_truncates_centrally() -> None:
    raw = [{"type": "section", "text": {"type": "mrkdwn", "text": HUGE}}] * 80
    more = blocks.actions(blocks.button("Show more", blocks.ACTION_MORE_AT_RISK, "{}"))
    fitted = blocks.fit_blocks(raw, more=more)
    check(fitted)
    assert len(fitted) == 50
    assert fitted[-1] == more
    assert "…and 32 more not shown" in str(fitted[-2])
    header = blocks.fit_blocks([{"type": "header", "text": {"type": "plain_text", "text": HUGE}}])
    assert len(header[0]["text"]["text"]) == 150
    button = blocks.fit_blocks(
        [{"type": "actions", "elements": [{**blocks.button("b", "a" * 300, "v"), "value": HUGE}]}]
    )
    element = button[0]["elements"][0]
    assert len(element["value"]) == 2000
    assert len(element["action_id"]) == 255


def test_one_day_is_singular_everywhere_a_day_count_is_shown() -> None:
    summary = report().account
    for days, said in ((1, "in 1 day"), (-1, "1 day ago"), (0, "today"), (-3, "3 days ago")):
        assert blocks.renewal_label(summary, (summary.renewal_date or AS_OF) - timedelta(days)) == (
            f"{summary.renewal_date} ({said})"
        )


def test_expansion_with_nothing_to_pass_on_does_not_talk_about_sales() -> None:
    empty = report().model_copy(update={"expansion": []})
    rendered, _ = blocks.account_expansion(empty)
    assert "No open expansion opportunities" in str(rendered)
    assert "Sales" not in str(rendered)
    full, _ = blocks.account_expansion(report())
    assert "before passing this to Sales" in str(full)
