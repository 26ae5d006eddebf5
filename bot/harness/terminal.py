"""Slack in a terminal: ``TerminalSlack``, the interactive session behind ``csbot chat``, drives the
real app from typed lines against the fake Slack and shows what it posts
(``bot.harness.render``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from pydantic import SecretStr
from rich.console import Console
from rich.panel import Panel

from bot.harness.block_kit_checks import text_of
from bot.harness.driver import DriverResponse, SlackDriver, serve_app
from bot.harness.fake_slack import BOT_USER_ID, RESPONSE_URL, FakeSlack, SlackCall
from bot.harness.render import Button, buttons_in, render_message

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from slack_bolt import App

    from bot.config import Settings
    from bot.harness.driver import ServedApp
    from tools.db import SessionFactory


AppFactory = Callable[["Settings", "SessionFactory", FakeSlack], "App"]

HELP = """\
[bold]/health acme[/bold]   run a slash command (/health, /churn, /qbr, /expansion, /csbot)
[bold]any text[/bold]       message csbot in a DM (an agent thread; [bold]new[/bold] starts another)
[bold]@csbot text[/bold]    mention csbot in a channel
[bold]1[/bold], [bold]2[/bold] …         press button [N] (numbers stay with their message)
[bold]home[/bold]           open the App Home tab
[bold]help[/bold], [bold]quit[/bold]"""

_FINAL = frozenset(
    {
        RESPONSE_URL,
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.stopStream",
        "views.publish",
        "views.open",
        "views.update",
        "views.push",
    }
)


@dataclass
class _Target:
    """Where a numbered button lives, so that pressing it sends the right payload."""

    button: Button
    channel_id: str
    message_ts: str | None = None
    view: dict[str, Any] | None = None
    message: dict[str, Any] | None = None


@dataclass
class _Turn:
    buttons: list[_Target] = field(default_factory=list)
    saw_final: bool = False
    thinking: bool = False


def _default_app_factory(
    settings: Settings, session_factory: SessionFactory, fake: FakeSlack
) -> App:
    from bot.app import create_app  # lazy: the app is optional for the harness itself
    from bot.slack_out import SafeWebClient

    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    client = SafeWebClient(token=token, base_url=fake.url)
    return create_app(settings, session_factory=session_factory, client=client)


def local_settings(settings: Settings, fake: FakeSlack) -> Settings:
    """``settings`` pointed at the fake Slack, with throwaway credentials for this session."""
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr(f"xoxb-local-{secrets.token_hex(12)}"),
            "slack_signing_secret": SecretStr(secrets.token_hex(16)),
            "slack_app_token": None,
            "slack_client_id": None,  # single workspace: no OAuth installs in a local session
            "slack_client_secret": None,
            "slack_api_url": fake.url,
        }
    )


class TerminalSlack:
    """A one-person Slack workspace in the terminal, backed by the fake API and the real app."""

    def __init__(
        self,
        settings: Settings,
        *,
        session_factory: SessionFactory,
        console: Console | None = None,
        app_factory: AppFactory | None = None,
        user_id: str = "U0CSM001",
        channel_id: str = "C0CSTEAM",
        first_reply_timeout: float = 3.0,
        thinking_timeout: float = 60.0,
        settle: float = 0.5,
    ) -> None:
        self.console = console or Console()
        self.user_id = user_id
        self.channel_id = channel_id
        self.dm_channel = "D" + user_id.removeprefix("U")
        self.first_reply_timeout = first_reply_timeout
        self.thinking_timeout = thinking_timeout
        self.settle = settle
        self.fake = FakeSlack()
        self.settings = local_settings(settings, self.fake)
        self._session_factory = session_factory
        self._app_factory = app_factory or _default_app_factory
        self._served: AbstractContextManager[ServedApp] | None = None
        self._driver: SlackDriver | None = None
        self._seen_calls = 0
        self._seen_errors = 0
        self._streams: dict[str, list[str]] = {}
        self._thread_ts: str | None = None
        self.buttons: list[_Target] = []
        """The buttons of the latest message that had any."""
        self._targets: dict[int, _Target] = {}
        """Every button shown in this session, by its number: numbers are never reused, so
        pressing 1 acts on the message that showed [1] even after later messages arrived."""

    def __enter__(self) -> Self:
        self.fake.start()
        app = self._app_factory(self.settings, self._session_factory, self.fake)
        self._served = serve_app(app)
        served = self._served.__enter__()
        secret = self.settings.slack_signing_secret
        assert secret is not None  # set by local_settings
        self._driver = SlackDriver(served.url, secret.get_secret_value(), fake=self.fake)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._served is not None:
            self._served.__exit__(exc_type, exc, tb)
        self.fake.stop()

    @property
    def driver(self) -> SlackDriver:
        """The signed-request driver (only inside ``with``)."""
        if self._driver is None:
            raise RuntimeError("use TerminalSlack as a context manager")
        return self._driver

    def mark_seen(self) -> None:
        """Treat every call the fake has received so far as shown (e.g. after a job ran)."""
        self._seen_calls = len(self.fake.calls)

    def run(self, read_line: Callable[[str], str] = input) -> None:
        """Read lines until ``quit`` or end of input."""
        self.console.print(Panel(HELP, title="csbot chat — a local Slack", border_style="cyan"))
        while True:
            try:
                line = read_line("you> ")
            except (EOFError, KeyboardInterrupt):
                self.console.print()
                return
            if not self.handle(line):
                return

    def handle(self, line: str) -> bool:
        """Act on one typed line; False when the user wants to quit."""
        line = line.strip()
        self._flush()
        if not line:
            return True
        if line.lower() in {"quit", "exit", ":q"}:
            return False
        if line.lower() == "help":
            self.console.print(HELP)
            return True
        before = len(self.fake.calls)
        response = self._dispatch(line)
        if response is not None:
            self._show_turn(response, before)
        return True

    def _dispatch(self, line: str) -> DriverResponse | None:
        lowered = line.lower()
        if lowered == "home":
            return self.driver.event(
                {
                    "type": "app_home_opened",
                    "user": self.user_id,
                    "channel": self.dm_channel,
                    "tab": "home",
                    "event_ts": f"{time.time():.6f}",
                }
            )
        if lowered == "new":
            self._thread_ts = None
            self.console.print("[dim]new conversation[/dim]")
            return None
        if line.isdigit():
            return self._press(int(line))
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            return self.driver.command(
                command, text.strip(), user_id=self.user_id, channel_id=self.channel_id
            )
        if line.startswith("@"):
            _, _, text = line.partition(" ")
            return self.driver.event(self._message("app_mention", f"<@{BOT_USER_ID}> {text}"))
        return self._direct_message(line)

    def _message(self, kind: str, text: str, **extra: Any) -> dict[str, Any]:
        ts = f"{time.time():.6f}"
        return {
            "type": kind,
            "user": self.user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel": self.channel_id,
            **extra,
        }

    def _direct_message(self, text: str) -> DriverResponse:
        if self._thread_ts is None:
            self._thread_ts = f"{time.time():.6f}"
            self.driver.event(
                {
                    "type": "assistant_thread_started",
                    "assistant_thread": {
                        "user_id": self.user_id,
                        "channel_id": self.dm_channel,
                        "thread_ts": self._thread_ts,
                        "context": {},
                    },
                    "event_ts": self._thread_ts,
                }
            )
        event = self._message(
            "message",
            text,
            channel=self.dm_channel,
            channel_type="im",
            thread_ts=self._thread_ts,
        )
        return self.driver.event(event)

    def _press(self, number: int) -> DriverResponse | None:
        target = self._targets.get(number)
        if target is None:
            self.console.print(f"[yellow]no button [{number}] has been shown[/yellow]")
            return None
        return self.driver.action(
            target.button.action_id,
            target.button.value,
            user_id=self.user_id,
            channel_id=target.channel_id,
            message_ts=target.message_ts,
            block_id=target.button.block_id,
            view=target.view,
            message=target.message,
        )

    # -- showing what Slack would show --------------------------------------------------------

    def _show_turn(self, response: DriverResponse, before: int) -> None:
        turn = _Turn()
        self._seen_calls = max(self._seen_calls, before)
        self._show_ack(response, turn)
        started = time.monotonic()
        quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            limit = self.thinking_timeout if turn.thinking else self.first_reply_timeout
            if turn.saw_final and now - quiet_since >= self.settle:
                break
            if now - started >= limit:
                break
            wait = self.settle if turn.saw_final else min(0.2, limit)
            if self._render_new(self.fake.wait_for_new(self._seen_calls, wait), turn):
                quiet_since = time.monotonic()
        self._show_errors()
        if turn.buttons:
            self.buttons = turn.buttons

    def _flush(self) -> None:
        """Show anything that arrived between turns (late lazy-listener posts)."""
        turn = _Turn()
        self._render_new(self.fake.calls[self._seen_calls :], turn)
        self._show_errors()
        if turn.buttons:
            self.buttons = turn.buttons

    def _show_ack(self, response: DriverResponse, turn: _Turn) -> None:
        if response.status != 200:
            self.console.print(f"[red]the app answered HTTP {response.status}[/red]")
            return
        if not response.body.strip():
            return
        try:
            payload = response.json()
        except ValueError:
            payload = {"text": response.body}
        if isinstance(payload, dict) and (payload.get("text") or payload.get("blocks")):
            turn.saw_final = True
            self._show_message(payload, "only visible to you", turn, channel=self.channel_id)

    def _render_new(self, calls: Sequence[SlackCall], turn: _Turn) -> bool:
        for call in calls:
            self._render_call(call, turn)
        self._seen_calls += len(calls)
        return bool(calls)

    def _render_call(self, call: SlackCall, turn: _Turn) -> None:
        method, params = call.method, call.params
        if not call.response.get("ok", False):
            return  # refused calls are reported by _show_errors
        if method in _FINAL:
            turn.saw_final = True
            turn.thinking = False
        if method == "assistant.threads.setStatus":
            status = str(params.get("status", ""))
            turn.thinking = bool(status)
            if status:
                self.console.print(f"[dim italic]csbot {status}[/dim italic]")
        elif method == "assistant.threads.setSuggestedPrompts":
            prompts = params.get("prompts") or []
            titles = [str(p.get("title", "")) for p in prompts if isinstance(p, Mapping)]
            self.console.print(f"[dim]suggested: {' · '.join(titles)}[/dim]")
        elif method == "chat.startStream":
            self._streams[str(call.response.get("ts"))] = [call.text]
            turn.thinking = True
        elif method == "chat.appendStream":
            self._streams.setdefault(str(params.get("ts")), []).append(call.text)
            turn.thinking = True
        elif method == "chat.stopStream":
            text = "".join(self._streams.pop(str(params.get("ts")), [])) + call.text
            payload = {"text": text, "blocks": call.blocks}
            self._show_message(payload, "csbot", turn, channel=str(params.get("channel")))
        elif method in {"views.publish", "views.open", "views.update", "views.push"}:
            view = call.response.get("view") or {}
            title = "App Home" if method == "views.publish" else text_of(view.get("title"))
            payload = {"text": "", "blocks": call.blocks}
            self._show_message(payload, title, turn, channel=self.dm_channel, view=view)
        elif method in {RESPONSE_URL, "chat.postEphemeral", "chat.postMessage", "chat.update"}:
            self._show_posted(call, turn)
        elif method == "files.completeUploadExternal":
            self.console.print(f"[dim]file shared: {params.get('files', '')}[/dim]")
        elif method == "reactions.add":
            self.console.print(f"[dim]csbot reacted :{params.get('name', '')}:[/dim]")

    def _show_posted(self, call: SlackCall, turn: _Turn) -> None:
        params = call.params
        payload = {"text": call.text, "blocks": call.blocks}
        if call.method == RESPONSE_URL:
            if params.get("delete_original") in (True, "true"):
                self.console.print("[dim](message removed)[/dim]")
                return
            visible = params.get("response_type") == "in_channel"
            title = "csbot" if visible else "csbot · only visible to you"
            self._show_message(payload, title, turn, channel=self.channel_id)
            return
        channel = str(params.get("channel") or self.channel_id)
        if call.method == "chat.postEphemeral":
            self._show_message(payload, "csbot · only visible to you", turn, channel=channel)
            return
        ts = str(call.response.get("ts") or params.get("ts") or "")
        where = " (in thread)" if params.get("thread_ts") else ""
        title = f"csbot in {channel}{where}" + (" (edited)" if call.method == "chat.update" else "")
        self._show_message(payload, title, turn, channel=channel, message_ts=ts)

    def _show_message(
        self,
        payload: Mapping[str, Any],
        title: str,
        turn: _Turn,
        *,
        channel: str,
        message_ts: str | None = None,
        view: dict[str, Any] | None = None,
    ) -> None:
        blocks = payload.get("blocks") or []
        text = str(payload.get("text") or "")
        first = len(self._targets) + 1
        self.console.print(
            Panel(
                render_message(blocks, text, first_button=first),
                title=title,
                title_align="left",
                border_style="green" if view is None else "magenta",
            )
        )
        message = {"type": "message", "ts": message_ts, "text": text, "blocks": blocks}
        for button in buttons_in(blocks, first=first):
            target = _Target(
                button,
                channel,
                message_ts,
                view,
                None if view is not None or message_ts is None else message,
            )
            self._targets[button.number] = target
            turn.buttons.append(target)

    def _show_errors(self) -> None:
        for error in self.fake.errors[self._seen_errors :]:
            refused = f"[red]Slack refused {error.method}: {error.error}[/red]"
            self.console.print(f"{refused} [dim]({error.detail})[/dim]")
        self._seen_errors = len(self.fake.errors)
