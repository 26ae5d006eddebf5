"""A minimal, versioned QBR draft: four markdown sections built from the scoring numbers.

Every revision is a new ``QbrDraft`` row with the next version, so nothing a CSM wrote is lost.
Drafts are only drafts: publishing is a person's click, elsewhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from tools.models import (
    Account,
    Feature,
    FeatureUsage,
    QbrDraft,
    QbrDraftStatus,
    UsageDaily,
    utcnow,
)
from tools.results import AccountReport

SECTIONS: tuple[str, ...] = (
    "health_summary",
    "roi_impact",
    "adoption_scorecard",
    "expansion_next_steps",
)
SECTION_TITLES = {
    "health_summary": "Health summary",
    "roi_impact": "ROI & impact",
    "adoption_scorecard": "Adoption scorecard",
    "expansion_next_steps": "Expansion & next steps",
}
TIER_ORDER = {"starter": 0, "pro": 1, "enterprise": 2}
MAX_SECTION_CHARS = 6_000


class QbrError(ValueError):
    """A QBR request that cannot be met (unknown section, no draft yet)."""


class FeatureAdoption(BaseModel):
    """How much of the account uses one feature over a window."""

    feature: str
    name: str
    tier: str
    in_plan: bool
    users: int
    events: int
    adoption: float
    benchmark: float


class QbrDraftView(BaseModel):
    """One version of a draft, as tools and renderers see it."""

    draft_id: int
    account_id: int
    account_name: str | None = None
    version: int
    status: str
    sections: dict[str, str]


def _money(amount: Decimal) -> str:
    return f"${amount:,.0f}"


def feature_adoption(
    session: Session, *, account_id: int, as_of: date, plan: str | None, window_days: int = 30
) -> list[FeatureAdoption]:
    """Per feature: peak users / peak active users over the window ending ``as_of``."""
    since = as_of - timedelta(days=window_days - 1)
    peak_active = session.exec(
        select(func.max(UsageDaily.active_users)).where(
            UsageDaily.account_id == account_id,
            col(UsageDaily.day) >= since,
            col(UsageDaily.day) <= as_of,
        )
    ).one()
    usage_rows = session.exec(
        select(FeatureUsage.feature_id, func.max(FeatureUsage.users), func.sum(FeatureUsage.events))
        .where(
            FeatureUsage.account_id == account_id,
            col(FeatureUsage.day) >= since,
            col(FeatureUsage.day) <= as_of,
        )
        .group_by(col(FeatureUsage.feature_id))
    ).all()
    used = {fid: (int(users or 0), int(events or 0)) for fid, users, events in usage_rows}
    plan_rank = TIER_ORDER.get(plan or "", 0)
    result = []
    for feature in session.exec(select(Feature).order_by(col(Feature.key))).all():
        users, events = used.get(feature.id or 0, (0, 0))
        base = max(int(peak_active or 0), 1)
        result.append(
            FeatureAdoption(
                feature=feature.key,
                name=feature.name,
                tier=feature.tier,
                in_plan=TIER_ORDER.get(feature.tier, 0) <= plan_rank,
                users=users,
                events=events,
                adoption=round(min(users / base, 1.0), 3),
                benchmark=feature.benchmark_adoption,
            )
        )
    return sorted(result, key=lambda f: (-f.adoption, f.feature))


def build_sections(report: AccountReport, adoption: list[FeatureAdoption]) -> dict[str, str]:
    """The four QBR sections as markdown, every number taken from ``report`` and ``adoption``."""
    return {
        "health_summary": _health_summary(report),
        "roi_impact": _roi_impact(report),
        "adoption_scorecard": _adoption_scorecard(adoption),
        "expansion_next_steps": _expansion_next_steps(report),
    }


def _health_summary(report: AccountReport) -> str:
    health, churn = report.health, report.churn
    lines = [f"**Health: {health.score:.0f}/100 ({health.band.value})** as of {health.as_of}."]
    if health.trend_90d is not None:
        lines.append(f"Change over 90 days: {health.trend_90d:+.0f} points.")
    lines += [f"- {d.text} ({d.impact:+.0f})" for d in health.drivers[:4]]
    lines.append(f"Churn risk: **{churn.level.value}**.")
    lines += [f"- {t.label}: {t.evidence}" for t in churn.triggers[:4]]
    return "\n".join(lines)


def _roi_impact(report: AccountReport) -> str:
    acct = report.account
    lines = [f"Plan: {acct.plan or 'n/a'}, ARR {_money(acct.arr)}."]
    if acct.seats_purchased:
        used = acct.seats_used if acct.seats_used is not None else 0
        share = used / acct.seats_purchased
        lines.append(f"Seats in use: {used} of {acct.seats_purchased} ({share:.0%}).")
    for finding in report.lean:
        if finding.annual_cost:
            lines.append(f"- {finding.title}: {_money(finding.annual_cost)}/year")
        else:
            lines.append(f"- {finding.title}")
    return "\n".join(lines)


def _adoption_scorecard(adoption: list[FeatureAdoption]) -> str:
    rows = ["| Feature | Adoption | Benchmark |", "|---|---|---|"]
    for item in [a for a in adoption if a.in_plan][:10]:
        mark = "✅" if item.adoption >= item.benchmark else "⚠️"
        rows.append(f"| {item.name} | {item.adoption:.0%} {mark} | {item.benchmark:.0%} |")
    if len(rows) == 2:
        return "No feature usage recorded in the last 30 days."
    return "\n".join(rows)


def _expansion_next_steps(report: AccountReport) -> str:
    lines = []
    for opp in report.expansion[:3]:
        lines.append(f"- **{opp.title}** (est. {_money(opp.estimated_arr)} ARR): {opp.formula}")
    for finding in report.lean[:2]:
        lines.append(f"- {finding.playbook.title}: {finding.playbook.goal}")
    if report.account.renewal_date:
        lines.append(f"- Renewal on {report.account.renewal_date}: agree the renewal plan.")
    return "\n".join(lines) or "- Agree success goals for next quarter."


def _view(draft: QbrDraft, account_name: str | None = None) -> QbrDraftView:
    return QbrDraftView(
        draft_id=draft.id or 0,
        account_id=draft.account_id,
        account_name=account_name,
        version=draft.version,
        status=draft.status,
        sections={k: str(v) for k, v in draft.sections.items()},
    )


def latest_draft(session: Session, *, account_id: int) -> QbrDraft | None:
    """The newest draft (status draft) of the account, or None."""
    return session.exec(
        select(QbrDraft)
        .where(QbrDraft.account_id == account_id, QbrDraft.status == QbrDraftStatus.DRAFT.value)
        .order_by(col(QbrDraft.version).desc())
    ).first()


def next_version(session: Session, account_id: int) -> int:
    """The version number the account's next QBR draft gets."""
    top = session.exec(
        select(func.max(QbrDraft.version)).where(QbrDraft.account_id == account_id)
    ).one()
    return int(top or 0) + 1


def create_draft(
    session: Session,
    *,
    report: AccountReport,
    adoption: list[FeatureAdoption],
    thread_key: str | None = None,
    created_by: str | None = None,
) -> QbrDraftView:
    """A new draft version for the report's account, built from its numbers."""
    account_id = report.account.account_id
    draft = QbrDraft(
        account_id=account_id,
        version=next_version(session, account_id),
        sections=build_sections(report, adoption),
        thread_key=thread_key,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(draft)
    session.flush()
    return _view(draft, report.account.name)


def revise_section(
    session: Session,
    *,
    account_id: int,
    section: str,
    text: str,
    created_by: str | None = None,
) -> QbrDraftView:
    """A new version of the latest draft with ``section`` replaced by ``text``."""
    if section not in SECTIONS:
        raise QbrError(f"unknown section {section!r}; sections are {', '.join(SECTIONS)}")
    current = latest_draft(session, account_id=account_id)
    if current is None:
        raise QbrError("this account has no QBR draft yet; create one with draft_qbr first")
    sections = dict(current.sections)
    sections[section] = text.strip()[:MAX_SECTION_CHARS]
    draft = QbrDraft(
        account_id=account_id,
        version=next_version(session, account_id),
        sections=sections,
        thread_key=current.thread_key,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(draft)
    session.flush()
    return _view(draft)


def discard_draft(session: Session, *, draft_id: int) -> bool:
    """Mark every still-open version of the draft's account up to this one discarded.

    Guarded: only versions in status ``draft`` change, so a double click or a Slack retry
    discards once; returns whether anything changed.
    """
    draft = session.get(QbrDraft, draft_id)
    if draft is None or draft.status != QbrDraftStatus.DRAFT.value:
        return False
    result = session.execute(
        update(QbrDraft)
        .where(
            col(QbrDraft.account_id) == draft.account_id,
            col(QbrDraft.version) <= draft.version,
            col(QbrDraft.status) == QbrDraftStatus.DRAFT.value,
        )
        .values(status=QbrDraftStatus.DISCARDED.value)
    )
    session.flush()
    return bool(getattr(result, "rowcount", 0))


def draft_view(session: Session, *, draft_id: int) -> QbrDraftView | None:
    """One draft version by id, or None."""
    draft = session.get(QbrDraft, draft_id)
    if draft is None:
        return None
    account = session.get(Account, draft.account_id)
    return _view(draft, account.name if account is not None else None)
