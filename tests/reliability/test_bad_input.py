"""Bad task arguments and bad data files fail before any request reaches the server."""

from __future__ import annotations

import pytest
from fakes.openai_server import FakeOpenAIServer

from ._support import Run, assert_no_secret, demo_reply, run_eval, run_in_parallel

BAD_YAML = """\
id: my_requests
version: "1.0"
requests:
  - id: one
    prompt: 12
    categroy: misc
"""

CASES = {
    "bad_condition": ("refusal_evals/car_sales", ("-T", "condition=bogus"), "condition"),
    "bad_turns": ("refusal_evals/car_sales", ("-T", "turns=99"), "turns"),
    "bad_data_file": ("refusal_evals/dishonest_refusal", ("-T", "dataset={bad}"), "bad.yaml"),
    "missing_data_file": ("refusal_evals/dishonest_refusal", ("-T", "dataset={missing}"), "missing.csv"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, FakeOpenAIServer]]:
    tmp = tmp_path_factory.mktemp("bad_input")
    bad = tmp / "bad.yaml"
    bad.write_text(BAD_YAML)
    out: dict[str, tuple[Run, FakeOpenAIServer]] = {}

    def go(name: str) -> None:
        task, args, _ = CASES[name]
        args = tuple(a.format(bad=bad, missing=tmp / "missing.csv") for a in args)
        with FakeOpenAIServer(demo_reply) as server:
            out[name] = (run_eval(server.base_url, tmp / name, *args, task=task), server)

    run_in_parallel(go, CASES)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_fails_before_any_request(runs: dict[str, tuple[Run, FakeOpenAIServer]], name: str) -> None:
    run, server = runs[name]
    output = run.proc.stdout + run.proc.stderr
    assert server.generation_requests == [], name
    assert run.proc.returncode != 0 or "error" in output.lower(), output[-2000:]
    assert CASES[name][2] in output, output[-3000:]  # the message names the argument / file
    for log in run.logs:
        assert not log.samples, name  # nothing ran
    if run.log_dir.exists():
        assert_no_secret(run.log_dir)
