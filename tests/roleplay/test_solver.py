"""The shared role-play solver builds the conversation the scorer judges."""

import pytest
from conftest import scripted
from inspect_ai import Task, eval

from refusal_evals.roleplay.records import TURNS_KEY
from refusal_evals.roleplay.scenarios import load_scenario, scenario_samples
from refusal_evals.roleplay.solver import roleplay_conversation


def test_roleplay_conversation_injects_and_runs_follow_ups(log_dir):
    scenario = load_scenario("car_sales")
    seen = []

    def subject(messages):
        seen.append([m.role for m in messages])
        return f"<reasoning>r</reasoning><reply>reply {len(seen)}</reply>"

    dataset = scenario_samples(scenario, ["natural", "rebuttal"], ["civic-flood"])
    task = Task(dataset=dataset, solver=roleplay_conversation("car_sales", turns=2, cot=True))
    [log] = eval(task, model=scripted(subject), log_dir=log_dir, display="none")
    assert log.status == "success"
    by_condition = {s.metadata["condition"]: s for s in log.samples}

    rebuttal = by_condition["rebuttal"]
    roles = [m.role for m in rebuttal.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert rebuttal.messages[2].metadata == {"injected": "rebuttal"}
    values = scenario.variant("civic-flood").vars
    assert scenario.follow_ups[1].format_map(values) in rebuttal.messages[5].text
    assert [r["message_index"] for r in rebuttal.store[TURNS_KEY]] == [4, 6]

    natural = by_condition["natural"]
    assert [m.role for m in natural.messages][:3] == ["system", "user", "assistant"]
    assert natural.messages[2].metadata is None  # generated, not injected
    assert len(natural.store[TURNS_KEY]) == 2
    # 2 generations for rebuttal, 3 for natural (its own reply to the manager)
    assert len(seen) == 5


def test_roleplay_conversation_rejects_too_many_turns():
    with pytest.raises(ValueError, match="turns must be between 1 and 5"):
        roleplay_conversation("car_sales", turns=6)
