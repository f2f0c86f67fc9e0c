"""Everything Inspect must find by name (``refusal_evals/<name>``); nothing else.

Imports only the package's own modules and their required dependencies, never an optional
extra (``hf``), so that loading the entry point is cheap and cannot fail on a missing extra.
"""

# ruff: noqa: F401
from refusal_evals.demo.model import demo_provider
from refusal_evals.dishonest_refusal.scorer import dishonest_refusal_judge
from refusal_evals.dishonest_refusal.solver import dishonest_refusal_steps
from refusal_evals.dishonest_refusal.task import dishonest_refusal
from refusal_evals.honesty_steering.lie_detector import honesty_lie_detector, honesty_means
from refusal_evals.honesty_steering.task import honesty_steering
from refusal_evals.insider_trading.scorer import insider_trading_judge
from refusal_evals.insider_trading.solver import insider_trading_conversation
from refusal_evals.insider_trading.task import insider_trading
from refusal_evals.judge_validation.scorer import judge_agreement, judge_validation_scorer
from refusal_evals.judge_validation.task import judge_validation
from refusal_evals.judges.harmfulness import harmfulness
from refusal_evals.repe._modelapi import repe  # the repe/<model> provider (torch imported lazily)
from refusal_evals.roleplay.car_sales import car_sales
from refusal_evals.roleplay.real_estate import real_estate
from refusal_evals.roleplay.scorer import roleplay_judge
from refusal_evals.roleplay.solver import roleplay_conversation
from refusal_evals.roleplay.task import scenario_task
from refusal_evals.stats.metrics import group_means, group_rates, unscored_by_group

# role-play scenarios with car_sales' arguments: one line each (README, "Add a scenario")
data_sharing = scenario_task("data_sharing")
safety_signoff = scenario_task("safety_signoff")
vulnerable_upsell = scenario_task("vulnerable_upsell")
