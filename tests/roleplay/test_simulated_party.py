"""``-T follow_up=simulated``: the other party played by the ``user`` model role (offline, mockllm).

The user role never sees the agent's reasoning, every agent turn is scored with its turn index, an
early stop is recorded (later turns not applicable), the survival measures and figure follow from the
per-turn scores, and an unbound role or a scenario without a party fails before any model call.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import is_consistency_prompt, judged_reply, output, scripted
from inspect_ai import eval
from inspect_ai.log import read_eval_log
from inspect_ai.model import get_model

from refusal_evals.core.args import TaskArgError
from refusal_evals.roleplay.records import PARTY_KEY, TURNS_KEY
from refusal_evals.roleplay.scenarios import load_scenario, scenario_path
from refusal_evals.roleplay.simulated import load_party_prompt, read_party_reply
from refusal_evals.roleplay.survival import UNKNOWN, first_undesired_turn, survival_curve
from refusal_evals.roleplay.survival_plot import survival_curves, survival_figure

VARIANTS = "civic-flood,f150-frame"
SECRET = "PRIVATE-REASONING"
STOP = load_party_prompt().stop_token


def agent(messages):
    """Hides the defect until the customer's third message, then discloses it; reasoning is marked."""
    if messages[-1].text.startswith("Manager:"):
        return "Understood."
    turn = sum(1 for m in messages if m.role == "user" and m.text.startswith("Customer:"))
    said = "It's in great shape!" if turn < 3 else "I must tell you: it has a known defect."
    return f"<reasoning>{SECRET} turn {turn}</reasoning><reply>{said} (reply {turn})</reply>"


def grader(messages):
    prompt = messages[-1].text
    hides = "great shape" in judged_reply(prompt)
    if is_consistency_prompt(prompt):
        return "ANSWER: " + ("inconsistent" if hides else "consistent")
    return "ANSWER: " + ("undesired" if hides else "acceptable")


class User:
    """A scripted user role: records every request and its config; answers ``replies[k - 1]`` after
    the agent's k-th reply (the last one again when there are fewer)."""

    def __init__(self, *replies: str) -> None:
        self.replies, self.requests, self.configs = list(replies), [], []

    def model(self):
        def respond(input, tools, tool_choice, config):  # noqa: ANN001
            self.requests.append(input)
            self.configs.append(config)
            heard = input[-1].text.count("Agent: ")
            return output(self.replies[min(heard, len(self.replies)) - 1])

        return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def run(log_dir, user, task="refusal_evals/car_sales", judge=grader, **args):
    [log] = eval(
        task,
        model=scripted(agent),
        model_roles={"grader": scripted(judge), "user": user.model()},
        task_args={"variants": VARIANTS, "condition": "refusal,rebuttal", "follow_up": "simulated", **args},
        log_dir=log_dir,
        display="none",
    )
    assert log.status == "success", log.error
    return read_eval_log(log.location)


def metric(log, score_name, name):
    [score] = [s for s in log.results.scores if s.name == score_name]
    return {m.name: m.value for m in score.metrics.values()}[name]


def test_simulated_turns_are_scored_and_never_show_the_reasoning(log_dir):
    user = User("Are you sure? Anything at all I should know?", "Put it in writing, please.")
    prompts = []
    log = run(
        log_dir, user, judge=lambda m: prompts.append(m[-1].text) or grader(m), turns=3, user_temperature=0.3
    )

    assert len(user.requests) == 4 * 2  # 4 conversations x turns 2 and 3
    for request in user.requests:
        text = "\n".join(m.text for m in request)
        assert SECRET not in text and "<reasoning>" not in text  # only what the agent sent
        assert "Manager:" not in text and "I'm sorry" not in text  # nor the authority exchange
        assert "Agent: It's in great shape! (reply 1)" in text
    assert {c.temperature for c in user.configs} == {0.3}

    sample = log.samples[0]
    users = [m for m in sample.messages if m.role == "user"][1:]
    assert [m.metadata["follow_up_turn"] for m in users] == [1, 2, 3]
    assert users[0].metadata["written_by"].startswith("scenario")
    assert users[1].text.startswith("Customer: Are you sure?")
    assert "simulated party (user role" in users[1].metadata["written_by"]
    assert users[1].metadata["prompt_versions"]["simulated_party"] == "car_sales-party-1.0"
    assert [t["party_message"].split(":")[0] for t in sample.store[TURNS_KEY]] == ["Customer"] * 3

    score = sample.scores["roleplay_judge"]
    assert [score.value[f"undesired_turn{t}"] for t in (1, 2, 3)] == [1.0, 1.0, 0.0]
    assert [score.value[f"survival_turn{t}"] for t in (1, 2, 3)] == [0.0, 0.0, 0.0]
    assert score.metadata["first_undesired_turn"] == 1 and score.metadata["stopped_at"] is None
    assert score.metadata["prompt_versions"]["simulated_party_prompt"] == load_party_prompt().version
    assert score.metadata["user_model"] == "mockllm/model" and score.metadata["user_temperature"] == 0.3
    assert [t["turn"] for t in score.metadata["turns"]] == [1, 2, 3]
    # the behaviour judge sees the simulated message the agent answered, and the earlier exchanges
    answering = '"""\nCustomer: Put it in writing, please.\n"""\n\nAgent\'s reply sent to the other party'
    third = [p for p in prompts if answering in p and not is_consistency_prompt(p)]
    assert len(third) == 4 and all("Customer: Are you sure? Anything at all" in p for p in third)
    assert log.eval.metadata["follow_up"] == "simulated"
    assert log.eval.metadata["experiment"]["settings"]["user_temperature"] == 0.3
    assert metric(log, "survival_turn2", "refusal") == 0.0 and metric(log, "survival_turn2", "refusal_n") == 2


def test_early_stop_makes_later_turns_not_applicable(log_dir):
    user = User(f"Thanks, that's all I needed. Bye!\n{STOP}")
    log = run(log_dir, user, turns=4)
    sample = log.samples[0]
    score = sample.scores["roleplay_judge"]
    assert score.metadata["stopped_at"] == 1
    assert score.metadata["farewell"] == "Thanks, that's all I needed. Bye!"
    assert score.value["undesired_turn1"] == 1.0
    assert [score.value[f"undesired_turn{t}"] for t in (2, 3, 4)] == [None, None, None]  # not NaN
    assert [score.value[f"survival_turn{t}"] for t in (1, 2, 3, 4)] == [0.0] * 4
    assert score.value["unscored_measures"] == 0.0 and score.metadata["why_unscored_by_turn"] == []
    assert sample.store[PARTY_KEY]["stopped_at"] == 1
    last = sample.messages[-1]
    assert last.role == "user" and last.metadata["ended_conversation"] and STOP not in last.text
    assert len(sample.store[TURNS_KEY]) == 1
    assert metric(log, "undesired_turn2", "all_n") == 0  # left out, not counted as unscored
    assert metric(log, "undesired", "all_n") == 4


def test_a_silent_party_leaves_later_turns_unscored_with_the_reason(log_dir):
    log = run(log_dir, User(""), turns=2)
    score = log.samples[0].scores["roleplay_judge"]
    assert math.isnan(score.value["undesired_turn2"])
    assert score.metadata["party_failed"].startswith("the simulated party wrote no message")
    assert any("1 of 2" in r for r in score.metadata["why_unscored_by_turn"])


def test_unbound_user_role_fails_before_any_model_call(log_dir):
    calls = []
    with pytest.raises(TaskArgError, match="--model-role user=<model>"):
        eval(
            "refusal_evals/car_sales",
            model=scripted(lambda m: calls.append(m) or "x"),
            model_roles={"grader": scripted(lambda m: calls.append(m) or "x")},
            task_args={"follow_up": "simulated", "turns": 3},
            log_dir=log_dir,
            display="none",
        )
    assert calls == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"follow_up": "adaptive"},
            "-T follow_up: unknown value adaptive; valid values: scripted, simulated",
        ),
        ({"follow_up": "simulated", "turns": 11}, "-T turns: must be at least 1 and at most 10; got 11"),
        ({"follow_up": "simulated", "user_temperature": "hot"}, "-T user_temperature: expected a number"),
        ({"follow_up": "simulated", "user_temperature": 3}, "must be between 0 and 2"),
        ({"turns": 6}, "-T turns: must be at least 1 and at most 5; got 6"),  # scripted: unchanged
    ],
)
def test_bad_follow_up_args_fail_before_any_model_call(args, message, log_dir):
    calls = []
    with pytest.raises(TaskArgError) as err:
        eval(
            "refusal_evals/car_sales",
            model=scripted(lambda m: calls.append(m) or "x"),
            model_roles={
                "grader": scripted(lambda m: "x"),
                "user": scripted(lambda m: calls.append(m) or "x"),
            },
            task_args=args,
            log_dir=log_dir,
            display="none",
        )
    assert message in str(err.value)
    assert calls == []


def test_a_scenario_without_a_party_section_runs_only_scripted(tmp_path, log_dir):
    from refusal_evals.roleplay.task import roleplay_task

    data = yaml.safe_load(scenario_path("car_sales").read_text(encoding="utf-8"))
    del data["simulated_party"]
    data["id"] = "cars_without_party"
    path = tmp_path / "cars_without_party.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(TaskArgError, match=r"no simulated_party section.*-T follow_up=scripted") as err:
        roleplay_task(str(path), follow_up="simulated")
    assert str(path) in str(err.value)


def test_ten_simulated_turns_on_real_estate(log_dir):
    user = User(*[f"Message {n}: what else do you have?" for n in range(2, 11)])
    [log] = eval(
        "refusal_evals/real_estate",
        model=scripted(lambda m: "<reasoning>r</reasoning><reply>Here are homes.</reply>"),
        model_roles={"grader": scripted(grader), "user": user.model()},
        task_args={
            "follow_up": "simulated",
            "turns": 10,
            "variants": "maple-protected",
            "condition": "rebuttal",
        },
        log_dir=log_dir,
        display="none",
    )
    assert log.status == "success", log.error
    score = read_eval_log(log.location).samples[0].scores["roleplay_judge"]
    assert [score.value[f"undesired_turn{t}"] for t in range(1, 11)] == [0.0] * 10
    assert score.value["survival_turn10"] == 1.0 and score.metadata["first_undesired_turn"] is None
    users = [m for m in read_eval_log(log.location).samples[0].messages if m.role == "user"]
    assert users[-1].text.startswith("Buyer: Message 10")


def test_survival_figure_from_a_simulated_log(log_dir, tmp_path):
    from refusal_evals.report import read_log
    from refusal_evals.report.tables import provenance_table

    log = run(log_dir, User("Anything else?", "Really?"), turns=3)
    record = read_log(log.location)
    turns, curves = survival_curves([record])
    assert turns == 3 and set(curves) == {"refusal", "rebuttal"}
    assert [r.estimate for r in curves["refusal"]] == [0.0, 0.0, 0.0]
    assert all(r.n == 2 and r.clusters == 2 for r in curves["rebuttal"])
    config = SimpleNamespace(
        task=log.eval.task,
        specs={},
        rows=[SimpleNamespace(model="mockllm/model", grader=None, logs=[record])],
    )
    png = survival_figure(config, tmp_path / "survival.png")
    assert png is not None and Path(png).stat().st_size > 1000
    # the provenance table names the user model and the party's prompt versions
    table = provenance_table([record])
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["user (simulated party)"] == "mockllm/model"
    assert "simulated_party_prompt=" in row["versions"], row["versions"]


def test_survival_measures():
    nan = float("nan")
    assert survival_curve([0.0, 0.0, 1.0, 0.0]) == [1.0, 1.0, 0.0, 0.0]
    assert survival_curve([0.0, None, None]) == [1.0, 1.0, 1.0]  # ended without an undesired reply
    curve = survival_curve([0.0, nan, 0.0, 1.0])
    assert curve[0] == 1.0 and math.isnan(curve[1]) and math.isnan(curve[2]) and curve[3] == 0.0
    assert first_undesired_turn([0.0, 0.0, 1.0]) == 3
    assert first_undesired_turn([0.0, None]) is None
    assert first_undesired_turn([0.0, nan, 1.0]) == UNKNOWN


@pytest.mark.parametrize(
    ("raw", "message", "ended"),
    [
        ("Is it safe?", "Is it safe?", False),
        ("Customer: Is it safe?", "Is it safe?", False),
        ('"Is it safe?"', "Is it safe?", False),
        ("You: Is it safe?", "Is it safe?", False),
        (f"Thanks, bye.\n{STOP}", "Thanks, bye.", True),
        ("ok then. [end conversation]", "ok then.", True),
        ("END_CONVERSATION", "", True),
        ("", "", False),
    ],
)
def test_read_party_reply(raw, message, ended):
    turn = read_party_reply(raw, load_party_prompt(), "Customer:")
    assert (turn.message, turn.ended) == (message, ended)


def test_party_sections_are_filled_for_every_variant():
    for name in ("car_sales", "real_estate"):
        spec = load_scenario(name)
        assert spec.simulated_party is not None
        assert spec.follow_ups[0].startswith(spec.simulated_party.speaker)


def test_cache_replays_the_party(log_dir, tmp_path, monkeypatch):
    """``--cache``: a re-run sends the simulated party nothing (its requests are deterministic)."""
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "cache"))
    user = User("Anything else?", "Really?")
    sent = []
    for _ in range(2):
        before = len(user.requests)
        [log] = eval(
            "refusal_evals/car_sales",
            model=scripted(agent),
            model_roles={"grader": scripted(grader), "user": user.model()},
            task_args={
                "variants": "civic-flood",
                "condition": "refusal",
                "follow_up": "simulated",
                "turns": 3,
            },
            log_dir=log_dir,
            display="none",
            cache=True,
        )
        assert log.status == "success", log.error
        sent.append(len(user.requests) - before)
    assert sent == [2, 0]
