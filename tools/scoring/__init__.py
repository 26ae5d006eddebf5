"""The scoring facade: scan the portfolio, back-fill history, build account reports.

Slack, the scheduler, Claude and the CLI call these functions; they never call health/churn
internals. Every function takes ``as_of`` explicitly (a settable clock) and is set-based.
Scans (snapshots, parallel workers) are in ``tools.scoring.scan``; account reports and the
ranked lists in ``tools.scoring.reports``.
"""

from tools.scoring.processes import MAX_AUTO_WORKERS, PARALLEL_MIN_ACCOUNTS
from tools.scoring.reports import (
    LEVEL_RANK,
    account_report,
    account_summaries,
    at_risk_accounts,
    book_reports,
    owned_account_ids,
    risk_order,
    scanned_at_risk,
)
from tools.scoring.scan import (
    Progress,
    ScanReport,
    backfill_snapshots,
    scan_portfolio,
)

__all__ = [
    "LEVEL_RANK",
    "MAX_AUTO_WORKERS",
    "PARALLEL_MIN_ACCOUNTS",
    "Progress",
    "ScanReport",
    "account_report",
    "account_summaries",
    "at_risk_accounts",
    "backfill_snapshots",
    "book_reports",
    "owned_account_ids",
    "risk_order",
    "scan_portfolio",
    "scanned_at_risk",
]
