"""cs-copilot capabilities: data model, import, scoring, QBRs, hand-offs. No network I/O."""
