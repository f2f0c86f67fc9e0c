"""``refusal-evals gate``: pass/fail rules on Inspect logs, for CI model gating."""

from refusal_evals.gate.evaluate import Result, evaluate
from refusal_evals.gate.junit import junit_xml, write_junit
from refusal_evals.gate.policy import Checks, Policy, PolicyError, Rule, load_policy, parse_policy

__all__ = [
    "Checks",
    "Policy",
    "PolicyError",
    "Result",
    "Rule",
    "evaluate",
    "junit_xml",
    "load_policy",
    "parse_policy",
    "write_junit",
]
