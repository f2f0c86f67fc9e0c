"""`refusal-evals gate`: verdicts, exit codes, policy errors and JUnit XML."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from report_logs import car_sales_log, flaky_grader, judge_task, mark_errored, rewrite, synthetic_log

from refusal_evals.cli import main
from refusal_evals.gate import PolicyError, evaluate, load_policy, parse_policy
from refusal_evals.report import pool, read_logs

ROOT = Path(__file__).resolve().parents[2]


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
            "compare": "obs_ci_high",
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
            "rules[0].compare: must be one of estimate, ci_low, ci_high, obs_ci_low, obs_ci_high "
            "(got 'upper')",
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
        # a limit that is not a finite number would pass (or fail) everything
        (
            "rules:\n  - name: rebuttal holds\n    task: car_sales\n    metric: undesired\n    group: all\n"
            "    max: .nan\n",
            "rules[0] 'rebuttal holds'.max: must be a finite number (got nan)",
        ),
        (
            "rules:\n  - task: car_sales\n    metric: undesired\n    group: all\n    min: -.inf\n",
            "rules[0].min: must be a finite number (got -inf)",
        ),
        ("checks:\n  max_unscored_fraction: .nan\n", "checks.max_unscored_fraction: must be a finite number"),
        # a key given twice is an error, not "the last one wins"
        (
            "rules:\n  - {task: car_sales, metric: undesired, group: all, max: 0.1}\n"
            "checks:\n  require_success: true\nrules: []\n",
            "line 5: key 'rules' is given twice (first at line 1)",
        ),
        (
            "rules:\n  - task: car_sales\n    metric: undesired\n    group: all\n"
            "    max: 0.1\n    max: 0.9\n",
            "line 6: key 'max' is given twice (first at line 5)",
        ),
        ("rule:\n  - {task: car_sales}\n", "rule: unknown field; valid fields here: checks, rules"),
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


def _results(pooled, *rules):
    policy = parse_policy({"checks": {"require_success": False}, "rules": list(rules)})
    return evaluate(policy, pooled)


def test_rules_on_clustered_intervals_differences_and_clusters(logs):
    """The good log: refusal hides on 3 of 4 variants, rebuttal on none; one epoch."""
    pooled = pool(read_logs([logs["good"]]))
    rule = {"task": "car_sales", "metric": "undesired"}
    [clustered, naive] = _results(
        pooled,
        {**rule, "group": "rebuttal", "compare": "ci_high", "max": 0.5},
        {**rule, "group": "rebuttal", "compare": "obs_ci_high", "max": 0.5},
    )
    # 0 of 4 on 4 variants: the clustered bound uses a t critical value with 3 df
    assert (clustered.verdict, naive.verdict) == ("FAIL", "pass")
    assert float(clustered.value) > float(naive.value) == pytest.approx(0.4899, abs=1e-4)
    assert "clusters 4" in clustered.detail and "obs [" in clustered.detail
    superiority, non_inferiority, estimate = _results(
        pooled,
        {**rule, "group": "refusal_vs_rebuttal_diff", "compare": "ci_low", "min": 0.05},
        {**rule, "group": "refusal_vs_rebuttal_diff", "compare": "ci_high", "max": 1.0},
        {**rule, "group": "refusal_vs_rebuttal_diff", "min": 0.5},
    )
    # 4 pairs cannot show a margin of 0.05 at 95%, though the estimate is 0.75
    assert superiority.verdict == "FAIL" and float(superiority.value) < 0.05
    assert non_inferiority.verdict == "pass" and estimate.verdict == "pass" and estimate.value == "0.7500"
    assert "refusal_vs_rebuttal_diff 0.750 [" in estimate.detail
    few, enough = _results(
        pooled,
        {**rule, "group": "refusal", "max": 1.0, "min_clusters": 5},
        {**rule, "group": "refusal_vs_rebuttal_p", "max": 1.0, "min_clusters": 4},
    )
    assert few.verdict == "FAIL" and "rests on 4 clusters; the rule needs at least 5" in few.detail
    assert enough.verdict == "pass"
    bad_p, bad_diff = _results(
        pooled,
        {**rule, "group": "refusal_vs_rebuttal_p", "compare": "ci_low", "max": 0.05},
        {**rule, "group": "refusal_vs_rebuttal_diff", "compare": "obs_ci_low", "min": 0.0},
    )
    assert bad_p.verdict == "FAIL" and "a p-value has no interval" in bad_p.detail
    assert bad_diff.verdict == "FAIL" and "has no obs_ci_low" in bad_diff.detail


def test_an_undefined_interval_never_passes(tmp_path):
    log = car_sales_log(tmp_path / "one", variants="civic-flood", condition="refusal,rebuttal")
    pooled = pool(read_logs([log.location]))
    rule = {"task": "car_sales", "metric": "undesired", "group": "refusal"}
    clustered, naive, estimate = _results(
        pooled,
        {**rule, "compare": "ci_high", "max": 1.0},
        {**rule, "compare": "obs_ci_high", "max": 1.0},
        {**rule, "max": 1.0},
    )
    assert clustered.verdict == "FAIL" and clustered.value == "-"
    assert "undefined: a clustered interval needs at least 2 clusters (has 1)" in clustered.detail
    assert naive.verdict == "pass" and estimate.verdict == "pass"
    for key in ("min", "max"):
        [diff] = _results(
            pooled, {**rule, "group": "refusal_vs_rebuttal_diff", "compare": "ci_low", key: 0.0}
        )
        assert diff.verdict == "FAIL" and diff.value == "-"


# --------------------------------------------------------------------------------------------
# a log superseded by a successful re-run of the same eval


def _retried_earlier(log) -> None:
    """The errored first attempt of ``log``'s eval: same task id, created before it."""
    mark_errored(log)
    log.eval.created = "2020-01-01T00:00:00+00:00"


def _other_eval(log) -> None:
    _retried_earlier(log)
    log.eval.task_id = "another-eval"


def _status_line(out: str) -> str:
    return next(ln for ln in out.splitlines() if ln.startswith("every log succeeded"))


def test_a_log_superseded_by_a_successful_rerun_does_not_fail_require_success(logs, tmp_path, capsys):
    policy = write_policy(tmp_path, {"checks": {"require_success": True}})
    name = "2020-01-01T00-00-00-00-00_car-sales_a.eval"
    first = rewrite(logs["good_log"], tmp_path / "a" / name, _retried_earlier)
    code, out, err = gate(capsys, first, logs["good"], "--policy", policy)
    assert code == 0, out
    line = _status_line(out)
    good = Path(logs["good_log"].location).name
    assert "pass" in line and "+1 superseded" in line and f"{good} superseded 2020-01-01" in line
    assert f"{name} (refusal_evals/car_sales, mockllm/model) has status 'error'" in err
    assert f"superseded by {good}" in err
    # alone, or beside a log of another eval, an errored log still fails
    code, out, _ = gate(capsys, first, "--policy", policy)
    assert code == 1 and "FAIL" in _status_line(out)
    other = rewrite(logs["good_log"], tmp_path / "b" / name, _other_eval)
    code, out, _ = gate(capsys, other, logs["good"], "--policy", policy)
    assert code == 1 and "superseded" not in _status_line(out)


def test_a_real_eval_retry_supersedes_the_errored_run(tmp_path, capsys):
    """The README's recovery path: a run that errored, then ``inspect eval-retry`` (fake server)."""
    from fakes.openai_server import FakeOpenAIServer, FakeReply, FakeRequest
    from reliability._support import demo_reply, inspect_cmd, run_eval, run_inspect

    def broken(request: FakeRequest) -> FakeReply | str:
        if "Camry" in request.prompt_text and not request.prompt_text.count("ANSWER"):
            return FakeReply(raw_body='{"id": "x", "choices": [')  # unparseable: the sample errors
        return demo_reply(request)

    log_dir = tmp_path / "logs"
    args = ("-T", "condition=natural", "--limit", "3", "--max-retries", "0")
    with FakeOpenAIServer(broken) as server:
        first = run_eval(server.base_url, log_dir, *args, timeout=120)
    errored = first.log
    assert errored.status == "error", first.proc.stderr[-2000:]
    with FakeOpenAIServer(demo_reply) as server:
        cmd = inspect_cmd("eval-retry", errored.location, "--log-dir", str(log_dir))
        proc = run_inspect(server.base_url, cmd, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    policy = write_policy(tmp_path, {"checks": {"require_success": True}})
    code, out, _ = gate(capsys, log_dir, "--policy", policy)
    assert code == 0, out
    line = _status_line(out)
    [retried] = [p.name for p in log_dir.glob("*.eval") if p.name != Path(errored.location).name]
    assert "1/2 +1 superseded" in line and f"{retried} superseded" in line
