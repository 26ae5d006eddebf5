"""``python -m evals [--live] [--json FILE]``: run the evaluation set and print its table."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.runner import PRICES, Outcome, run


def _mark(value: bool | None) -> str:
    return "—" if value is None else ("ok" if value else "FAIL")


def table(outcomes: list[Outcome], mode: str) -> Table:
    shown = [o for o in outcomes if o.mode == mode]
    passed = sum(o.passed for o in shown)
    t = Table(title=f"{mode}: {passed}/{len(shown)} passed ({passed / max(len(shown), 1):.0%})")
    for column in ("ask", "router", "tools", "facts", "numbers", "calls", "tokens", "cost $"):
        t.add_column(column, no_wrap=column != "ask")
    for o in shown:
        t.add_row(
            o.case.ask,
            _mark(o.router_ok),
            _mark(o.tools_ok) + ("" if o.tools_ok else f" {','.join(o.called) or 'none'}"),
            _mark(o.facts_ok) + ("" if o.facts_ok else f" {o.missing}"),
            _mark(o.numbers_ok) + ("" if o.numbers_ok else f" {o.invented}"),
            str(o.model_calls),
            str(o.tokens),
            f"{o.cost:.4f}",
        )
    return t


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__)
    parser.add_argument("--live", action="store_true", help="also ask real Claude (needs a key)")
    parser.add_argument("--json", type=Path, help="write every outcome to this JSON file")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 160))
    client = None
    if args.live or os.environ.get("ANTHROPIC_API_KEY"):
        from bot.config import Settings
        from bot.narrator import anthropic_client

        client = anthropic_client(Settings())
        if client is None:
            console.print("--live needs ANTHROPIC_API_KEY; running keyless only.")
    else:
        console.print(
            "No ANTHROPIC_API_KEY: keyless run only (router + fake model). "
            "Set the key to evaluate real Claude."
        )
    outcomes = run(live_client=client)
    modes = ["fake model"] + (["claude"] if client is not None else [])
    for mode in modes:
        console.print(table(outcomes, mode))
    single = [o for o in outcomes if o.case.single_account]
    worst = max((o.model_calls for o in single), default=0)
    console.print(f"most model calls for a single-account ask: {worst} (budget: 2)")
    console.print(f"cost estimate assumes USD/Mtok {PRICES}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "ask": o.case.ask,
                        "mode": o.mode,
                        "passed": o.passed,
                        "router_ok": o.router_ok,
                        "tools": o.called,
                        "missing": o.missing,
                        "invented": o.invented,
                        "model_calls": o.model_calls,
                        "tokens": o.tokens,
                        "cost": o.cost,
                    }
                    for o in outcomes
                ],
                indent=2,
            )
        )
    keyless = [o for o in outcomes if o.mode == "fake model"]
    return 0 if all(o.passed for o in keyless) and worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
