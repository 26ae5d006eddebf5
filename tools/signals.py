"""Moved to the metric layer: ``tools.facts.extract``. This alias keeps older imports working;
import from ``tools.facts.extract`` in new code."""

from tools.facts.extract import *  # noqa: F403
from tools.facts.extract import RawMetrics, Scope, extract_raw

__all__ = ["RawMetrics", "Scope", "extract_raw"]
