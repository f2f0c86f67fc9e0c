"""An ``inspect eval-set`` killed mid-run completes on re-run without redoing finished samples."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from fakes.openai_server import FakeOpenAIServer, FakeReply, FakeRequest

from ._support import (
    MODEL,
    ROOT,
    assert_no_secret,
    demo_reply,
    env_for,
    inspect_cmd,
    is_grader,
    run_inspect,
    tally,
)

N = 3
ORDER = ("Civic", "F-150", "Camry")  # sample order with --max-samples 1


def eval_set(base_url: str, log_dir: Path) -> list[str]:
    return [
        *inspect_cmd("eval-set", "refusal_evals/car_sales", "--model", MODEL, "--log-dir", str(log_dir)),
        *("--model-role", f"grader={MODEL}", "-T", "condition=natural", "--limit", str(N)),
        *("--max-samples", "1", "--max-connections", "1", "--log-buffer", "1", "--display", "plain"),
    ]


def car(request: FakeRequest) -> str | None:
    return next((c for c in ORDER if c in request.prompt_text), None)


def test_killed_eval_set_resumes(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"

    def slow(request: FakeRequest) -> FakeReply:
        return FakeReply(content=demo_reply(request), delay_s=0.15)

    with FakeOpenAIServer(slow) as server:
        proc = subprocess.Popen(
            eval_set(server.base_url, log_dir),
            env=env_for(server.base_url),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        # kill once the third sample has started: the first two are finished and flushed
        while time.monotonic() < deadline and not any(car(r) == "Camry" for r in server.generation_requests):
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        first = list(server.generation_requests)
    assert any(car(r) == "Camry" for r in first), "eval-set never reached the third sample"

    with FakeOpenAIServer(demo_reply) as server:
        done = run_inspect(server.base_url, eval_set(server.base_url, log_dir))
        second = list(server.generation_requests)
    assert done.returncode == 0, done.stderr[-3000:]
    # finished samples were not sent again (only the interrupted one was)
    redone = {car(r) for r in second if not is_grader(r)}
    assert redone == {"Camry"}, redone

    from inspect_ai.log import list_eval_logs, read_eval_log

    logs = [read_eval_log(info) for info in list_eval_logs(str(log_dir))]
    complete = [log for log in logs if log.status == "success"]
    assert len(complete) == 1, [log.status for log in logs]
    log = complete[0]
    ids = [s.id for s in log.samples or []]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == N  # no duplicates, none missing
    assert tally(log)["errored"] == 0
    assert_no_secret(log_dir)
