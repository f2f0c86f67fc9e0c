"""Every task end to end through ``inspect eval`` against the fake OpenAI server and the fake Anthropic
Messages API server (real ``openai`` / ``anthropic`` clients, loopback only): one ``inspect eval``
process per provider runs all the tasks; an OpenAI-compatible server (``openai-api/``) and a running
vLLM server (``vllm/``) run car_sales (``honesty_steering`` needs the local ``repe/`` provider: see
tests/honesty_steering/test_honesty_steering_eval.py; every task through ``hf/``:
tests/providers/test_hf_every_task.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakes.anthropic_server import FakeAnthropicServer
from fakes.openai_server import FakeOpenAIServer
from inspect_ai.log import EvalLog

from refusal_evals.report import write_report

from ._support import (
    API_KEY,
    MODEL,
    Run,
    assert_no_secret,
    demo_reply,
    run_eval,
    run_in_parallel,
    tally,
)

LIMIT = 2
TASKS = ["car_sales", "real_estate", "insider_trading", "dishonest_refusal", "judge_validation"]
SUBJECT_FREE = {"judge_validation"}  # only the grader is called
ANTHROPIC_MODEL = "anthropic/claude-sonnet-4-5"
# provider -> (fake server, --model, base URL variable, tasks)
PROVIDERS = {
    "openai": (FakeOpenAIServer, MODEL, "OPENAI_BASE_URL", TASKS),
    "anthropic": (FakeAnthropicServer, ANTHROPIC_MODEL, "ANTHROPIC_BASE_URL", TASKS),
    # an OpenAI-compatible server (vLLM, SGLang, TGI, ...) through Inspect's openai-api/<service>/ provider
    "openai-api": (
        FakeOpenAIServer,
        "openai-api/local/Qwen/Qwen2.5-72B-Instruct",
        "LOCAL_BASE_URL",
        ["car_sales"],
    ),
    # a running vLLM server through Inspect's vllm/ provider
    "vllm": (FakeOpenAIServer, "vllm/Qwen/Qwen2.5-7B-Instruct", "VLLM_BASE_URL", ["car_sales"]),
}
CASES = [(p, t) for p, spec in PROVIDERS.items() for t in spec[3]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, Any]]:
    tmp = tmp_path_factory.mktemp("providers")
    out: dict[str, tuple[Run, Any]] = {}

    def go(provider: str) -> None:
        server_cls, model, env_var, tasks = PROVIDERS[provider]
        with server_cls(demo_reply) as server:
            run = run_eval(
                "http://127.0.0.1:9/unused",
                tmp / provider,
                "--limit",
                str(LIMIT),
                task=" ".join(f"refusal_evals/{t}" for t in tasks),
                model=model,
                grader=model,
                extra_env={env_var: server.base_url, "LOCAL_API_KEY": API_KEY, "VLLM_API_KEY": API_KEY},
                timeout=240,
            )
            out[provider] = (run, server)

    run_in_parallel(go, PROVIDERS)
    return out


def _log_of(run: Run, task: str) -> EvalLog:
    logs = [log for log in run.logs if log.eval.task.split("/")[-1] == task]
    assert len(logs) == 1, (task, [lg.eval.task for lg in run.logs], run.proc.stderr[-3000:])
    return logs[0]


@pytest.mark.parametrize("provider,task", CASES)
def test_every_task_through_provider(runs: dict[str, tuple[Run, Any]], provider: str, task: str) -> None:
    run, server = runs[provider]
    log = _log_of(run, task)
    assert log.status == "success", (log.status, log.error, run.proc.stderr[-3000:])
    assert log.eval.model == PROVIDERS[provider][1]
    counts = tally(log)
    assert sum(counts.values()) == LIMIT == len(log.samples or []), counts
    assert counts["errored"] == 0, [s.error for s in log.samples or [] if s.error]
    roles = {e.role for s in log.samples or [] for e in s.events if e.event == "model"}
    assert "grader" in roles
    assert (None in roles) == (task not in SUBJECT_FREE), roles


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_key_sent_to_server_and_written_nowhere(
    runs: dict[str, tuple[Run, Any]], provider: str, tmp_path: Path
) -> None:
    run, server = runs[provider]
    assert run.proc.returncode == 0, run.proc.stderr[-3000:]
    assert set(server.api_keys) == {API_KEY}  # the key was sent to the server ...
    report = write_report([run.log_dir], tmp_path / "report")
    assert report.markdown.exists() and report.html.exists()
    assert_no_secret(run.log_dir, tmp_path / "report")  # ... and written nowhere: not in logs, not in reports
    paths = {r.path for r in server.generation_requests}
    assert paths == ({"/v1/messages"} if provider == "anthropic" else {"/v1/chat/completions"}), paths
