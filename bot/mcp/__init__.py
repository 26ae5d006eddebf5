"""``csbot mcp``: the agent's tool registry served over the Model Context Protocol."""
