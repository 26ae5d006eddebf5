"""Rendering of alert follow-ups: escaped, mentions only from ids, status above the buttons,
and the digest's follow-up line from the same stats as ``csbot alerts stats``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from bot import alert_action_blocks as ab
from bot.alert_blocks import weekly_digest
from bot.cli_alerts import stats_lines
from bot.slack_out import safe_text, sanitize
from tools.alert_actions import ActionView, FollowupView
from tools.alert_outcomes import AlertStats
from tools.alerts.digest import DigestData
from tools.results import BandMix

AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def _view(**values: object) -> FollowupView:
    payload = {
        "text": "Churn risk: Acme",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "alert"}},
            ab.alert_actions("churn_alert:1:2026-03-02"),
        ],
    }
    base: dict[str, object] = {
        "alert_id": 1,
        "account_id": 1,
        "account_name": "Acme <&>",
        "owner_slack_id": "U0CSM001",
        "channel": "C0ALERTS",
        "message_ts": "1.0",
        "payload": payload,
    }
    return FollowupView.model_validate({**base, **values})


def test_mentions_are_made_from_user_ids_only() -> None:
    assert safe_text(ab.mention("U0CSM001")) == "<@U0CSM001>"
    assert safe_text(ab.mention("<!channel>")) == "&lt;!channel&gt;"
    assert ab.mention(None) == "someone"


def test_the_status_goes_above_the_buttons_and_replaces_the_previous_one() -> None:
    view = _view(acknowledged_by="U0CSM001", acknowledged_at=AT, notes=2)
    blocks, _ = ab.updated_alert(view)
    kinds = [b.get("block_id", b["type"]) for b in blocks]
    assert kinds[-2] == ab.BLOCK_FOLLOWUP
    assert str(kinds[-1]).startswith(ab.BLOCK_ACTIONS_PREFIX)
    again, _ = ab.updated_alert(
        view.model_copy(update={"payload": {**view.payload, "blocks": blocks}})
    )
    assert [b.get("block_id") for b in again].count(ab.BLOCK_FOLLOWUP) == 1
    text = sanitize(again[-2])["text"]["text"]  # as the output boundary sends it
    assert "Acknowledged by <@U0CSM001> at 2026-03-02 10:30 UTC" in text
    assert "2 notes logged" in text


def test_a_forged_actor_is_shown_as_text() -> None:
    action = ActionView(kind="acknowledged", actor="<!here>", at=AT, detail={})
    view = _view(acknowledged_by="<!here>", acknowledged_at=AT, actions=[action, action])
    joined = safe_text("\n".join(ab.followup_lines(view)))
    assert "<!here>" not in joined
    assert "&lt;!here&gt;" in joined


def _stats(**values: object) -> AlertStats:
    base: dict[str, object] = dict(
        since=None,
        until=date(2026, 3, 2),
        alerts=4,
        accounts=4,
        acted=1,
        acknowledged=1,
        snoozed=0,
        assigned=0,
        tasks=0,
        notes=0,
        churned=1,
        saved=1,
        renewed_without_action=1,
        pending=1,
        precision=0.667,
        median_hours_to_first_action=5.0,
        p90_hours_to_first_action=5.0,
    )
    return AlertStats.model_validate({**base, **values})


def test_the_digest_and_the_cli_show_the_same_precision() -> None:
    data = DigestData(
        as_of=date(2026, 3, 2),
        week="2026-W10",
        active_accounts=4,
        band_mix=BandMix(green=3, amber=1),
        previous_mix=None,
        new_risks=[],
        renewals_90d=None,
        alert_stats=_stats(),
        expansion_count=0,
        expansion_arr=Decimal(0),
        alerts_sent=4,
    )
    blocks, _ = weekly_digest(data)
    digest = str(blocks)
    assert "precision 67% (3 outcomes known)" in digest
    assert "median 5.0 h to first action" in digest
    assert any("67%" in line for line in stats_lines(_stats()))


def test_the_log_modal_shows_a_messages_mentions_and_links_as_plain_words() -> None:
    from bot.alert_action_blocks import readable_message

    assert readable_message("<!channel> ping <@U0AB|jo> in <#C0AB|general>") == (
        "@channel ping @jo in #general"
    )
    assert readable_message("<https://evil.example|click> &lt;b&gt;") == (
        "click (https://evil.example) &lt;b&gt;"
    )
    assert readable_message("\ue000forged\ue001<!here>\ue002") == "forged@here"
