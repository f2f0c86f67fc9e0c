"""``refusal-evals demo``: every task offline against a scripted demo model (not an LLM), then
the report."""

from refusal_evals.demo.model import MODEL, ScriptedDemoAPI, demo_provider
from refusal_evals.demo.run import DemoError, DemoResult, registered_tasks, run_demo

__all__ = [
    "MODEL",
    "DemoError",
    "DemoResult",
    "ScriptedDemoAPI",
    "demo_provider",
    "registered_tasks",
    "run_demo",
]
