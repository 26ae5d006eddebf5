"""Muda: unused licences, priced at the contract's price per seat.

Seats used is the metric layer's one figure (peak daily active users over the usage window of
complete days), so Lean never disagrees with the card; see ``tools.lean`` for the definition.
"""

from __future__ import annotations

from tools.facts import ActiveContract, dollars, money_text, percent_text
from tools.lean.config import LeanConfig, severity
from tools.lean.playbooks import licence_optimisation_playbook
from tools.results import LeanFinding


def muda_finding(
    contract: ActiveContract, peak_used: int, cfg: LeanConfig, days: int
) -> LeanFinding | None:
    """The unused-licence finding of one account in force (None below the thresholds)."""
    purchased = contract.seats_purchased
    if purchased <= 0:
        return None
    used = min(peak_used, purchased)
    unused = purchased - used
    share = unused / purchased
    if unused < cfg.muda_min_unused_seats or share < cfg.muda_min_unused_share:
        return None
    seat_price = contract.arr / purchased
    annual_cost = dollars(seat_price * unused)
    evidence = [
        f"{unused:,} of {purchased:,} seats unused ({percent_text(share)}) "
        f"over the last {days} days",
        f"peak daily active users in the last {days} days: {peak_used:,}",
        f"price per seat: {money_text(seat_price)}/year "
        f"(ARR {money_text(contract.arr)} / {purchased:,} seats)",
        f"renewal on {contract.end_date.isoformat()}",
    ]
    return LeanFinding(
        account_id=contract.account_id,
        kind="muda",
        title=f"{money_text(annual_cost)}/year of unused capacity",
        severity=severity(share, cfg.muda_medium_share, cfg.muda_high_share),
        evidence=evidence,
        annual_cost=annual_cost,
        playbook=licence_optimisation_playbook(),
    )
