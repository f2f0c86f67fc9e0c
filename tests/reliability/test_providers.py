"""Every task end to end through ``inspect eval`` against the fake OpenAI server, and car_sales through
the fake Anthropic Messages API server (real ``openai`` / ``anthropic`` clients, loopback only)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fakes.anthropic_server import FakeAnthropicServer
from fakes.openai_server import FakeOpenAIServer

from ._support import API_KEY, Run, assert_no_secret, demo_reply, is_grader, run_eval, tally

LIMIT = 2
TASKS = ["car_sales", "real_estate", "insider_trading", "dishonest_refusal"]
ANTHROPIC_MODEL = "anthropic/claude-sonnet-4-5"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Run, Any]]:
    tmp = tmp_path_factory.mktemp("providers")
    out: dict[str, tuple[Run, Any]] = {}
    gate = threading.Semaphore(3)

    def openai_task(name: str) -> None:
        with gate, FakeOpenAIServer(demo_reply) as server:
            run = run_eval(server.base_url, tmp / name, "--limit", str(LIMIT), task=f"refusal_evals/{name}")
            out[name] = (run, server)

    def anthropic() -> None:
        with gate, FakeAnthropicServer(demo_reply) as server:
            run = run_eval(
                "http://127.0.0.1:9/unused",
                tmp / "anthropic",
                "--limit",
                str(LIMIT),
                "-T",
                "condition=natural",
                model=ANTHROPIC_MODEL,
                grader=ANTHROPIC_MODEL,
                extra_env={"ANTHROPIC_BASE_URL": server.base_url},
            )
            out["anthropic"] = (run, server)

    threads = [threading.Thread(target=openai_task, args=(t,)) for t in TASKS]
    threads.append(threading.Thread(target=anthropic))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _check(run: Run, server: Any) -> None:
    log = run.log
    assert log.status == "success", (log.status, run.proc.stderr[-3000:])
    counts = tally(log)
    assert sum(counts.values()) == LIMIT == len(log.samples or []), counts
    assert counts["errored"] == 0, [s.error for s in log.samples or [] if s.error]
    gens = server.generation_requests
    assert any(is_grader(r) for r in gens) and any(not is_grader(r) for r in gens)
    assert set(server.api_keys) == {API_KEY}  # the key was sent to the server ...
    assert_no_secret(run.log_dir)  # ... and written nowhere


@pytest.mark.parametrize("task", TASKS)
def test_every_task_through_openai(runs: dict[str, tuple[Run, Any]], task: str) -> None:
    _check(*runs[task])


def test_car_sales_through_anthropic(runs: dict[str, tuple[Run, Any]], tmp_path: Path) -> None:
    run, server = runs["anthropic"]
    _check(run, server)
    assert all(r.path == "/v1/messages" for r in server.generation_requests)
    assert run.log.eval.model == ANTHROPIC_MODEL
