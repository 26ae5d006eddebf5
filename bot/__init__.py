"""cs-copilot's outside world: Slack, Claude, Notion, the scheduler, settings and the CLI."""
