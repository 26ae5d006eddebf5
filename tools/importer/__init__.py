"""Validated import of a folder of CSV/JSONL files (``csbot import DIR``).

The format is documented in docs/data-format.md. The import runs in one transaction and two
passes: first every file is read and validated (the database is only read, to resolve references);
if anything is wrong, ``ImportValidationError`` lists the problems and nothing is written.
Otherwise rows are upserted in dependency order with SQLAlchemy Core (``INSERT ... ON CONFLICT``
on SQLite and PostgreSQL), rows whose values did not change are not written at all, and an
``ImportReport`` counts what was inserted, updated and left unchanged.

Modules, in the order an import uses them: ``schema`` (the file format), ``readers`` (CSV/JSONL
streams) and ``parse`` (cells), ``validate`` (the validation pass), ``events`` (raw events folded
into daily usage), ``write`` (the upserts), ``run`` (``import_directory``); ``errors`` holds the
problems they report.
"""

from tools.importer.errors import ImportValidationError, RowError
from tools.importer.readers import ProgressCallback
from tools.importer.run import DEFAULT_LOGIN_EVENTS, ImportReport, import_directory
from tools.importer.schema import ENTITY_ORDER
from tools.importer.write import EntityCounts

__all__ = [
    "DEFAULT_LOGIN_EVENTS",
    "ENTITY_ORDER",
    "EntityCounts",
    "ImportReport",
    "ImportValidationError",
    "ProgressCallback",
    "RowError",
    "import_directory",
]
