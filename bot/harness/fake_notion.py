"""A fake Notion API (2025-09-03) behind ``httpx.MockTransport``, strict about Notion's limits.

Run the real ``notion_client.Client`` against it::

    fake = FakeNotion()
    client = fake.client()            # notion_client.Client on the fake transport
    fake.fail_next("POST", "pages", status=529)

It keeps pages, their child blocks and one QBR data source; it refuses what Notion refuses
(more than 100 children in a request, rich-text items over 2,000 characters, a page without its
title property, properties the data source does not have, a ``database_id`` parent) and can
answer 429 with Retry-After, 5xx/529, or time out (``httpx.ReadTimeout``), before or after the
write happened (``after_commit=True``: the write is kept but the answer is lost).
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

CHILDREN_MAX = 100
RICH_TEXT_MAX = 2000
NESTING_MAX = 2

DEFAULT_SCHEMA: dict[str, str] = {
    "Name": "title",
    "Account": "rich_text",
    "Quarter": "select",
    "Health score": "number",
    "Band": "select",
    "ARR": "number",
    "Renewal date": "date",
    "Status": "select",
    "Idempotency key": "rich_text",
}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    body: dict[str, Any]
    status: int = 0


@dataclass
class _Failure:
    method: str
    path: str
    status: int
    code: str
    retry_after: str | None
    timeout: bool
    after_commit: bool


@dataclass
class FakeNotion:
    """The fake: state, failure script and request log. See the module docstring."""

    token: str = "ntn_test_token"  # noqa: S105  (a fake token)
    database_id: str = "11111111-1111-4111-8111-111111111111"
    data_source_id: str = "22222222-2222-4222-8222-222222222222"
    schema: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SCHEMA))
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _failures: list[_Failure] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- wiring --------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering like Notion."""
        return httpx.MockTransport(self.handle)

    def client(self, *, token: str | None = None, **options: Any) -> Any:
        """A real ``notion_client.Client`` on this fake (the SDK's own retries off by default)."""
        from notion_client import Client

        options.setdefault("retry", False)
        options.setdefault("logger", logging.getLogger("bot.harness.fake_notion.sdk"))
        return Client(
            auth=token or self.token, client=httpx.Client(transport=self.transport()), **options
        )

    def fail_next(
        self,
        method: str,
        path: str,
        *,
        status: int = 500,
        code: str | None = None,
        retry_after: int | str | None = None,
        timeout: bool = False,
        after_commit: bool = False,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` requests to ``method`` + path prefix ``path`` fail."""
        default_code = {429: "rate_limited", 400: "validation_error", 401: "unauthorized"}
        for _ in range(times):
            self._failures.append(
                _Failure(
                    method.upper(),
                    path.strip("/"),
                    status,
                    code or default_code.get(status, "internal_server_error"),
                    None if retry_after is None else str(retry_after),
                    timeout,
                    after_commit,
                )
            )

    def reset(self) -> None:
        """Forget pages, their blocks, recorded requests and pending failures."""
        self.pages.clear()
        self.children.clear()
        self.requests.clear()
        self._failures.clear()

    # -- views for tests ----------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        """Requests to ``method`` whose path starts with ``path_prefix``."""
        return [
            r
            for r in self.requests
            if r.method == method.upper() and r.path.startswith(path_prefix.strip("/"))
        ]

    def page_children(self, page_id: str) -> list[dict[str, Any]]:
        """The top-level blocks of a page, in order."""
        return self.children.get(page_id, [])

    def plain_title(self, page_id: str) -> str:
        """The page's title as plain text."""
        props = self.pages[page_id]["properties"]
        title = next(v for k, v in props.items() if self.schema.get(k) == "title")
        return "".join(t["text"]["content"] for t in title["title"])

    # -- the handler ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (the ``MockTransport`` handler)."""
        path = request.url.path.removeprefix("/v1/").strip("/")
        body = json.loads(request.content) if request.content else {}
        if request.url.query:
            body = {**dict(request.url.params), **body}
        record = Recorded(request.method, path, body)
        self.requests.append(record)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(record, 401, "unauthorized", "API token is invalid.")
        if request.headers.get("notion-version") != "2025-09-03":
            return self._error(record, 400, "invalid_request", "Unsupported Notion-Version.")
        failure = self._take_failure(request.method, path)
        if failure is not None and not failure.after_commit:
            if failure.timeout:
                record.status = -1
                raise httpx.ReadTimeout("fake timeout", request=request)
            return self._error(record, failure.status, failure.code, "Injected failure.", failure)
        response = self._route(record)
        if failure is not None:  # after_commit: the write happened, the answer is lost
            record.status = -1
            if failure.timeout:
                raise httpx.ReadTimeout("fake timeout after commit", request=request)
            return self._error(record, failure.status, failure.code, "Injected failure.", failure)
        return response

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for i, f in enumerate(self._failures):
            if f.method == method and path.startswith(f.path):
                return self._failures.pop(i)
        return None

    def _error(
        self,
        record: Recorded,
        status: int,
        code: str,
        message: str,
        failure: _Failure | None = None,
    ) -> httpx.Response:
        record.status = status
        headers = {}
        if failure is not None and failure.retry_after is not None:
            headers["Retry-After"] = failure.retry_after
        payload = {"object": "error", "status": status, "code": code, "message": message}
        return httpx.Response(status, json=payload, headers=headers)

    def _ok(self, record: Recorded, payload: dict[str, Any]) -> httpx.Response:
        record.status = 200
        return httpx.Response(200, json=payload)

    def _route(self, r: Recorded) -> httpx.Response:
        parts = r.path.split("/")
        try:
            if r.method == "GET" and r.path == "users/me":
                return self._ok(
                    r, {"object": "user", "id": "bot-1", "type": "bot", "name": "csbot"}
                )
            if r.method == "GET" and parts[0] == "databases":
                return self._database(r, parts[1])
            if parts[0] == "data_sources" and parts[1] != self.data_source_id:
                return self._error(r, 404, "object_not_found", "Could not find data source.")
            if r.method == "GET" and parts[0] == "data_sources":
                return self._ok(r, self._data_source())
            if r.method == "PATCH" and parts[0] == "data_sources":
                return self._update_data_source(r)
            if r.method == "POST" and parts[0] == "data_sources" and parts[-1] == "query":
                return self._query(r)
            if r.method == "POST" and r.path == "pages":
                return self._create_page(r)
            if r.method == "PATCH" and parts[0] == "pages":
                return self._update_page(r, parts[1])
            if parts[0] == "blocks" and parts[-1] == "children":
                if r.method == "PATCH":
                    return self._append(r, parts[1])
                return self._list(r, parts[1])
        except _InvalidError as exc:
            return self._error(r, 400, "validation_error", str(exc))
        return self._error(r, 400, "invalid_request_url", f"Invalid request URL {r.path}.")

    # -- data sources ---------------------------------------------------------------------------

    def _database(self, r: Recorded, database_id: str) -> httpx.Response:
        if database_id != self.database_id:
            return self._error(r, 404, "object_not_found", "Could not find database.")
        return self._ok(
            r,
            {
                "object": "database",
                "id": self.database_id,
                "title": [{"type": "text", "text": {"content": "QBRs"}, "plain_text": "QBRs"}],
                "data_sources": [{"id": self.data_source_id, "name": "QBRs"}],
            },
        )

    def _data_source(self) -> dict[str, Any]:
        return {
            "object": "data_source",
            "id": self.data_source_id,
            "properties": {
                name: {"id": name, "name": name, "type": kind, kind: {}}
                for name, kind in self.schema.items()
            },
        }

    def _update_data_source(self, r: Recorded) -> httpx.Response:
        for name, change in (r.body.get("properties") or {}).items():
            if change is None:
                self.schema.pop(name, None)
            elif "name" in change and name in self.schema:
                self.schema[change["name"]] = self.schema.pop(name)
            else:
                kinds = [k for k in change if k != "name"]
                if len(kinds) != 1:
                    raise _InvalidError(f"property {name!r} needs exactly one type")
                if kinds[0] == "title" and "title" in self.schema.values():
                    raise _InvalidError("a data source has exactly one title property")
                self.schema[name] = kinds[0]
        return self._ok(r, self._data_source())

    def _query(self, r: Recorded) -> httpx.Response:
        flt = r.body.get("filter") or {}
        prop = flt.get("property")
        if prop is not None and prop not in self.schema:
            raise _InvalidError(f"Could not find property with name or id: {prop}")
        wanted = (flt.get("rich_text") or {}).get("equals")
        results = [
            self._page_object(pid)
            for pid, page in self.pages.items()
            if not page.get("in_trash")
            and (prop is None or _plain(page["properties"].get(prop, {})) == wanted)
        ]
        size = int(r.body.get("page_size") or 100)
        return self._ok(
            r, {"object": "list", "results": results[:size], "has_more": len(results) > size}
        )

    # -- pages and blocks -----------------------------------------------------------------------

    def _new_id(self) -> str:
        n = next(self._ids)
        return f"{n:08x}-0000-4000-8000-{n:012x}"

    def _page_object(self, page_id: str) -> dict[str, Any]:
        page = self.pages[page_id]
        return {
            "object": "page",
            "id": page_id,
            "url": f"https://www.notion.so/{page_id.replace('-', '')}",
            "parent": page["parent"],
            "properties": page["properties"],
        }

    def _check_properties(self, props: dict[str, Any], *, creating: bool) -> None:
        for name, value in props.items():
            kind = self.schema.get(name)
            if kind is None:
                raise _InvalidError(f"{name} is not a property that exists.")
            if kind not in value:
                raise _InvalidError(f"{name} is expected to be {kind}.")
            if kind in ("title", "rich_text"):
                _check_rich_text(value[kind], f"properties.{name}")
        if creating:
            title = next((n for n, k in self.schema.items() if k == "title"), None)
            if title is None or title not in props:
                raise _InvalidError(f"Title property {title!r} is required to create a page.")

    def _create_page(self, r: Recorded) -> httpx.Response:
        parent = r.body.get("parent") or {}
        if "data_source_id" not in parent:
            raise _InvalidError("parent.data_source_id is required (API 2025-09-03).")
        if parent["data_source_id"] != self.data_source_id:
            return self._error(r, 404, "object_not_found", "Could not find data source.")
        props = r.body.get("properties") or {}
        self._check_properties(props, creating=True)
        children = r.body.get("children") or []
        _check_children(children, "children", depth=1)
        page_id = self._new_id()
        self.pages[page_id] = {"parent": parent, "properties": props}
        self.children[page_id] = [_stored(b) for b in children]
        return self._ok(r, self._page_object(page_id))

    def _update_page(self, r: Recorded, page_id: str) -> httpx.Response:
        if page_id not in self.pages:
            return self._error(r, 404, "object_not_found", "Could not find page.")
        props = r.body.get("properties") or {}
        self._check_properties(props, creating=False)
        self.pages[page_id]["properties"].update(props)
        return self._ok(r, self._page_object(page_id))

    def _append(self, r: Recorded, block_id: str) -> httpx.Response:
        if block_id not in self.children:
            return self._error(r, 404, "object_not_found", "Could not find block.")
        children = r.body.get("children") or []
        if not children:
            raise _InvalidError("body.children should be defined.")
        _check_children(children, "children", depth=1)
        stored = [_stored(b) for b in children]
        self.children[block_id].extend(stored)
        return self._ok(r, {"object": "list", "results": stored, "has_more": False})

    def _list(self, r: Recorded, block_id: str) -> httpx.Response:
        if block_id not in self.children:
            return self._error(r, 404, "object_not_found", "Could not find block.")
        size = min(int(r.body.get("page_size") or 100), CHILDREN_MAX)
        start = int(r.body.get("start_cursor") or 0)
        items = self.children[block_id][start : start + size]
        more = start + size < len(self.children[block_id])
        return self._ok(
            r,
            {
                "object": "list",
                "results": items,
                "has_more": more,
                "next_cursor": str(start + size) if more else None,
            },
        )


class _InvalidError(ValueError):
    """A request Notion would refuse with 400 validation_error."""


def _plain(value: dict[str, Any]) -> str:
    items = value.get("rich_text") or value.get("title") or []
    return "".join(i.get("text", {}).get("content", "") for i in items)


def _stored(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    content = {k: v for k, v in block[kind].items() if k != "children"}
    return {
        "object": "block",
        "type": kind,
        kind: content,
        "has_children": bool(block[kind].get("children")),
    }


def _check_rich_text(items: Any, where: str) -> None:
    if not isinstance(items, list):
        raise _InvalidError(f"{where} should be an array.")
    for n, item in enumerate(items):
        content = (item.get("text") or {}).get("content", "")
        if len(content) > RICH_TEXT_MAX:
            raise _InvalidError(
                f"{where}[{n}].text.content.length should be ≤ `{RICH_TEXT_MAX}`, "
                f"instead was `{len(content)}`."
            )


def _check_children(children: Any, where: str, *, depth: int) -> None:
    if not isinstance(children, list):
        raise _InvalidError(f"{where} should be an array.")
    if len(children) > CHILDREN_MAX:
        raise _InvalidError(
            f"{where}.length should be ≤ `{CHILDREN_MAX}`, instead was `{len(children)}`."
        )
    if depth > NESTING_MAX:
        raise _InvalidError(
            f"{where}: at most {NESTING_MAX} levels of nested children per request."
        )
    for n, block in enumerate(children):
        kind = block.get("type")
        if not kind or kind not in block:
            raise _InvalidError(f"{where}[{n}] should define its type.")
        content = block[kind]
        if "rich_text" in content:
            _check_rich_text(content["rich_text"], f"{where}[{n}].{kind}.rich_text")
        if "caption" in content:
            _check_rich_text(content["caption"], f"{where}[{n}].{kind}.caption")
        if kind == "table":
            rows = content.get("children") or []
            if not rows:
                raise _InvalidError(f"{where}[{n}].table.children should be defined.")
            width = content.get("table_width")
            for m, row in enumerate(rows):
                cells = row.get("table_row", {}).get("cells", [])
                if row.get("type") != "table_row" or len(cells) != width:
                    raise _InvalidError(
                        f"{where}[{n}].table.children[{m}] must have {width} cells."
                    )
                for c, cell in enumerate(cells):
                    _check_rich_text(cell, f"{where}[{n}].table.children[{m}].cells[{c}]")
        if "children" in content and kind != "table":
            _check_children(content["children"], f"{where}[{n}].{kind}.children", depth=depth + 1)
        if kind == "table":
            _check_children(content["children"], f"{where}[{n}].table.children", depth=depth + 1)
