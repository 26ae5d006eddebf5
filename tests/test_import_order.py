"""Every module imports on its own, whatever was imported before it: a user's first command
(``csbot demo`` imports ``bot.tour`` first) must not hit an import cycle that the test suite's
import order happens to hide. Each case is a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules that were broken when imported first (tools.alert_actions -> tools.outbox ->
# tools.alerts -> tools.alerts.policy -> tools.alert_actions), and the CLI's entry points.
FIRST = ["tools.alert_actions", "bot.tour", "bot.policy", "bot.cli", "tools.outbox"]


@pytest.mark.parametrize("module", FIRST)
def test_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
