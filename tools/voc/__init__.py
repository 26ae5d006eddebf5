"""Voice of the customer: themes over survey comments, ticket subjects and logged notes.

``voice_of_customer`` is the one entry point every surface calls (``/health``, the QBR prep,
the weekly digest, the agent and MCP tool). Text written by customers or colleagues is data:
it leaves this package only in fields named ``untrusted_text``.
"""

from tools.voc.report import VocQuote, VocReport, VocTheme, voice_of_customer

__all__ = ["VocQuote", "VocReport", "VocTheme", "voice_of_customer"]
