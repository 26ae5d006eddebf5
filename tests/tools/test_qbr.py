"""The QBR document model, its versions and its Markdown/JSON/Notion renderings (demo Acme)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tools import db
from tools.accounts import resolve_account
from tools.demo import generate_demo
from tools.models import Feature, QbrDocumentRecord, QbrDraft
from tools.qbr import (
    QbrDocument,
    SectionKey,
    build_qbr,
    create_qbr_draft,
    load_qbr,
    quarter_label,
    save_qbr,
)
from tools.qbr_draft import SECTIONS, QbrError, revise_section
from tools.qbr_render import render_markdown, render_notion_blocks, section_markdown
from tools.scoring import account_report
from tools.scoring_config import load_config

TODAY = date(2026, 11, 21)
CONFIG = load_config(None)


@pytest.fixture
def sessions(engine: Engine) -> db.SessionFactory:
    factory = db.session_factory(engine)
    generate_demo(session_factory=factory, today=TODAY, accounts=20, months=6, seed=42)
    return factory


def _acme(session: Session) -> int:
    return resolve_account(session, query="acme").id or 0


def _doc(sessions: db.SessionFactory) -> QbrDocument:
    with sessions() as session:
        return build_qbr(session, account_id=_acme(session), as_of=TODAY, config=CONFIG)


def test_quarter_label() -> None:
    assert quarter_label(date(2026, 11, 21)) == "Q4 2026"
    assert quarter_label(date(2027, 1, 1)) == "Q1 2027"
    assert quarter_label(date(2026, 6, 30)) == "Q2 2026"


def test_acme_qbr_numbers_come_from_the_tools(sessions: db.SessionFactory) -> None:
    doc = _doc(sessions)
    with sessions() as session:
        report = account_report(session, account_id=_acme(session), as_of=TODAY, config=CONFIG)
        benchmarks = dict(session.exec(select(Feature.key, Feature.benchmark_adoption)).all())
    assert doc.title == "Acme Corp — Q4 2026 QBR"
    assert doc.health.score == round(report.health.score, 1)
    assert doc.health.band == report.health.band
    assert doc.health.churn_level == report.churn.level.value
    days = [p.day for p in doc.health.history]
    assert days == sorted(days)
    assert days[-1] == TODAY
    assert len(days) >= 6
    assert doc.health.movers, "the quarter's score change is explained by signals"
    assert doc.roi.arr == report.account.arr
    assert doc.roi.hours_saved > 0
    assert doc.roi.value_of_time > 0
    assert any("minutes" in a for a in doc.roi.assumptions)
    assert {r.feature: r.benchmark for r in doc.adoption.rows} == benchmarks
    assert all(u.adoption < u.benchmark for u in doc.adoption.under_used)
    assert [o.key for o in doc.expansion.opportunities] == sorted(
        (o.key for o in report.expansion),
        key=lambda k: -next(o.estimated_arr for o in report.expansion if o.key == k),
    )
    assert doc.expansion.renewal.renewal_date == report.account.renewal_date
    assert doc.expansion.actions[0].title == "Agree the renewal plan"  # renews in ~45 days
    for text in (doc.health.narrative, doc.roi.narrative, doc.adoption.narrative):
        assert text
        assert 1 <= len(re.findall(r"[.!?](?:\s|$)", text)) <= 3


class _Claude:
    name = "claude"

    def narrative(self, section: SectionKey, document: QbrDocument) -> str:
        if section == "roi_impact":
            raise RuntimeError("model unavailable")
        return f"Claude on {section}."


def test_narrative_source_is_used_and_the_template_fills_its_gaps(
    sessions: db.SessionFactory,
) -> None:
    with sessions() as session:
        doc = build_qbr(
            session, account_id=_acme(session), as_of=TODAY, config=CONFIG, narratives=_Claude()
        )
    assert doc.health.narrative == "Claude on health_summary."
    assert doc.roi.narrative.startswith("Over the last 91 days")  # template fallback
    assert doc.narratives_by == "claude"


def test_versions_and_revisions(sessions: db.SessionFactory) -> None:
    with db.session_scope(sessions) as session:
        acme = _acme(session)
        v1 = create_qbr_draft(session, account_id=acme, as_of=TODAY, config=CONFIG)
        v2 = create_qbr_draft(session, account_id=acme, as_of=TODAY, config=CONFIG)
        v3 = revise_section(
            session, account_id=acme, section="roi_impact", text="We saved **lots** of time."
        )
    assert (v1.version, v2.version, v3.version) == (1, 2, 3)
    assert set(SECTIONS) <= set(v1.sections)
    with sessions() as session:
        assert len(session.exec(select(QbrDocumentRecord)).all()) == 2
        first = load_qbr(session, draft_id=v1.draft_id)
        revised = load_qbr(session, draft_id=v3.draft_id)
    assert first.overrides == {}
    assert first.version == 1
    assert revised.overrides == {"roi_impact": "We saved **lots** of time."}
    assert "We saved **lots** of time." in render_markdown(revised)
    assert section_markdown(revised)["health_summary"] == v2.sections["health_summary"]
    blocks = render_notion_blocks(revised)
    texts = [
        "".join(t["text"]["content"] for t in b[b["type"]].get("rich_text", [])) for b in blocks
    ]
    assert "We saved lots of time." in texts


def test_old_agent_draft_without_a_document(sessions: db.SessionFactory) -> None:
    with db.session_scope(sessions) as session:
        draft = QbrDraft(account_id=_acme(session), version=1, sections={"roi_impact": "Old."})
        session.add(draft)
        session.flush()
        draft_id = draft.id or 0
    with sessions() as session:
        with pytest.raises(QbrError, match="no document"):
            load_qbr(session, draft_id=draft_id)
        rebuilt = load_qbr(session, draft_id=draft_id, config=CONFIG)
        with pytest.raises(QbrError, match="no QBR draft"):
            load_qbr(session, draft_id=999)
    assert rebuilt.overrides == {"roi_impact": "Old."}


def test_acme_renders_as_markdown_json_and_notion(sessions: db.SessionFactory) -> None:
    doc = _doc(sessions)
    md = render_markdown(doc)
    assert md.startswith("# Acme Corp — Q4 2026 QBR")
    for heading in (
        "## Account health summary",
        "## ROI & business impact",
        "## Feature adoption scorecard",
        "## Expansion & next steps",
    ):
        assert heading in md
    assert "| Feature | Tier | Users | Adoption | Benchmark | Status |" in md
    assert "**Assumptions**" in md
    assert QbrDocument.model_validate_json(doc.model_dump_json()) == doc
    blocks = render_notion_blocks(doc, chart_url="https://example.com/chart.png")
    kinds = {b["type"] for b in blocks}
    assert {"heading_2", "heading_3", "paragraph", "bulleted_list_item", "callout"} <= kinds
    assert {"table", "divider", "image"} <= kinds
    for table in (b["table"] for b in blocks if b["type"] == "table"):
        rows = table["children"]
        assert all(len(r["table_row"]["cells"]) == table["table_width"] for r in rows)
    adoption = [b for b in blocks if b["type"] == "table"][1]["table"]["children"]
    assert len(adoption) == 1 + len([r for r in doc.adoption.rows if r.in_plan or r.users])


def test_cli_writes_markdown_json_and_chart(sqlite_engine: Engine, tmp_path: Path) -> None:
    from bot.cli import app

    url = str(sqlite_engine.url)
    generate_demo(
        session_factory=db.session_factory(sqlite_engine), today=TODAY, accounts=20, months=6
    )
    out, chart = tmp_path / "acme.md", tmp_path / "acme.png"
    runner = CliRunner()
    args = ["qbr", "acme", "--db", url, "--date", "2026-11-21"]
    result = runner.invoke(app, [*args, "--out", str(out), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# Acme Corp — Q4 2026 QBR")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = runner.invoke(app, [*args, "--format", "json", "--no-save"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["quarter"] == "Q4 2026"
    with db.session_factory(sqlite_engine)() as session:
        versions = session.exec(select(QbrDraft.version).order_by(col(QbrDraft.version))).all()
    assert versions == [1]
    unknown = runner.invoke(app, ["qbr", "no-such-account-xyz", "--db", url])
    assert unknown.exit_code == 1


def test_save_qbr_returns_a_view(sessions: db.SessionFactory) -> None:
    doc = _doc(sessions)
    with db.session_scope(sessions) as session:
        view = save_qbr(session, document=doc, thread_key="C1:1.0", created_by="U1")
    assert view.account_name == "Acme Corp"
    assert view.version == 1
    assert view.sections["roi_impact"].startswith("Over the last 91 days")


def test_prep_doc_carries_the_voice_of_the_customer_and_nothing_after_its_date(
    sessions: db.SessionFactory,
) -> None:
    from datetime import UTC, datetime

    from tools.models import Interaction

    with sessions() as session:
        acme = _acme(session)
        session.add(
            Interaction(
                external_id="future-call",
                account_id=acme,
                kind="call",
                occurred_at=datetime(2026, 11, 25, 15, tzinfo=UTC),  # after the QBR's date
                summary="A call from the future",
            )
        )
        session.commit()
    prep = _doc(sessions).prep
    assert "**Voice of the customer**" in prep["prep.themes"]
    assert "A call from the future" not in prep["prep.interactions"]
