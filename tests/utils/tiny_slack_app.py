"""A tiny Bolt app (one command, one action, one event, one view) and Block Kit helpers for the
harness tests: enough to exercise every payload the driver sends."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond, Say
from slack_sdk import WebClient

SECRET = "harness-test-signing-secret"
TOKEN = "xoxb-harness-test"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, label: str, value: str = "v") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


def tiny_app(client: WebClient, seen: list[dict[str, Any]], secret: str = SECRET) -> App:
    """One command, one action, one event, one view: enough to exercise every payload."""
    app = App(client=client, signing_secret=secret)

    @app.command("/health")
    def health(ack: Ack, respond: Respond, command: dict[str, Any]) -> None:
        ack()
        seen.append(command)
        respond(
            text=f"health of {command['text']}",
            blocks=[
                section(f"*{command['text']}* is GREEN"),
                {"type": "actions", "elements": [button("draft_qbr", "Draft QBR", "acme")]},
            ],
        )

    @app.action("draft_qbr")
    def draft(ack: Ack, body: dict[str, Any], say: Say) -> None:
        ack()
        seen.append(body)
        say(text=f"drafting the QBR for {body['actions'][0]['value']}")

    @app.event("message")
    def message(event: dict[str, Any], say: Say, request: BoltRequest) -> None:
        seen.append({"retry": request.headers.get("x-slack-retry-num"), **event})
        say(text=f"you said {event['text']}", thread_ts=event.get("thread_ts"))

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "Your book"}},
                    {"type": "actions", "elements": [button("draft_qbr", "Draft QBR", "home")]},
                ],
            },
        )

    @app.view("qbr_modal")
    def submitted(ack: Ack, view: dict[str, Any]) -> None:
        ack()
        seen.append(view)

    return app
