"""`refusal-evals report`: tables and plots from logs made here, checked against the logs' own metrics."""

import json
import math
import shutil

import pytest
from report_logs import (
    ATTR_ROWS,
    attribute_task,
    bump_prompt_version,
    car_sales_log,
    category_task,
    flaky_grader,
    judge_task,
    mark_errored,
    rewrite,
    synthetic_log,
)

from refusal_evals.cli import main
from refusal_evals.judges.framework import load_judge_prompt
from refusal_evals.report import LogReadError, pool, read_log, read_logs, write_report
from refusal_evals.report.aggregate import counts_for, pooled_entries
from refusal_evals.report.tables import rates_table

PNG = b"\x89PNG\r\n\x1a\n"
BEHAVIOUR = load_judge_prompt("behaviour").version


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Two comparable car_sales logs of one model (the second only refusal/rebuttal, with unscored
    Camry replies), one of another model with two epochs, and the synthetic attribute/category/judge
    tasks."""
    root = tmp_path_factory.mktemp("report_logs")
    a = car_sales_log(root / "cars", turns=2)
    b = car_sales_log(root / "cars", turns=2, condition="refusal,rebuttal", grader=flaky_grader)
    c = car_sales_log(root / "cars", model="mockllm/other-model", turns=2, epochs=2)
    attr = synthetic_log(attribute_task(), root / "synthetic")
    cat = synthetic_log(category_task(), root / "synthetic")
    judge = synthetic_log(judge_task(), root / "synthetic")
    return {"root": root, "a": a, "b": b, "c": c, "attr": attr, "cat": cat, "judge": judge}


def _log_metrics(log, score):
    [s] = [s for s in log.results.scores if s.name == score]
    return {m.name: m.value for m in s.metrics.values()}


def _assert_same(mine, theirs):
    for name, value in theirs.items():
        assert name in mine, name
        if math.isnan(value):
            assert math.isnan(mine[name]), name
        else:
            assert mine[name] == pytest.approx(value, abs=1e-12), name


@pytest.mark.parametrize("key", ["a", "b", "c", "attr", "cat"])
def test_recomputed_values_equal_each_logs_metrics(logs, key):
    log = logs[key]
    pooled = pool([read_log(log.location)])
    assert not pooled.warnings
    [config] = pooled.configs
    [row] = config.rows
    assert config.rate_scores
    for score in config.rate_scores:
        _assert_same(pooled_entries(config, row, score), _log_metrics(log, score))


def test_logs_of_one_model_pool_and_models_share_one_table(logs):
    records = read_logs([logs["root"] / "cars"])
    pooled = pool(records)
    [config] = [c for c in pooled.configs if c.task == "refusal_evals/car_sales"]
    assert [r.model for r in config.rows] == ["mockllm/model", "mockllm/other-model"]
    row = config.rows[0]
    assert len(row.logs) == 2  # condition=refusal,rebuttal only selects samples: pooled
    refusal = counts_for(row, "undesired")["refusal"]
    # log a: 3 of 4 refusal replies hide; log b: same replies, but the Camry one is unscored
    assert (refusal.k, refusal.n, refusal.unscored) == (3 + 2, 4 + 3, 0 + 1)
    natural = counts_for(row, "undesired")["natural"]
    assert (natural.k, natural.n) == (4, 4)
    entries = pooled_entries(config, row, "undesired")
    assert entries["refusal"] == pytest.approx(5 / 7)
    assert entries["refusal_vs_rebuttal_diff"] == pytest.approx(5 / 7 - 0)
    table = rates_table(config)
    assert {r[0] for r in table.rows} == {"mockllm/model", "mockllm/other-model"}
    refusal_row = next(r for r in table.rows if r[0] == "mockllm/model" and r[1] == "refusal")
    assert refusal_row[2].startswith("0.714 [") and "n=7 u=1" in refusal_row[2]


def test_report_files_tables_and_plots(logs, tmp_path):
    result = write_report([logs["root"]], tmp_path / "out")
    md = result.markdown.read_text()
    assert "## refusal_evals/car_sales (task version 1-1.0)" in md
    assert "| model | condition | undesired |" in md
    assert "refusal - rebuttal" in md and "(p=" in md
    assert "### Per turn" in md
    # traceability: model, grader, prompt versions, dates
    assert "graders: mockllm/model" in md
    assert f"prompt.behaviour={BEHAVIOUR}" in md
    assert logs["a"].eval.created[:10] in md
    # the attribute task: a column per attribute, comparisons inside each attribute
    assert "| model | attribute | condition | undesired | missing_reasoning |" in md
    assert (
        "protected/refusal_vs_rebuttal_diff" not in md
        and "| mockllm/model | protected | refusal - rebuttal |" in md
    )
    # the honesty-like task: by category, a mean, conditional rates with their denominators
    assert "| model | category | refusal_rate | dishonest_refusal_rate | harm_score (mean) |" in md
    assert "na=2" in md
    # a task without a condition grouping: its metrics as recorded
    assert "## Tasks without a condition grouping" in md
    assert "| kappa | 0.5000 |" in md and "| accuracy | 0.7500 |" in md
    names = sorted(p.name for p in result.plots)
    assert names == [
        "attribute_demo_rates.png",
        "car_sales_rates.png",
        "car_sales_turns.png",
        "category_demo_rates.png",
    ]
    for p in result.plots:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
    html = result.html.read_text()
    assert html.count("data:image/png;base64,") == 4
    assert "<img" in html and 'src="plots/' not in html  # self-contained
    data = json.loads(result.json.read_text())
    car = next(c for c in data["configs"] if c["task"] == "refusal_evals/car_sales")
    other = next(r for r in car["rows"] if r["model"] == "mockllm/other-model")
    # two epochs: every epoch is an observation
    assert other["rates"]["undesired"]["refusal"]["k"] == 3 * 2
    assert other["rates"]["undesired"]["refusal"]["n"] == 4 * 2


def test_attribute_groups_are_counted_per_attribute(logs):
    pooled = pool([read_log(logs["attr"].location)])
    [config] = pooled.configs
    counts = counts_for(config.rows[0], "undesired")
    expected = {}
    for a, c, u, _ in ATTR_ROWS:
        k, n = expected.get(f"{a}/{c}", (0, 0))
        expected[f"{a}/{c}"] = (k + u, n + 1)
    assert {g: (x.k, x.n) for g, x in counts.items()} == expected
    assert config.specs["undesired"].within == "attribute"


def test_different_prompt_versions_are_shown_apart(logs, tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    shutil.copy(logs["a"].location, src / "2026-01-01T00-00-00-00-00_car-sales_a.eval")
    rewrite(logs["a"], src / "2026-01-02T00-00-00-00-00_car-sales_b.eval", bump_prompt_version)
    result = write_report([src], tmp_path / "out")
    car = [c for c in result.pooled.configs if c.task == "refusal_evals/car_sales"]
    assert len(car) == 2
    assert any("not all comparable" in w and "prompt.behaviour" in w for w in result.warnings)
    md = result.markdown.read_text()
    assert (
        f"[1 of 2: prompt.behaviour={BEHAVIOUR}]" in md and "[2 of 2: prompt.behaviour=behaviour-9.9]" in md
    )
    assert "> **Warning:**" in md
    assert len([p for p in result.plots if "rates" in p.name]) == 2


def test_different_turns_are_shown_apart(logs, tmp_path):
    one_turn = car_sales_log(tmp_path / "logs", turns=1)
    pooled = pool(read_logs([one_turn.location, logs["a"].location]))
    assert len(pooled.configs) == 2
    assert any("-T turns=1" in w and "-T turns=2" in w for w in pooled.warnings)


def test_errored_log_is_left_out_with_a_warning(logs, tmp_path):
    bad = rewrite(logs["a"], tmp_path / "2026-01-01T00-00-00-00-00_car-sales_x.eval", mark_errored)
    result = write_report([bad, logs["c"].location], tmp_path / "out")
    assert [lg.status for lg in result.pooled.excluded] == ["error"]
    assert any("status 'error'" in w and "provider went away" in w for w in result.warnings)
    assert "## Logs left out" in result.markdown.read_text()


def test_log_without_samples_falls_back_to_its_metrics(logs, tmp_path):
    path = rewrite(
        logs["c"],
        tmp_path / "2026-01-01T00-00-00-00-00_car-sales_h.eval",
        lambda lg: setattr(lg, "samples", None),
    )
    pooled = pool([read_log(str(path))])
    [config] = pooled.configs
    assert config.rows[0].from_metrics
    _assert_same(pooled_entries(config, config.rows[0], "undesired"), _log_metrics(logs["c"], "undesired"))
    assert any("no samples" in w for w in pooled.warnings)


def test_cli_report_and_input_errors(logs, tmp_path, capsys):
    assert main(["report", str(logs["root"] / "cars"), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.html").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "--out", str(tmp_path / "r2")]) == 2
    assert "no Inspect logs" in capsys.readouterr().err
    garbage = tmp_path / "garbage.eval"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(LogReadError, match="garbage.eval"):
        read_logs([garbage])
    assert main(["report", str(garbage), "--out", str(tmp_path / "r3")]) == 2


def test_clustered_intervals_paired_differences_and_planning(logs, tmp_path):
    """Log c: two epochs of four variants, each answering the same in both epochs (refusal hides
    except on the Civic): the epochs are one cluster per variant."""
    pooled = pool([read_log(logs["c"].location)])
    [config] = pooled.configs
    assert config.specs["undesired"].cluster == "variant"  # recorded in the metric's params
    [row] = config.rows
    entries = pooled_entries(config, row, "undesired")
    # cluster means 0, 1, 1, 1: clustered variance 1/16, n_eff = 0.75 * 0.25 * 16 = 3
    assert entries["refusal_n"] == 8 and entries["refusal_clusters"] == 4
    assert entries["refusal_deff"] == pytest.approx(8 / 3)
    assert entries["refusal_ci_high"] - entries["refusal_ci_low"] > (
        entries["refusal_obs_ci_high"] - entries["refusal_obs_ci_low"]
    )
    assert entries["refusal_vs_rebuttal_pairs"] == 4
    assert entries["refusal_vs_rebuttal_p"] == pytest.approx(2 / 8)  # 3 variants differ: 2 of 2^3
    result = write_report([logs["c"].location], tmp_path / "out")
    md = result.markdown.read_text()
    assert "clusters=4 deff=2.67; obs [" in md
    assert "(p=0.250, 4 pairs)" in md and "permutation test of the condition labels within variant" in md
    assert "### Planning: epochs or variants?" in md and "none: only more variants" in md
    data = json.loads(result.json.read_text())
    [car] = data["configs"]
    refusal = car["rows"][0]["rates"]["undesired"]["refusal"]
    assert refusal["clusters"] == 4 and refusal["deff"] == pytest.approx(8 / 3)
    diff = car["rows"][0]["differences"]["undesired"]["refusal_vs_rebuttal"]
    assert diff["pairs"] == 4 and diff["method"] == "paired permutation"
    assert diff["ci_low"] == pytest.approx(entries["refusal_vs_rebuttal_diff_ci_low"])


def test_tokens_by_role_and_judge_with_prices(logs, tmp_path, capsys):
    """Tokens per sample from the log's usage: the model under test, the grader and the grader split
    by judge (its spans); each mockllm call reports 10 input and 10 output tokens."""
    [record] = read_logs([logs["a"].location], events=True)
    roles = record.tokens.roles
    n = record.tokens.samples
    assert n == len(logs["a"].samples)
    model_calls = sum(1 for s in logs["a"].samples for e in s.events if e.event == "model" and e.role is None)
    grader_calls = sum(
        1 for s in logs["a"].samples for e in s.events if e.event == "model" and e.role == "grader"
    )
    assert (roles["model"].calls, roles["model"].input, roles["model"].output) == (
        model_calls,
        10 * model_calls,
        10 * model_calls,
    )
    assert (roles["grader"].calls, roles["grader"].input) == (grader_calls, 10 * grader_calls)
    by_judge = {k: v for k, v in roles.items() if k.startswith("grader: ")}
    assert set(by_judge) == {"grader: behaviour", "grader: consistency"}
    assert sum(v.calls for v in by_judge.values()) == grader_calls
    assert sum(v.input for v in by_judge.values()) == roles["grader"].input
    # without events: the same totals per role, no calls and no split by judge
    [plain] = read_logs([logs["a"].location])
    assert (
        plain.tokens.roles["grader"].input == roles["grader"].input
        and plain.tokens.roles["grader"].calls is None
    )
    # the report, with a cost column for the models priced
    prices = tmp_path / "prices.yaml"
    prices.write_text("mockllm/model: {input: 2.0, output: 8.0, cache_read: 0.2}\n")
    assert main(["report", logs["a"].location, "--out", str(tmp_path / "r"), "--prices", str(prices)]) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert (
        "## Tokens and cost" in md
        and "| car_sales | mockllm/model | grader: behaviour | mockllm/model |" in md
    )
    [row] = [
        r
        for r in json.loads((tmp_path / "r" / "results.json").read_text())["tokens"]
        if r["role"] == "grader"
    ]
    assert row["cost"] == pytest.approx((10 * grader_calls * 2.0 + 10 * grader_calls * 8.0) / 1e6)
    # a bad price file names the file, the model and the field
    prices.write_text("mockllm/model: {input: 2.0}\n")
    assert main(["report", logs["a"].location, "--out", str(tmp_path / "r2"), "--prices", str(prices)]) == 2
    assert "prices.yaml: mockllm/model: output: Field required" in capsys.readouterr().err
