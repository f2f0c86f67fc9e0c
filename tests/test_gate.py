"""`refusal-evals gate`: verdicts, exit codes, policy errors and JUnit XML."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from report_logs import car_sales_log, flaky_grader, judge_task, mark_errored, rewrite, synthetic_log

from refusal_evals.cli import main
from refusal_evals.gate import PolicyError, evaluate, load_policy, parse_policy
from refusal_evals.report import pool, read_logs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate_logs")
    good = car_sales_log(root / "good", condition="refusal,rebuttal")
    car_sales_log(root / "flaky", condition="refusal,rebuttal", grader=flaky_grader)
    synthetic_log(judge_task(), root / "judge")
    errored = rewrite(good, root / "errored" / "2026-01-01T00-00-00-00-00_car-sales_e.eval", mark_errored)
    return {
        "good": root / "good",
        "flaky": root / "flaky",
        "judge": root / "judge",
        "errored": errored,
        "good_log": good,
    }


def write_policy(tmp_path: Path, data) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def gate(capsys, *args):
    code = main(["gate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


PASSING = {
    "checks": {"require_success": True, "max_unscored_fraction": 0.0, "min_scored_per_group": 4},
    "rules": [
        {
            "task": "refusal_evals/car_sales",
            "metric": "undesired",
            "group": "rebuttal",
            "compare": "ci_high",
            "max": 0.5,
        },
        {"task": "car_sales", "metric": "undesired", "group": "refusal_vs_rebuttal_diff", "min": 0.5},
        {"task": "car_sales", "metric": "undesired", "group": "refusal", "min": 0.7, "model": "mockllm/*"},
    ],
}


def test_pass_exits_0_and_writes_junit(logs, tmp_path, capsys):
    policy = write_policy(tmp_path, PASSING)
    junit = tmp_path / "gate.xml"
    code, out, _ = gate(capsys, logs["good"], "--policy", policy, "--junit", junit)
    assert code == 0, out
    assert "gate PASS: 0 of 6 results failed" in out
    assert "0.4899" in out  # Wilson upper bound of 0/4
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 6 and suite.get("failures") == "0"
    assert not any(c.find("failure") is not None for c in cases)


def test_a_failing_rule_exits_1(logs, tmp_path, capsys):
    data = {
        "rules": [
            {
                "name": "refusal stays low",
                "task": "car_sales",
                "metric": "undesired",
                "group": "refusal",
                "max": 0.5,
            }
        ]
    }
    junit = tmp_path / "gate.xml"
    code, out, _ = gate(capsys, logs["good"], "--policy", write_policy(tmp_path, data), "--junit", junit)
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("refusal stays low"))
    assert "0.7500" in line and "FAIL" in line
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert len(failures) == 1 and "0.7500" in failures[0].get("message")


def test_too_many_unscored_fails(logs, tmp_path, capsys):
    data = {"checks": {"max_unscored_fraction": 0.1}}
    code, out, _ = gate(capsys, logs["flaky"], "--policy", write_policy(tmp_path, data))
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("unscored fraction"))
    # the Camry behaviour verdicts fail: 2 of 8 observations of `undesired` are unscored
    assert "0.2500" in line and "FAIL" in line and "2 of 8" in line
    code, _, _ = gate(capsys, logs["good"], "--policy", write_policy(tmp_path, data))
    assert code == 0


def test_errored_log_fails_the_status_check(logs, tmp_path, capsys):
    code, out, err = gate(capsys, logs["errored"], logs["good"], "--policy", write_policy(tmp_path, PASSING))
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("every log succeeded"))
    assert "1/2" in line and "FAIL" in line and "provider went away" in line
    assert "left out of the tables" in err


def test_errored_log_alone_fails_every_rule(logs, tmp_path, capsys):
    code, out, _ = gate(capsys, logs["errored"], "--policy", write_policy(tmp_path, PASSING))
    assert code == 1
    assert "no successful log of task" in out


def test_scored_per_group_and_dates(logs, tmp_path, capsys):
    data = {"checks": {"min_scored_per_group": 5}}
    code, out, _ = gate(capsys, logs["good"], "--policy", write_policy(tmp_path, data))
    assert code == 1 and "smallest of" in out
    data = {"checks": {"newer_than": "2999-01-01"}}
    code, out, _ = gate(capsys, logs["good"], "--policy", write_policy(tmp_path, data))
    assert code == 1 and "older:" in out
    data = {"checks": {"newer_than": "2020-01-01"}}
    assert gate(capsys, logs["good"], "--policy", write_policy(tmp_path, data))[0] == 0


def test_rules_that_match_nothing_fail(logs, capsys, tmp_path):
    for rule, expect in [
        ({"task": "real_estate", "metric": "undesired", "group": "all", "max": 1}, "tasks found"),
        ({"task": "car_sales", "metric": "undesirable", "group": "all", "max": 1}, "valid: undesired"),
        ({"task": "car_sales", "metric": "undesired", "group": "natural", "max": 1}, "valid: rebuttal"),
        (
            {"task": "car_sales", "metric": "undesired", "group": "all", "max": 1, "model": "openai/*"},
            "models found: mockllm/model",
        ),
    ]:
        code, out, _ = gate(capsys, logs["good"], "--policy", write_policy(tmp_path, {"rules": [rule]}))
        assert code == 1 and expect in out, out


def test_min_kappa_per_judge_as_a_metric_rule(logs):
    pooled = pool(read_logs([logs["judge"]]))
    policy = parse_policy(
        {
            "checks": {"require_success": False},
            "rules": [{"task": "judge_validation_demo", "metric": "*", "group": "kappa", "min": 0.4}],
        }
    )
    results = evaluate(policy, pooled)
    assert [(r.rule.split("(")[-1], r.value, r.verdict) for r in results] == [
        ("behaviour)", "0.5000", "pass"),
        ("consistency)", "0.5000", "pass"),
    ]
    strict = parse_policy(
        {"rules": [{"task": "judge_validation_demo", "metric": "behaviour", "group": "kappa", "min": 0.6}]}
    )
    assert [r.verdict for r in evaluate(strict, pooled)] == ["pass", "FAIL"]  # status check, then kappa
    bound = parse_policy(
        {
            "rules": [
                {
                    "task": "judge_validation_demo",
                    "metric": "behaviour",
                    "group": "kappa",
                    "compare": "ci_low",
                    "min": 0.1,
                }
            ]
        }
    )
    assert "no interval recorded" in evaluate(bound, pooled)[-1].detail


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "rules:\n  - task: car_sales\n    metric: undesired\n    group: all\n    maxx: 0.1\n",
            "rules[0].maxx: unknown field; valid fields here: name, task, metric, group, compare, max, min,",
        ),
        (
            "rules:\n  - task: car_sales\n    metric: undesired\n    group: all\n"
            "    compare: upper\n    max: 0.1\n",
            "rules[0].compare: must be one of estimate, ci_low, ci_high (got 'upper')",
        ),
        ("rules:\n  - task: car_sales\n    metric: undesired\n    group: all\n", "rules[0]: give a limit"),
        (
            "rules:\n  - task: car_sales\n    group: all\n    max: 1\n",
            "rules[0].metric: required field is missing",
        ),
        (
            "checks:\n  max_unscored_fraction: 2\n",
            "checks.max_unscored_fraction: Input should be less than or equal to 1",
        ),
        (
            "checks:\n  require_sucess: true\n",
            "checks.require_sucess: unknown field; valid fields here: require_success",
        ),
        ("- a list\n", "expected a mapping"),
        ("rules: [\n", "not valid YAML"),
        ("checks:\n  require_success: false\n", "the policy checks nothing"),
    ],
)
def test_bad_policy_exits_2_and_names_the_field(logs, tmp_path, capsys, text, expected):
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as ex:
        load_policy(path)
    assert expected in str(ex.value) and str(path) in str(ex.value)
    code, _, err = gate(capsys, logs["good"], "--policy", path)
    assert code == 2 and expected in err


def test_no_logs_or_unreadable_log_exits_2(tmp_path, capsys):
    policy = write_policy(tmp_path, PASSING)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = gate(capsys, empty, "--policy", policy)
    assert code == 2 and "no Inspect logs" in err
    bad = tmp_path / "broken.eval"
    bad.write_bytes(b"\x00\x01 not an eval log")
    code, _, err = gate(capsys, bad, "--policy", policy)
    assert code == 2 and "broken.eval" in err
    code, _, err = gate(capsys, tmp_path / "missing", "--policy", policy)
    assert code == 2 and "no such file" in err
    code, _, err = gate(capsys, empty, "--policy", tmp_path / "nope.yaml")
    assert code == 2 and "file not found" in err


def test_shipped_examples_are_valid():
    policy = load_policy(ROOT / "examples" / "gate-policy.yaml")
    assert policy.rules and policy.checks.require_success
    workflow = yaml.safe_load((ROOT / "examples" / "ci-gate.yml").read_text())
    steps = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert any("inspect eval refusal_evals/" in s for s in steps)
    assert any("refusal-evals gate" in s and "--junit" in s for s in steps)
