"""Slack summary of a QBR document (Block Kit dicts) and the chart upload into its thread.

Only the summary: the "Publish to Notion" button and the message around it belong to
``bot.blocks``. Every text stays inside Slack's limits (≤ 50 blocks, section text ≤ 3,000).
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from tools.facts import money_text
from tools.qbr import QbrDocument
from tools.wording import days_from_now

SECTION_MAX = 3000
HEADER_MAX = 150
BLOCKS_MAX = 50
BAND_EMOJI = {
    "GREEN": ":large_green_circle:",
    "AMBER": ":large_orange_circle:",
    "RED": ":red_circle:",
}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_MAX)}}


def _lines(items: list[str], limit: int = 5) -> str:
    shown = [f"• {_esc(i)}" for i in items[:limit]]
    if len(items) > limit:
        shown.append(f"_… and {len(items) - limit} more_")
    return "\n".join(shown)


def qbr_slack_summary(doc: QbrDocument) -> list[dict[str, Any]]:
    """Header, key facts and one short section per QBR part, ready for ``chat.postMessage``."""
    h, r, a, e = doc.health, doc.roi, doc.adoption, doc.expansion
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(doc.title, HEADER_MAX)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"{_esc(doc.account.name)} · {doc.period_start} to {doc.period_end}"
                        + (f" · draft v{doc.version}" if doc.version else "")
                        + f" · narratives: {doc.narratives_by}",
                        2000,
                    ),
                }
            ],
        },
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*Health*\n{BAND_EMOJI[h.band.value]} "
                    f"{h.score:.0f}/100 ({h.band.value})",
                },
                {"type": "mrkdwn", "text": f"*Band trend*\n{_esc(h.band_trend)}"},
                {"type": "mrkdwn", "text": f"*ARR*\n{money_text(doc.account.arr)}"},
                {
                    "type": "mrkdwn",
                    "text": "*Renewal*\n"
                    + (
                        f"{e.renewal.renewal_date} ({days_from_now(e.renewal.days_to_renewal)})"
                        if e.renewal.renewal_date
                        else "n/a"
                    ),
                },
            ],
        },
        {"type": "divider"},
    ]
    if doc.executive_summary:
        blocks.append(_section(f"*Executive summary*\n{_esc(doc.executive_summary)}"))
    movers = [f"{m.label}: {m.points:+.1f} pts" for m in h.movers]
    blocks.append(_section(f"*Account health*\n{_esc(h.narrative)}\n{_lines(movers, 4)}"))
    value = [f"{m.label}: {m.value}" for m in r.metrics]
    blocks.append(_section(f"*ROI & business impact*\n{_esc(r.narrative)}\n{_lines(value, 4)}"))
    gaps = [f"{u.name}: {u.adoption:.0%} vs {u.benchmark:.0%} benchmark" for u in a.under_used]
    blocks.append(_section(f"*Feature adoption*\n{_esc(a.narrative)}\n{_lines(gaps, 4)}"))
    steps = [f"{x.title} ({x.owner})" for x in e.actions]
    blocks.append(_section(f"*Expansion & next steps*\n{_esc(e.narrative)}\n{_lines(steps, 5)}"))
    if doc.overrides:
        revised = ", ".join(sorted(doc.overrides))
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Revised: {revised}"}]}
        )
    return blocks[:BLOCKS_MAX]


def upload_chart(
    client: WebClient, *, channel: str, thread_ts: str | None, png: bytes
) -> str | None:
    """Upload the health-trend PNG into the thread (``files_upload_v2``); returns the file id."""
    response = client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        content=png,
        filename="health-trend.png",
        title="Health score trend",
    )
    file = response.get("file") or {}
    return str(file.get("id")) if file.get("id") else None
