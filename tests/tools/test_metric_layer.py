"""The metric layer is the only reader of the scoring tables (issue 12: one source per number).

Outside ``tools/facts/``, no module of ``tools/``, ``bot/``, ``evals/`` or ``bench/`` may query
contracts, contacts, usage, features, tickets, NPS, invoices or interactions, except the modules
listed below with the reason they need the rows (writing them, generating the demo, labelling
outcomes, quoting customer text). A module "queries" a table when it imports its model class from
``tools.models``, uses ``models.<Class>``, names the table for ``sql_table``/``.tables[...]``, or
has raw SQL that reads it. Every scoring read has moved (portfolio metrics, the T-90 calendar and
onboarding milestones were the last): there is no pending list any more.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("tools", "bot", "evals", "bench")
METRIC_LAYER = "tools/facts/"

MODELS = frozenset(
    {
        "Contract",
        "Contact",
        "UsageDaily",
        "Feature",
        "FeatureUsage",
        "Ticket",
        "NpsResponse",
        "Invoice",
        "Interaction",
    }
)
TABLES = frozenset(
    {
        "contract",
        "contact",
        "usage_daily",
        "feature",
        "feature_usage",
        "ticket",
        "nps_response",
        "invoice",
        "interaction",
    }
)
RAW_SQL = re.compile(
    r"\b(?:from|join|into|update)\s+\"?("
    + "|".join(sorted(TABLES, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)

# Not scoring: they write the rows, build the schema or the demo, or quote customer text.
ALLOWED: dict[str, str] = {
    "tools/models.py": "the table definitions",
    "tools/importer/": "reads files and writes imported rows",
    "tools/interactions.py": "records interactions logged from Slack (CRUD)",
    "tools/demo.py": "demo generator",
    "tools/demo_rows/": "demo generator",
    "tools/demo_facts.py": "demo generator: the Stories table's evidence rows",
    "tools/migrations/": "schema migrations",
    "tools/backtest/labels.py": "outcome labels for the backtest (renewed/churned), not a score",
    "tools/alert_outcomes.py": "what happened after an alert (renewal, churn), not a score",
    "tools/freshness.py": "how recent the imported data is, not a score",
    "tools/voc/corpus.py": "customer text (comments, subjects, notes) for themes",
    "tools/qbr_documents.py": "customer text and contact names for the QBR prep document",
    "tools/agent_tools/common.py": "recent tickets, surveys and notes quoted to Claude (untrusted)",
}


def _python_files() -> list[str]:
    found: list[str] = []
    for top in SCANNED:
        found += [p.relative_to(ROOT).as_posix() for p in (ROOT / top).rglob("*.py")]
    return sorted(found)


def _exempt(path: str, table: dict[str, str]) -> bool:
    return any(path == key or (key.endswith("/") and path.startswith(key)) for key in table)


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def scoring_reads(source: str) -> set[str]:
    """The scoring tables ``source`` queries (see the module docstring for what counts)."""
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tools.models":
            found |= {alias.name for alias in node.names if alias.name in MODELS}
        elif isinstance(node, ast.Attribute) and node.attr in MODELS:
            if isinstance(node.value, ast.Name) and node.value.id == "models":
                found.add(node.attr)
        elif isinstance(node, ast.Call) and node.args:
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            table = _string(node.args[0])
            if name in {"sql_table", "table", "Table"} and table in TABLES:
                found.add(table)
        elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "tables":
            table = _string(node.slice)
            if table in TABLES:
                found.add(table)
        elif (text := _string(node)) is not None:
            found |= {m.lower() for m in RAW_SQL.findall(text)}
    return found


def test_only_the_metric_layer_queries_the_scoring_tables() -> None:
    offenders = {}
    for path in _python_files():
        if path.startswith(METRIC_LAYER) or _exempt(path, ALLOWED):
            continue
        reads = scoring_reads((ROOT / path).read_text())
        if reads:
            offenders[path] = sorted(reads)
    assert offenders == {}, (
        "query these through tools.facts (or list the module in ALLOWED with why it is not "
        f"scoring): {offenders}"
    )


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("from tools.models import Ticket, Account", {"Ticket"}),
        ("from tools import models\nmodels.UsageDaily.day", {"UsageDaily"}),
        ("usage = sql_table('usage_daily')", {"usage_daily"}),
        ("t = SQLModel.metadata.tables['feature_usage']", {"feature_usage"}),
        ("q = text('SELECT count(*) FROM nps_response')", {"nps_response"}),
        ("from tools.models import Account, HealthSnapshot", set()),
        ("label = 'Contract term'", set()),
        ("from tools.facts import active_contracts", set()),
    ],
)
def test_the_rule_sees_each_way_of_reading_a_table(source: str, reads: set[str]) -> None:
    assert scoring_reads(source) == reads


def test_the_lists_name_real_files() -> None:
    files = set(_python_files())
    for key in ALLOWED:
        assert key in files or any(f.startswith(key) for f in files if key.endswith("/")), key
