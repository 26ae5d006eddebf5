"""Write an approved expansion hand-off to the Notion task database (Notion API 2025-09-03).

Pages are created under the database's first *data source* (``databases.retrieve(...)
["data_sources"][0]["id"]``). The task database's schema belongs to the team, so the title goes
into whichever property is the title, and the optional properties below are filled only when
the data source has them with the right type. The body carries the evidence, the estimate's
formula and the talk track (well under 100 blocks, 2,000 characters per rich-text item).

The page is a delivery in the one delivery ledger (``tools.outbox.handoff_claim``), written by
``bot.notion.NotionSender`` through the task database's publisher: it is looked up by its
"Idempotency key" property before it is created, so a lost answer never makes a second page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.config import Settings
from tools.facts import money_text
from tools.handoff import HandoffCard

if TYPE_CHECKING:
    from bot.notion.publisher import NotionPublisher, PublishedPage

MAX_RICH_TEXT = 2000
# Optional properties of the task database: name -> (Notion type, value of the card).
OPTIONAL_PROPERTIES: dict[str, str] = {
    "Account": "rich_text",
    "Type": "select",
    "Estimated ARR": "number",
    "Hand-off ID": "rich_text",
    "Status": "select",
}


def notion_configured(settings: Settings) -> bool:
    """Whether hand-offs are written to Notion (token and task database set)."""
    return settings.notion_token is not None and bool(settings.notion_task_database_id)


def _text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"content": value[:MAX_RICH_TEXT]}}]


def _property_value(kind: str, card: HandoffCard, name: str) -> dict[str, Any] | None:
    values: dict[str, Any] = {
        "Account": card.account_name,
        "Type": card.kind,
        "Estimated ARR": float(card.estimated_arr),
        "Hand-off ID": f"handoff-{card.handoff_id}",
        "Status": "Sent to Sales",
    }
    value = values[name]
    if kind == "rich_text":
        return {"rich_text": _text(str(value))}
    if kind == "select":
        return {"select": {"name": str(value)[:100]}}
    if kind == "number" and isinstance(value, float):
        return {"number": value}
    return None


def task_properties(card: HandoffCard, schema: dict[str, Any]) -> dict[str, Any]:
    """The page properties for ``card`` given the data source's property ``schema``."""
    title_name = next(
        (name for name, prop in schema.items() if prop.get("type") == "title"), "Name"
    )
    title = f"Expansion: {card.account_name} · {card.title}"
    properties: dict[str, Any] = {title_name: {"title": _text(title)}}
    for name, kind in OPTIONAL_PROPERTIES.items():
        if schema.get(name, {}).get("type") == kind:
            value = _property_value(kind, card, name)
            if value is not None:
                properties[name] = value
    return properties


def task_children(card: HandoffCard, *, slack_link: str | None = None) -> list[dict[str, Any]]:
    """The page body: evidence, estimate and talk track."""

    def block(kind: str, text: str) -> dict[str, Any]:
        return {"object": "block", "type": kind, kind: {"rich_text": _text(text)}}

    children = [block("heading_2", "Evidence")]
    children += [block("bulleted_list_item", e) for e in card.evidence[:40]]
    children += [
        block("heading_2", "Estimated ARR impact"),
        block("paragraph", f"{money_text(card.estimated_arr)} per year. {card.formula}"),
        block("heading_2", "Talk track"),
        block("quote", card.talk_track),
    ]
    if slack_link:
        children.append(block("paragraph", f"Slack: {slack_link}"))
    return children


def write_handoff_page(publisher: NotionPublisher, card: HandoffCard, *, key: str) -> PublishedPage:
    """The hand-off's task page, created once under ``key`` (found again after a lost answer)."""
    properties = task_properties(card, publisher.schema())
    return publisher.create_page(properties, task_children(card), idempotency_key=key)
