"""refusal-evals: Inspect evaluations of refusals vs rebuttals, reason-based deception and
dishonest refusals. Tasks are registered with Inspect through the ``refusal_evals`` entry point."""

from refusal_evals.tasks.car_sales import car_sales
from refusal_evals.tasks.dishonest_refusal import dishonest_refusal
from refusal_evals.tasks.honesty_steering import honesty_steering
from refusal_evals.tasks.insider_trading import insider_trading
from refusal_evals.tasks.judge_validation import judge_validation
from refusal_evals.tasks.real_estate import real_estate

__version__ = "0.1.0"
__all__ = [
    "car_sales",
    "dishonest_refusal",
    "honesty_steering",
    "insider_trading",
    "judge_validation",
    "real_estate",
]
