"""Everything Inspect must find by name (``refusal_evals/<name>``); nothing else.

Imports only the package's own modules and their required dependencies, never an optional
extra (``hf``), so that loading the entry point is cheap and cannot fail on a missing extra.
"""

# ruff: noqa: F401
from refusal_evals.demo.model import demo_provider
from refusal_evals.repe._modelapi import repe  # the repe/<model> provider (torch imported lazily)
from refusal_evals.scorers.dishonest_refusal import dishonest_refusal_judge
from refusal_evals.scorers.harmfulness import harmfulness
from refusal_evals.scorers.insider_trading import insider_trading_judge
from refusal_evals.scorers.judge_validation import judge_agreement, judge_validation_scorer
from refusal_evals.scorers.lie_detector import honesty_lie_detector, honesty_means
from refusal_evals.scorers.metrics import group_means, group_rates, unscored_by_group
from refusal_evals.scorers.roleplay import roleplay_judge
from refusal_evals.solvers.dishonest_refusal import dishonest_refusal_steps
from refusal_evals.solvers.insider_trading import insider_trading_conversation
from refusal_evals.solvers.roleplay import roleplay_conversation
from refusal_evals.tasks.car_sales import car_sales
from refusal_evals.tasks.dishonest_refusal import dishonest_refusal
from refusal_evals.tasks.honesty_steering import honesty_steering
from refusal_evals.tasks.insider_trading import insider_trading
from refusal_evals.tasks.judge_validation import judge_validation
from refusal_evals.tasks.real_estate import real_estate
