"""``make eval``: realistic CSM asks, the tools each should use, and the facts the answer must
contain (numbers computed by the demo's deterministic tools). Outside the test suite.

Keyless (always): each ask goes through the keyless router (right intent, facts in its answer)
and through the Claude loop against the fake model, which calls the expected tools and answers
with what they returned (tool-selection plumbing, real tool results, the number check).
With ``ANTHROPIC_API_KEY`` set, each ask also goes to real Claude: which tools it chose, whether
the facts are in its answer, whether every number in it comes from the tool results, and the
model calls, tokens and estimated cost per ask.
"""
