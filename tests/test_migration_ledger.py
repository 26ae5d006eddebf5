"""Migrations 0012 and 0015: the Notion outbox's rows, tasks' and hand-offs' Notion writes move
into the one delivery ledger (and back on downgrade), on a SQLite file migrated step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command

from tools import db

T0 = "2026-11-20 09:00:00.000000"
T1 = "2026-11-21 09:00:00.000000"


def _rows(conn: sa.Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.text(sql)).mappings().all()]


def _seed(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO account (id, external_id, name, segment, lifecycle_stage, created_at) "
            "VALUES (7, 'acme', 'Acme', 'mid-market', 'mature', :t)"
        ),
        {"t": T0},
    )
    for draft_id, version in ((1, 1), (2, 2), (3, 3)):
        conn.execute(
            sa.text(
                "INSERT INTO qbr_draft (id, account_id, version, sections, status, created_at) "
                "VALUES (:id, 7, :v, '{}', 'draft', :t)"
            ),
            {"id": draft_id, "v": version, "t": T0},
        )
    requests = [
        (1, "queued", 2, T1, "Notion answered 529", None, None),
        (2, "published", 1, None, None, "page-2", "https://notion.so/page2"),
        (3, "failed", 1, None, "Band is not a property", None, None),
    ]
    for draft_id, status, attempts, due, error, page, url in requests:
        conn.execute(
            sa.text(
                "INSERT INTO publish_request (kind, draft_id, idempotency_key, status, attempts, "
                "next_attempt_at, last_error, notion_page_id, notion_url, notify_channel, "
                "created_at, updated_at) VALUES ('qbr', :d, :k, :s, :a, :due, :e, :p, :u, "
                "'C0QBR', :t, :t)"
            ),
            {
                "d": draft_id,
                "k": f"qbr:draft-{draft_id}:v1",
                "s": status,
                "a": attempts,
                "due": due,
                "e": error,
                "p": page,
                "u": url,
                "t": T0,
            },
        )
    tasks = [(11, "pending", None, 1), (12, "written", "page-12", 1), (13, "none", None, 0)]
    for task_id, notion, page, attempts in tasks:
        conn.execute(
            sa.text(
                "INSERT INTO account_task (id, key, account_id, title, detail, status, "
                "created_by, created_at, notion_status, notion_page_id, notion_attempts) "
                "VALUES (:id, :key, 7, 'Follow up', '', 'open', 'U1', :t, :n, :p, :a)"
            ),
            {
                "id": task_id,
                "key": f"alert:{task_id}",
                "t": T0,
                "n": notion,
                "p": page,
                "a": attempts,
            },
        )


def test_outbox_rows_move_into_the_ledger_and_back(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    config = db.alembic_config(engine)
    command.upgrade(config, "0011")
    with engine.begin() as conn:
        _seed(conn)
    command.upgrade(config, "0012")
    with engine.connect() as conn:
        rows = {r["key"]: r for r in _rows(conn, "SELECT * FROM alert ORDER BY key")}
        assert sorted(rows) == [
            "notion_qbr:7:draft-1:v1",
            "notion_qbr:7:draft-2:v2",
            "notion_qbr:7:draft-3:v3",
            "notion_task:7:task-11",
            "notion_task:7:task-12",
        ]
        queued = rows["notion_qbr:7:draft-1:v1"]
        assert (queued["status"], queued["attempts"], queued["last_error"]) == (
            "claimed",
            2,
            "Notion answered 529",
        )
        assert str(queued["next_attempt_at"]).startswith("2026-11-21 09:00")
        assert '"page_key": "qbr:draft-1:v1"' in queued["payload"]
        published = rows["notion_qbr:7:draft-2:v2"]
        assert (published["status"], published["external_id"], published["external_url"]) == (
            "posted",
            "page-2",
            "https://notion.so/page2",
        )
        assert rows["notion_qbr:7:draft-3:v3"]["status"] == "failed"
        pending, written = rows["notion_task:7:task-11"], rows["notion_task:7:task-12"]
        assert (pending["status"], pending["next_attempt_at"] is not None) == ("claimed", True)
        assert (written["status"], written["external_id"]) == ("posted", "page-12")
        tables = sa.inspect(conn).get_table_names()
        assert "publish_request" not in tables
        columns = {c["name"] for c in sa.inspect(conn).get_columns("account_task")}
        assert {"closed_by", "closed_at"} <= columns
        assert not any(c.startswith("notion_") for c in columns)
    command.downgrade(config, "0011")
    with engine.connect() as conn:
        back = _rows(conn, "SELECT draft_id, status, notion_page_id FROM publish_request")
        assert sorted((r["draft_id"], r["status"], r["notion_page_id"]) for r in back) == [
            (1, "queued", None),
            (2, "published", "page-2"),
            (3, "failed", None),
        ]
        tasks = _rows(conn, "SELECT id, notion_status, notion_page_id FROM account_task")
        assert sorted((r["id"], r["notion_status"], r["notion_page_id"]) for r in tasks) == [
            (11, "pending", None),
            (12, "written", "page-12"),
            (13, "none", None),
        ]
        assert _rows(conn, "SELECT key FROM alert") == []
    engine.dispose()


def test_pending_handoff_notion_writes_move_into_the_ledger(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    config = db.alembic_config(engine)
    command.upgrade(config, "0014")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO account (id, external_id, name, segment, lifecycle_stage, "
                "created_at) VALUES (7, 'acme', 'Acme', 'mid-market', 'mature', :t)"
            ),
            {"t": T0},
        )
        for hid, notion, attempts in ((21, "pending", 1), (22, "writing", 2), (23, "written", 1)):
            conn.execute(
                sa.text(
                    "INSERT INTO handoff_proposal (id, account_id, kind, key, title, evidence, "
                    "estimated_arr, talk_track, status, created_at, source, formula, "
                    "notion_status, notion_attempts) VALUES (:id, 7, 'seats', :key, 'T', '[]', "
                    "1000, '', 'sent', :t, 'agent', '', :n, :a)"
                ),
                {"id": hid, "key": f"7:seats:{hid}", "t": T0, "n": notion, "a": attempts},
            )
    command.upgrade(config, "0015")
    with engine.connect() as conn:
        rows = _rows(
            conn,
            "SELECT key, status, attempts, next_attempt_at FROM alert "
            "WHERE kind = 'notion_handoff' ORDER BY key",
        )
        assert [(r["key"], r["status"], r["attempts"]) for r in rows] == [
            ("notion_handoff:7:handoff-21", "claimed", 1),
            ("notion_handoff:7:handoff-22", "claimed", 2),
        ]
        assert all(r["next_attempt_at"] is not None for r in rows)
        shown = _rows(conn, "SELECT id, notion_status FROM handoff_proposal ORDER BY id")
        assert [r["notion_status"] for r in shown] == ["pending", "pending", "written"]
    command.downgrade(config, "0014")
    with engine.connect() as conn:
        assert _rows(conn, "SELECT key FROM alert WHERE kind = 'notion_handoff'") == []
    engine.dispose()
