"""refusal-evals: Inspect evaluations of refusals vs rebuttals, reason-based deception and
dishonest refusals. Tasks are registered with Inspect through the ``refusal_evals`` entry point."""

from refusal_evals.tasks.car_sales import car_sales

__version__ = "0.1.0"
__all__ = ["car_sales"]
