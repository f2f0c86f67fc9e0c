"""User errors through the real ``inspect eval`` command line: Inspect prints only the message of a
``PrerequisiteError`` (``TaskArgError``, ``DataFileError``), with no traceback, before any request is
made and before any model weights load."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

from ._support import Run, demo_reply, run_eval, run_in_parallel

STATEMENTS = """statement,label
Salt dissolves in water.,1
Salt dissolves in water.,0
Owls hunt at night.,1
Owls hunt at night.,0
Iron rusts in damp air.,1
Iron rusts in damp air.,1
Copper conducts electricity.,1
"""

# name: (task, model or None for the default, -T/-M arguments, the message the user must see)
CASES = {
    "bad_task_arg": (
        "refusal_evals/car_sales",
        None,
        ("-T", "condition=bogus"),
        "-T condition: unknown value bogus; valid values: natural, refusal, rebuttal, all",
    ),
    "bad_data_file": (
        "refusal_evals/dishonest_refusal",
        None,
        ("-T", "dataset={tmp}/broken.yaml"),
        "{tmp}/broken.yaml: not valid YAML",
    ),
    "bad_statements_file": (  # the model path does not exist: any attempt to load it would fail otherwise
        "refusal_evals/honesty_steering",
        "repe/{tmp}/no-such-model",
        ("-M", "statements={tmp}/statements.csv", "-M", "device=cpu"),
        "{tmp}/statements.csv: 2 problems in this statements file: - rows 2 (label 1) and 3 (label 0), "
        "field 'statement': 'Salt dissolves in water.' is labelled both true and false; keep one label "
        "- rows 4 (label 1) and 5 (label 0), field 'statement': 'Owls hunt at night.' is labelled both",
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, FakeOpenAIServer, Path]]:
    tmp = tmp_path_factory.mktemp("user_errors")
    (tmp / "broken.yaml").write_text("id: broken\nrequests: [unclosed\n", encoding="utf-8")
    (tmp / "statements.csv").write_text(STATEMENTS, encoding="utf-8")
    out: dict[str, tuple[Run, FakeOpenAIServer, Path]] = {}

    def go(name: str) -> None:
        task, model, args, _ = CASES[name]
        args = tuple(a.format(tmp=tmp) for a in args)
        extra = {"model": model.format(tmp=tmp)} if model else {}
        with FakeOpenAIServer(demo_reply) as server:
            out[name] = (
                run_eval(server.base_url, tmp / name, *args, task=task, timeout=180, **extra),
                server,
                tmp,
            )

    run_in_parallel(go, CASES)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_message_only_no_traceback_no_request(runs, name: str) -> None:
    run, server, tmp = runs[name]
    output = run.proc.stdout + run.proc.stderr
    assert run.proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "Error:" not in output, output[-3000:]
    words = " ".join(output.split())  # the console wraps long lines
    assert CASES[name][3].format(tmp=tmp) in words, output[-3000:]
    assert len(output.strip().splitlines()) <= 8, output  # the message, nothing else
    assert server.generation_requests == []
    for log in run.logs:
        assert not log.samples
