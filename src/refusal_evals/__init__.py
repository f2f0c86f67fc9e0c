"""refusal-evals: Inspect evaluations of refusals vs rebuttals, reason-based deception and
dishonest refusals. Tasks are registered with Inspect through the ``refusal_evals`` entry point."""

__version__ = "0.1.0"
