"""The facts an answer must contain, computed from the demo with the deterministic tools, and
how an answer is checked for them (numbers and dates compared after normalising formats)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session

from tools.accounts import resolve_account
from tools.facts import money_text
from tools.insights import quiet_accounts, score_change, ticket_summary
from tools.metrics import portfolio_metrics
from tools.narrative_check import DateMention, Quantity, numbers_in
from tools.results import AccountReport
from tools.scoring import account_report, at_risk_accounts
from tools.scoring_config import ScoringConfig


class Facts:
    """Deterministic facts of the demo portfolio as of one day."""

    def __init__(self, session: Session, *, as_of: date, config: ScoringConfig) -> None:
        self.session, self.as_of, self.config = session, as_of, config
        self._reports: dict[str, AccountReport] = {}

    def report(self, name: str) -> AccountReport:
        if name not in self._reports:
            account_id = resolve_account(self.session, query=name).id or 0
            self._reports[name] = account_report(
                self.session, account_id=account_id, as_of=self.as_of, config=self.config
            )
        return self._reports[name]

    def name(self, name: str) -> str:
        return self.report(name).account.name

    def score(self, name: str) -> str:
        return f"{self.report(name).health.score:.0f}"

    def band(self, name: str) -> str:
        return self.report(name).health.band.value

    def level(self, name: str) -> str:
        return self.report(name).churn.level.value

    def renewal(self, name: str) -> str:
        day = self.report(name).account.renewal_date
        return day.isoformat() if day else "n/a"

    def arr(self, name: str) -> str:
        return money_text(self.report(name).account.arr)

    def arr_at_risk(self, name: str) -> str:
        return money_text(self.report(name).churn.arr_at_risk)

    def trigger(self, name: str) -> str:
        triggers = self.report(name).churn.triggers
        return triggers[0].label if triggers else "no trigger"

    def seats(self, name: str) -> str:
        return str(self.report(name).account.seats_purchased)

    def muda(self, name: str) -> str:
        costs = [f.annual_cost for f in self.report(name).lean if f.annual_cost]
        return money_text(costs[0]) if costs else "n/a"

    def opportunity(self, name: str) -> str:
        opps = self.report(name).expansion
        return money_text(opps[0].estimated_arr) if opps else "n/a"

    def nrr(self) -> str:
        value = portfolio_metrics(self.session, as_of=self.as_of, config=self.config).nrr
        return f"{value:.0%}" if value is not None else "n/a"

    def grr(self) -> str:
        value = portfolio_metrics(self.session, as_of=self.as_of, config=self.config).grr
        return f"{value:.0%}" if value is not None else "n/a"

    def active_accounts(self) -> str:
        return str(
            portfolio_metrics(self.session, as_of=self.as_of, config=self.config).active_accounts
        )

    def at_risk(self) -> list[AccountReport]:
        return at_risk_accounts(self.session, as_of=self.as_of, config=self.config, limit=500)

    def riskiest(self) -> str:
        return self.at_risk()[0].account.name

    def with_trigger(self, key: str) -> str:
        names = [
            r.account.name for r in self.at_risk() if any(t.key == key for t in r.churn.triggers)
        ]
        return names[0] if names else "none"

    def score_before(self, name: str, days: int = 30) -> str:
        change = score_change(
            self.session,
            account_id=self.report(name).account.account_id,
            as_of=self.as_of,
            config=self.config,
            days=days,
        )
        return f"{change.before_score:.0f}" if change.before_score is not None else "n/a"

    def tickets_opened(self, name: str, days: int = 90) -> str:
        summary = ticket_summary(
            self.session,
            account_id=self.report(name).account.account_id,
            as_of=self.as_of,
            days=days,
        )
        return str(summary.opened)

    def quiet_count(self, days: int) -> str:
        return str(len(quiet_accounts(self.session, as_of=self.as_of, days=days)))

    def renewing_within(self, days: int) -> str:
        end = self.as_of + timedelta(days=days)
        names = [
            r.account.name
            for r in self.at_risk()
            if r.account.renewal_date and self.as_of <= r.account.renewal_date <= end
        ]
        return names[0] if names else "none"


def _numbers(text: str) -> list[Quantity | DateMention]:
    return numbers_in(text)


def contains_fact(answer: str, fact: str) -> bool:
    """Whether ``answer`` states ``fact``: a number or date in any format that rounds the same,
    else the words (case-insensitive)."""
    wanted = _numbers(fact)
    if len(wanted) == 1 and len(fact.strip()) <= 24 and any(c.isdigit() for c in fact):
        target = wanted[0]
        for found in _numbers(answer):
            if isinstance(target, DateMention) and isinstance(found, DateMention):
                if (found.month, found.day) == (target.month, target.day) and (
                    found.year in (None, target.year)
                ):
                    return True
            elif isinstance(target, Quantity) and isinstance(found, Quantity):
                pairs = [(abs(found.value), found.step)]
                if target.percent and not found.percent and abs(found.value) <= 1:
                    pairs.append((abs(found.value) * 100, found.step * 100))  # 0.951 is 95%
                for value, step in pairs:
                    if abs(value - abs(target.value)) <= max(step, target.step) / 2:
                        return True
        return False
    return fact.lower() in answer.lower()
