"""Scheduled messaging: one module per job, one schedule table, one delivery path.

- ``schedule``: the schedule table (``SCHEDULE``, one row per job) and the APScheduler wiring
- ``delivery``: exactly-once posting (ledger claims, delivery-key metadata, reconciliation)
- ``daily_scan``: the daily scan (churn alerts, T-90 QBR drafts, expansion proposals)
- ``churn_alerts``: where a churn alert message is built (the decision: ``tools.alerts.policy``)
- ``qbr_drafts``: T-90 and quarterly QBR drafts, DM'd to owners
- ``proposals``: expansion proposals DM'd to owners
- ``digest``: the weekly leaders' digest
- ``notion_outbox``: Notion deliveries due again (QBR pages, task pages and statuses) and
  hand-off tasks

Adding a job: see ``bot.jobs.schedule`` (one module + one row in ``SCHEDULE``).
"""
