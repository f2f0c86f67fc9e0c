"""refusal-evals: Inspect evaluations of refusals vs rebuttals, reason-based deception and
dishonest refusals. Tasks are registered with Inspect through the ``refusal_evals`` entry point."""

from refusal_evals._registry import data_sharing, safety_signoff, vulnerable_upsell
from refusal_evals.dishonest_refusal.task import dishonest_refusal
from refusal_evals.honesty_steering.task import honesty_steering
from refusal_evals.insider_trading.task import insider_trading
from refusal_evals.judge_validation.task import judge_validation
from refusal_evals.roleplay.car_sales import car_sales
from refusal_evals.roleplay.real_estate import real_estate

__version__ = "0.1.0"
__all__ = [
    "car_sales",
    "data_sharing",
    "dishonest_refusal",
    "honesty_steering",
    "insider_trading",
    "judge_validation",
    "real_estate",
    "safety_signoff",
    "vulnerable_upsell",
]
