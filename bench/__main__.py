"""Run every ``bench/bench_*.py`` module, print a table and write ``bench/results.json``.

Each module exposes ``run(workdir: Path) -> list[Measurement]``. ``workdir`` is
``bench/data/``: a place to cache generated databases between runs.
Usage: ``python -m bench [NAME ...]`` (names without the ``bench_`` prefix).
"""

from __future__ import annotations

import importlib
import json
import logging
import platform
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import Measurement

HERE = Path(__file__).parent


def discover(selected: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected]
    return names


def main(argv: list[str]) -> int:
    # Warnings to this process's stderr, set before any bench runs a CLI command in process
    # (typer's CliRunner): the command's own logging setup then keeps this handler instead of
    # one on the runner's captured stream, which is closed once the command returns.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console(width=max(Console().width, 140))  # long benchmark names: never truncate
    workdir = HERE / "data"
    workdir.mkdir(exist_ok=True)
    results: list[Measurement] = []
    for name in discover(argv):
        console.print(f"[bold]running {name}[/bold]")
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        results.extend(module.run(workdir))
        console.print(f"  done in {time.perf_counter() - started:.1f}s")
    table = Table("benchmark", "value", "unit", "notes")
    for m in results:
        table.add_row(m.name, f"{m.value:,.2f}", m.unit, m.notes)
    console.print(table)
    payload = {
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "results": [m.as_dict() for m in results],
    }
    (HERE / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"wrote {HERE / 'results.json'}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
