"""``refusal-evals gate``: pass/fail rules on Inspect logs, for CI model gating."""

from .evaluate import Result, evaluate
from .junit import junit_xml, write_junit
from .policy import Checks, Policy, PolicyError, Rule, load_policy, parse_policy

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
