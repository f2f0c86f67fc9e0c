"""Published harmful-request lists load by path (issue 14): StrongREJECT, HarmBench and AdvBench CSV
layouts detected from the header and named in the log, other columns mapped with ``-T columns``, a
header matching none refused with the columns found and expected, and a 100,000-row file validated in
seconds. The fixtures in tests/data/harmful_requests have the real headers and placeholder rows."""

import time
from pathlib import Path

import pytest
from conftest import scripted
from inspect_ai import eval

from refusal_evals.core.args import TaskArgError
from refusal_evals.core.files import DataFileError
from refusal_evals.dishonest_refusal.requests import load_requests, parse_columns, request_samples

DATA = Path(__file__).parents[1] / "data" / "harmful_requests"


def test_strongreject_layout():
    requests = load_requests(str(DATA / "strongreject.csv"))
    assert requests.layout == {
        "format": "strongreject",
        "columns": {"category": "category", "prompt": "forbidden_prompt", "source": "source"},
    }
    assert [i.id for i in requests.items] == ["row1", "row2", "row3"]
    assert requests.items[0].prompt == "Placeholder request one, with a comma."
    assert requests.items[2].prompt == "Placeholder request three\nover two lines."
    assert requests.categories() == ("disinformation_and_deception", "illegal_goods_and_services", "violence")


def test_harmbench_layout():
    requests = load_requests(str(DATA / "harmbench.csv"))
    assert requests.layout == {
        "format": "harmbench",
        "columns": {
            "prompt": "Behavior",
            "category": "SemanticCategory",
            "id": "BehaviorID",
            "context": "ContextString",
        },
    }
    by_id = {i.id: i for i in requests.items}
    assert list(by_id) == [
        "placeholder_behavior_one",
        "placeholder_behavior_two",
        "placeholder_contextual_one",
        "placeholder_copyright_one",
    ]
    assert by_id["placeholder_behavior_two"].prompt == "Placeholder behavior two, with a comma"
    assert by_id["placeholder_behavior_two"].slug == "cybercrime_intrusion"
    # a contextual behavior: its context, then the behavior (HarmBench's own template)
    assert by_id["placeholder_contextual_one"].prompt == (
        "Placeholder context paragraph,\non two lines.\n\n---\n\nPlaceholder behavior about the text above"
    )
    assert (
        by_id["placeholder_behavior_one"].source is None and by_id["placeholder_behavior_one"].probe is None
    )


def test_advbench_layout():
    requests = load_requests(str(DATA / "advbench.csv"))
    assert requests.layout == {"format": "advbench", "columns": {"prompt": "goal"}}
    assert [(i.id, i.slug, i.prompt) for i in requests.items] == [
        ("row1", "advbench", "Placeholder goal one"),
        ("row2", "advbench", "Placeholder goal two"),
    ]


def test_header_matching_is_case_insensitive(tmp_path):
    path = tmp_path / "upper.csv"
    path.write_text("GOAL,TARGET\nPlaceholder,Sure\n", encoding="utf-8")
    requests = load_requests(str(path))
    assert requests.layout == {"format": "advbench", "columns": {"prompt": "GOAL"}}


def test_user_columns(tmp_path):
    columns = parse_columns(["prompt:question", "category:topic", "id:ref"])
    requests = load_requests(str(DATA / "custom.csv"), columns)
    assert requests.layout == {
        "format": "columns",
        "columns": {"prompt": "question", "category": "topic", "id": "ref"},
    }
    assert [(i.id, i.slug, i.prompt) for i in requests.items] == [
        ("q-1", "topic_a", "Placeholder question one"),
        ("q-2", "topic_b", "Placeholder question two"),
    ]
    # without a category column every item is "uncategorized"
    only_prompt = load_requests(str(DATA / "custom.csv"), parse_columns("prompt:question"))
    assert {i.slug for i in only_prompt.items} == {"uncategorized"}
    # a mapping overrides the detected layout
    mapped = load_requests(str(DATA / "advbench.csv"), parse_columns("prompt:target"))
    assert mapped.items[0].prompt == "Sure, here is placeholder one"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("prompt:q", (("prompt", "q"),)),
        (["prompt:q", "category: my topic "], (("prompt", "q"), ("category", "my topic"))),
        ({"prompt": "q", "id": "k"}, (("prompt", "q"), ("id", "k"))),
        ("prompt:a:b", (("prompt", "a:b"),)),
        (None, None),
    ],
)
def test_parse_columns(value, expected):
    assert parse_columns(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("prompt", "-T columns: 'prompt' is not field:column, e.g. -T columns=prompt:my_col"),
        ("prompt:q,colour:c", "-T columns: unknown field colour; valid fields: prompt, category, id, source"),
        ("category:c", "-T columns: name the prompt column once"),
        ("prompt:a,prompt:b", "-T columns: name the prompt column once"),
    ],
)
def test_bad_columns(value, message):
    with pytest.raises(TaskArgError) as err:
        parse_columns(value)
    assert message in str(err.value)


def test_columns_not_in_the_header():
    path = DATA / "custom.csv"
    with pytest.raises(DataFileError) as err:
        load_requests(str(path), parse_columns("prompt:question,category:subject"))
    assert str(err.value) == (
        f"{path}: line 1 (header): -T columns names subject, not in the header; found question, topic, ref"
    )


def test_a_header_matching_no_layout_names_found_and_expected():
    path = DATA / "custom.csv"
    with pytest.raises(DataFileError) as err:
        load_requests(str(path))
    message = str(err.value)
    assert message.startswith(
        f"{path}: line 1 (header): the columns match no known layout; found question, topic, ref. Expected "
    )
    for expected in [
        "StrongREJECT: category, forbidden_prompt (optionally source, id, probe, knowledge) "
        "(missing category, forbidden_prompt)",
        "HarmBench: Behavior, SemanticCategory (optionally BehaviorID, ContextString) "
        "(missing Behavior, SemanticCategory)",
        "AdvBench: goal, target (missing goal, target)",
        "-T columns=prompt:<column>[,category:<column>,id:<column>,...]",
    ]:
        assert expected in message


def run(log_dir, calls, **task_args):
    def never(messages):
        calls.append(messages)
        return "x"

    return eval(
        "refusal_evals/dishonest_refusal",
        model=scripted(never),
        model_roles={"grader": scripted(never)},
        task_args=task_args,
        limit=0,
        log_dir=log_dir,
        display="none",
    )


@pytest.mark.parametrize(
    ("name", "args", "layout"),
    [
        ("harmbench.csv", {}, "harmbench"),
        ("advbench.csv", {}, "advbench"),
        ("strongreject.csv", {}, "strongreject"),
        ("custom.csv", {"columns": "prompt:question,category:topic"}, "columns"),
    ],
)
def test_layout_is_named_in_the_log(log_dir, name, args, layout):
    calls = []
    [log] = run(log_dir, calls, dataset=str(DATA / name), **args)
    assert log.status == "success", log.error
    assert log.eval.metadata["dataset_layout"]["format"] == layout
    experiment = log.eval.metadata["experiment"]
    assert experiment["settings"]["columns"] == (
        {"prompt": "question", "category": "topic"} if args else None
    )
    assert calls == []


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"dataset": str(DATA / "custom.csv")}, DataFileError, "the columns match no known layout"),
        ({"columns": "prompt:q"}, TaskArgError, "-T columns maps the columns of a -T dataset=<file>.csv"),
        (
            {"dataset": str(DATA / "custom.csv"), "columns": "prompt:nope"},
            DataFileError,
            "-T columns names nope, not in the header",
        ),
        ({"dataset": str(DATA / "custom.csv"), "columns": "nope"}, TaskArgError, "is not field:column"),
    ],
)
def test_layout_errors_come_before_any_model_call(log_dir, args, error, message):
    calls = []
    with pytest.raises(error) as err:
        run(log_dir, calls, **args)
    assert message in str(err.value)
    assert calls == []


def test_columns_with_another_format_is_refused(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": "a", "prompt": "p", "category": "c"}\n', encoding="utf-8")
    with pytest.raises(
        TaskArgError, match=r"-T columns maps the columns of a .csv file; .*items.jsonl is not one"
    ):
        load_requests(str(path), parse_columns("prompt:prompt"))


def test_100000_rows_validate_in_seconds(tmp_path):
    path = tmp_path / "big.csv"
    rows = "".join(
        f"Placeholder behavior {i},standard,category_{i % 7},,,behavior_{i}\n" for i in range(100_000)
    )
    path.write_text("Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n" + rows)
    start = time.perf_counter()
    requests = load_requests(str(path))
    samples = request_samples(requests)
    elapsed = time.perf_counter() - start
    assert len(requests.items) == len(samples) == 100_000
    assert elapsed < 30, f"{elapsed:.1f}s"  # linear: a few seconds; the quadratic check took hours

    dupes = tmp_path / "dupes.csv"
    dupes.write_text(path.read_text() + "Another,standard,x,,,behavior_5\n")
    start = time.perf_counter()
    with pytest.raises(
        DataFileError, match=r"row 100001 \(line 100002\): field 'BehaviorID': 'behavior_5' is already"
    ):
        load_requests(str(dupes))
    assert time.perf_counter() - start < 30
