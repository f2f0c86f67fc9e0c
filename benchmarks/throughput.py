"""Throughput benchmark (not a test): every task through ``inspect eval`` against the fake OpenAI server.

The fake server answers every generation request after a fixed latency L (scripted demo replies, so
subject and grader behave as in ``refusal-evals demo``). For each task it reports:

* wall: the eval's own run time (log ``stats.started_at`` -> ``completed_at``; process start-up excluded),
* ideal: each sample's chain of dependent calls x L, packed C at a time
  (``max(longest chain x L, sum of chains x L / C)``), and the ratio wall / ideal,
* requests per sample, for the model under test and the grader separately (from the log's model events),
* grader prompt tokens per call (the fake server's usage: whitespace-separated words of the prompt).

Usage::

    python benchmarks/throughput.py --samples 200 --connections 20 --latency 0.2 [--tasks car_sales,...]

Needs no network and no API key (a dummy key goes to the loopback server only).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai_server import FakeOpenAIServer, FakeReply, FakeRequest  # noqa: E402
from inspect_ai.log import read_eval_log  # noqa: E402
from reliability._support import demo_reply, env_for  # noqa: E402

DATASET_SIZES = {"car_sales": 36, "real_estate": 30, "insider_trading": 6, "dishonest_refusal": 64}
TASKS = ("car_sales", "real_estate", "insider_trading", "dishonest_refusal")
MODEL = "openai/gpt-4o-mini"


def run_task(task: str, n: int, c: int, latency: float, size: int) -> dict[str, object]:
    def slow(request: FakeRequest) -> FakeReply:
        return FakeReply(content=demo_reply(request), delay_s=latency)

    epochs = max(1, math.ceil(n / size))
    limit = min(n, size) if epochs == 1 else size
    with FakeOpenAIServer(slow) as server, tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "inspect_ai",
            "eval",
            f"refusal_evals/{task}",
            "--model",
            MODEL,
            "--model-role",
            f"grader={MODEL}",
            "--limit",
            str(limit),
            "--epochs",
            str(epochs),
            "--max-connections",
            str(c),
            "--max-samples",
            str(c),
            "--log-dir",
            tmp,
            "--display",
            "none",
            "--no-log-realtime",
        ]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, env=env_for(server.base_url), cwd=ROOT, capture_output=True, text=True)
        process_wall = time.monotonic() - t0
        if proc.returncode != 0:
            raise SystemExit(f"{task}: inspect eval failed\n{proc.stderr[-3000:]}")
        [path] = list(Path(tmp).glob("*.eval"))
        log = read_eval_log(str(path))
        total_requests = len(server.generation_requests)
    from datetime import datetime

    wall = (
        datetime.fromisoformat(log.stats.completed_at) - datetime.fromisoformat(log.stats.started_at)
    ).total_seconds()
    chains: list[int] = []
    model_calls = grader_calls = 0
    grader_tokens: list[int] = []
    for sample in log.samples or []:
        calls = [e for e in sample.events if e.event == "model"]
        chains.append(len(calls))  # a conservative chain: every call of a sample waits for the one before
        for e in calls:
            if e.role == "grader":
                grader_calls += 1
                if e.output.usage is not None:
                    grader_tokens.append(e.output.usage.input_tokens)
            else:
                model_calls += 1
    samples = len(chains)
    ideal = max(max(chains) * latency, sum(chains) * latency / c)
    return {
        "task": task,
        "samples": samples,
        "wall_s": wall,
        "process_s": process_wall,
        "ideal_s": ideal,
        "ratio": wall / ideal,
        "model_req_per_sample": model_calls / samples,
        "grader_req_per_sample": grader_calls / samples,
        "server_requests": total_requests,
        "grader_prompt_tokens_per_call": (sum(grader_tokens) / len(grader_tokens)) if grader_tokens else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    header = (
        "| task | samples | wall s | ideal s | ratio | model req/sample | grader req/sample | "
        "server requests | grader prompt tokens/call |"
    )
    print(header)
    print("|" + "---|" * 9)
    for task in args.tasks.split(","):
        size = DATASET_SIZES.get(task) or args.samples
        row = run_task(task, args.samples, args.connections, args.latency, size)
        rows.append(row)
        print(
            f"| {row['task']} | {row['samples']} | {row['wall_s']:.1f} | {row['ideal_s']:.1f} | "
            f"{row['ratio']:.2f} | {row['model_req_per_sample']:.2f} | {row['grader_req_per_sample']:.2f} | "
            f"{row['server_requests']} | {row['grader_prompt_tokens_per_call']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
