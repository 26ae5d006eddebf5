"""The health-trend PNG, the Slack summary of a QBR and the chart upload into a thread."""

from __future__ import annotations

import struct
from datetime import date, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.charts import health_trend_png
from bot.harness.fake_slack import UPLOAD, FakeSlack
from bot.qbr_blocks import qbr_slack_summary, upload_chart
from tools import db
from tools.accounts import resolve_account
from tools.demo import generate_demo
from tools.qbr import HealthPoint, QbrDocument, build_qbr
from tools.results import Band
from tools.scoring_config import load_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TODAY = date(2026, 11, 21)


def _size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.fixture
def acme(sqlite_engine: Engine) -> QbrDocument:
    sessions = db.session_factory(sqlite_engine)
    generate_demo(session_factory=sessions, today=TODAY, accounts=20, months=6, seed=42)
    with sessions() as session:
        account_id = resolve_account(session, query="acme").id or 0
        return build_qbr(session, account_id=account_id, as_of=TODAY, config=load_config(None))


def test_health_trend_png_of_acme(acme: QbrDocument) -> None:
    png = health_trend_png(acme.health.history, title="Acme Corp — health score")
    assert png[:8] == PNG_MAGIC
    assert 10_000 < len(png) < 500_000
    width, height = _size(png)
    assert width >= 800
    assert height >= 350


@pytest.mark.parametrize("count", [0, 1, 2])
def test_short_histories_still_render(count: int) -> None:
    points = [
        HealthPoint(day=TODAY - timedelta(days=14 * i), score=40 + 10 * i, band=Band.RED)
        for i in range(count)
    ]
    assert health_trend_png(points)[:8] == PNG_MAGIC


def test_slack_summary_fits_slack_limits(acme: QbrDocument) -> None:
    blocks = qbr_slack_summary(acme)
    assert 0 < len(blocks) <= 50
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "Acme Corp — Q4 2026 QBR"
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    text = "\n".join(b.get("text", {}).get("text", "") for b in blocks)
    for part in ("Account health", "ROI", "Feature adoption", "Expansion & next steps"):
        assert part in text


def test_slack_summary_of_a_huge_revision_is_clipped(acme: QbrDocument) -> None:
    doc = acme.model_copy(
        update={"health": acme.health.model_copy(update={"narrative": "x " * 5000})}
    )
    for block in qbr_slack_summary(doc):
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def _upload(png: bytes) -> None:
    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.url)
        file_id = upload_chart(client, channel="C0CSM", thread_ts="1700000000.000100", png=png)
        assert file_id is not None
        assert fake.calls_to("files.getUploadURLExternal")
        assert fake.calls_to(UPLOAD)
        complete = fake.calls_to("files.completeUploadExternal")
        assert complete
        assert complete[0].params.get("thread_ts") == "1700000000.000100"
        assert complete[0].params.get("channel_id") == "C0CSM"
        assert not fake.errors


def test_upload_chart_png_into_the_thread(acme: QbrDocument) -> None:
    _upload(health_trend_png(acme.health.history))
