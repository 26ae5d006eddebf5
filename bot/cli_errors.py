"""One error style for every ``csbot`` command: an exception becomes one to three lines (what
failed, the likely cause, what to do) on stderr and exit code 1. ``--debug`` or
``LOG_LEVEL=DEBUG`` shows the traceback instead.

Secrets never appear: settings errors name the variable and the rule it broke, never the value,
and database URLs are shown with their password hidden.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Problem:
    """What failed, why it probably failed, and what to do about it."""

    what: str
    cause: str
    fix: str

    def lines(self) -> list[str]:
        """At most three lines; the last one says how to see the traceback."""
        fix = self.fix if "--debug" in self.fix else f"{self.fix} (--debug shows the traceback)"
        return [line for line in (self.what, self.cause, fix) if line]


_database_url: str | None = None


def remember_database(url: str | None) -> None:
    """The database URL the running command opened (for connection errors)."""
    global _database_url
    _database_url = url


def shown_url(url: str | None) -> str:
    """``url`` with its password hidden (or a placeholder when there is none)."""
    if not url:
        return "the database"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show only its scheme
        return url.split("://", 1)[0] + "://…" if "://" in url else "the database"


def debug_requested(argv: list[str] | None = None) -> bool:
    """``--debug`` on the command line, or LOG_LEVEL=DEBUG in the environment."""
    level = os.environ.get("LOG_LEVEL", "")
    return level.strip().upper() == "DEBUG" or "--debug" in (argv or [])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _settings_problem(exc: ValidationError) -> Problem:
    where: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error.get("loc", ())).upper() or exc.title
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        where.append(f"{name}: {message}")
    return Problem(
        f"Configuration error in {exc.title}: " + "; ".join(where[:3]),
        "A value in the environment or in .env is invalid.",
        "Fix it in .env (or unset it), then run the command again. See README.md, Configuration.",
    )


def _database_problem(exc: sa_exc.DBAPIError) -> Problem:
    url = shown_url(_database_url)
    cause = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
    if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
        return Problem(
            f"Cannot use the database {url}.",
            f"Likely cause: the server is not reachable or refused us ({cause}).",
            "Check DATABASE_URL (or --db) and that the server is running; "
            "for a local try, use a SQLite file: --db csbot.db.",
        )
    return Problem(
        f"The database {url} refused an operation.",
        f"Likely cause: {cause}",
        "Run `csbot db upgrade` to bring the schema up to date; run with --debug for details.",
    )


_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
}


def _network_problem(exc: BaseException) -> Problem:
    host = ""
    with contextlib.suppress(AttributeError, RuntimeError):  # no httpx request attached
        host = f" to {exc.request.url.host}"  # type: ignore[attr-defined]
    return Problem(
        f"A network request{host} failed.",
        f"Likely cause: no network, a proxy or a firewall ({_first_line(exc)}).",
        "Check the connection (and HTTPS_PROXY), then run the command again.",
    )


def _is_network(exc: BaseException) -> bool:
    import httpx

    if isinstance(exc, httpx.TransportError | socket.gaierror | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return True
    try:
        from notion_client.errors import RequestTimeoutError

        if isinstance(exc, RequestTimeoutError):
            return True
    except ImportError:  # pragma: no cover - notion-client is a dependency
        pass
    from urllib.error import URLError

    return isinstance(exc, URLError)


def describe(exc: BaseException) -> Problem:
    """The short explanation of ``exc`` a person sees instead of a traceback."""
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, ValidationError):
        return _settings_problem(exc)
    if isinstance(exc, sa_exc.DBAPIError):
        return _database_problem(exc)
    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return Problem(
            f"DATABASE_URL is not a usable database URL ({_first_line(exc)}).",
            "Likely cause: a typo in the URL or a driver that is not installed.",
            "Use sqlite:///path/to/csbot.db or postgresql://user@host:5432/name.",
        )
    if isinstance(exc, PermissionError):
        target = exc.filename or "a file"
        return Problem(
            f"Permission denied: {target}.",
            "Likely cause: the file or its folder belongs to another user or is read-only.",
            "Fix its permissions, or point the command at a path you can write "
            "(e.g. --db ./csbot.db).",
        )
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if exc.response is not None else None
        return Problem(
            f"Slack refused a request ({error or 'error'}).",
            "Likely cause: SLACK_BOT_TOKEN is wrong, revoked, or lacks a scope in manifest.yml.",
            "Check the token in .env and reinstall the app from manifest.yml.",
        )
    if _is_network(exc):
        return _network_problem(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return Problem(
            "Cannot listen: the address is already in use.",
            "Likely cause: another csbot (or another server) already uses that port.",
            "Stop it, or pick another port with --port.",
        )
    if isinstance(exc, OSError):
        target = f" on {exc.filename}" if exc.filename else ""
        return Problem(
            f"The system refused an operation{target}.",
            f"Likely cause: {exc.strerror or _first_line(exc)}.",
            "Check the path and the disk, then run the command again.",
        )
    return Problem(
        f"Unexpected error: {type(exc).__name__}: {_first_line(exc)}",
        "",
        "Run again with --debug for the traceback, and please report it.",
    )
