"""Throughput benchmark (not a test): every task through ``inspect eval`` against the fake OpenAI server.

The fake server answers every generation request after a fixed latency L (scripted demo replies, so
subject and grader behave as in ``refusal-evals demo``). For each task it reports:

* wall: the eval's own run time (log ``stats.started_at`` -> ``completed_at``; process start-up excluded),
* ideal: each sample's chain of dependent calls x L, packed C at a time
  (``max(longest chain x L, sum of chains x L / C)``), and the ratio wall / ideal,
* requests per sample, for the model under test and the grader separately (from the log's model events),
* grader prompt tokens per call (the fake server's usage: whitespace-separated words of the prompt),
* tokens per sample by role (model under test and grader, input / output),
* per judge, the share of its calls' prompt characters that is a prefix shared by all its calls in the
  run (what a provider's prompt cache can reuse; the judges are told apart by their transcript spans),
* a plain-Inspect row (``benchmarks/plain_task.py``) making the same number of requests, spread over
  the same number of samples as chains, in the same run, and each task's wall time over it (``floor
  ratio``: 1.0 = the package adds nothing to what Inspect itself takes).

Usage::

    python benchmarks/throughput.py --samples 200 --connections 20 --latency 0.2 [--tasks car_sales,...]

Needs no network and no API key (a dummy key goes to the loopback server only).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai_server import FakeOpenAIServer, FakeReply, FakeRequest  # noqa: E402
from inspect_ai.log import read_eval_log  # noqa: E402
from reliability._support import demo_reply, env_for  # noqa: E402

DATASET_SIZES = {
    "car_sales": 36,
    "real_estate": 30,
    "insider_trading": 6,
    "dishonest_refusal": 64,
    "judge_validation": 430,
}
TASKS = tuple(DATASET_SIZES)
MODEL = "openai/gpt-4o-mini"


def run_task(
    task: str, n: int, c: int, latency: float, size: int, samples_in_flight: int, plain: int = 0
) -> dict[str, object]:
    """One task (or, with ``plain`` requests, the plain-Inspect task over ``n`` samples)."""

    def slow(request: FakeRequest) -> FakeReply:
        return FakeReply(content=demo_reply(request), delay_s=latency)

    epochs = max(1, math.ceil(n / size))
    limit = math.ceil(n / epochs)  # limit x epochs: n, or just above it
    if plain:
        spec = [
            str(ROOT / "benchmarks" / "plain_task.py@plain"),
            "-T",
            f"samples={n}",
            "-T",
            f"requests={plain}",
        ]
        epochs, limit = 1, n
    else:
        spec = [f"refusal_evals/{task}", "--model-role", f"grader={MODEL}"]
    with FakeOpenAIServer(slow) as server, tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "inspect_ai",
            "eval",
            *spec,
            "--model",
            MODEL,
            "--limit",
            str(limit),
            "--epochs",
            str(epochs),
            "--max-connections",
            str(c),
            "--max-samples",
            str(samples_in_flight),
            "--log-dir",
            tmp,
            "--display",
            "none",
            "--no-log-realtime",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, env=env_for(server.base_url), cwd=ROOT, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{task}: inspect eval failed\n{proc.stderr[-3000:]}")
        [path] = list(Path(tmp).glob("*.eval"))
        log = read_eval_log(str(path), resolve_attachments=True)
        total_requests = len(server.generation_requests)
    return {
        **measure(task, log, c, latency, total_requests),
        "cpu_s": cpu,
        "cpu_ms_per_request": 1000 * cpu / total_requests,
    }


def _verdicts(meta: object) -> list[dict[str, object]]:
    """Every judge verdict recorded in a score's metadata (dicts with a prompt version and a grader)."""
    found: list[dict[str, object]] = []
    if isinstance(meta, dict):
        if "prompt_version" in meta and "grader" in meta:
            return [meta]
        for v in meta.values():
            found += _verdicts(v)
    elif isinstance(meta, list):
        for v in meta:
            found += _verdicts(v)
    return found


def waves(calls: list[object]) -> int:
    """The sample's chain of dependent calls: its model calls grouped into waves of concurrent calls
    (a call that starts before every call of the current wave has ended joins it)."""
    spans = sorted((e.timestamp, e.completed or e.timestamp) for e in calls)  # type: ignore[attr-defined]
    count, wave_end = 0, None
    for start, end in spans:
        if wave_end is None or start >= wave_end:
            count, wave_end = count + 1, end
        else:
            wave_end = min(wave_end, end)
    return count


def measure(task: str, log: object, c: int, latency: float, total_requests: int) -> dict[str, object]:
    events = [e for sample in log.samples or [] for e in sample.events if e.event == "model"]  # type: ignore[attr-defined]
    wall = (
        max(e.completed or e.timestamp for e in events) - min(e.timestamp for e in events)
    ).total_seconds()
    chains: list[int] = []
    model_calls = grader_calls = duplicates = unrecorded = 0
    per_judge: dict[str, int] = {}
    grader_tokens: list[int] = []
    prompts_by_judge: dict[str, list[str]] = {}
    tokens = {"model_in": 0, "model_out": 0, "grader_in": 0, "grader_out": 0}
    for sample in log.samples or []:  # type: ignore[attr-defined]
        calls = [e for e in sample.events if e.event == "model"]
        judge_spans = {e.id: e.name for e in sample.events if e.event == "span_begin" and e.type == "judge"}
        chains.append(waves(calls))
        prompts = []
        for e in calls:
            who = "grader" if e.role == "grader" else "model"
            if e.output.usage is not None:
                tokens[f"{who}_in"] += e.output.usage.input_tokens
                tokens[f"{who}_out"] += e.output.usage.output_tokens
            if e.role != "grader":
                model_calls += 1
                continue
            grader_calls += 1
            text = e.input[-1].text
            prompts.append(text)
            judge = judge_spans.get(e.span_id, "?")
            per_judge[judge] = per_judge.get(judge, 0) + 1
            prompts_by_judge.setdefault(judge, []).append(text)
            if e.output.usage is not None:
                grader_tokens.append(e.output.usage.input_tokens)
        duplicates += len(prompts) - len(set(prompts))
        recorded = sum(len(_verdicts(sc.metadata)) for sc in (sample.scores or {}).values())
        recorded += len(_verdicts(sample.store))
        unrecorded += max(0, len(prompts) - recorded)
    samples = len(chains)
    total_calls = model_calls + grader_calls
    ideal = max(max(chains) * latency, total_calls * latency / c)
    return {
        "task": task,
        "samples": samples,
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio": wall / ideal,
        "chain": sum(chains) / samples,
        "model_req_per_sample": model_calls / samples,
        "grader_req_per_sample": grader_calls / samples,
        "per_judge": ", ".join(f"{k} {v / samples:.2f}" for k, v in sorted(per_judge.items())) or "-",
        "duplicates": duplicates,
        "unrecorded": unrecorded,
        "server_requests": total_requests,
        "grader_prompt_tokens_per_call": (sum(grader_tokens) / len(grader_tokens)) if grader_tokens else 0.0,
        "tokens_per_sample": "model {:.0f} / {:.0f}, grader {:.0f} / {:.0f}".format(
            *(tokens[k] / samples for k in ("model_in", "model_out", "grader_in", "grader_out"))
        ),
        "prefix_share": ", ".join(
            f"{k} {shared_prefix_share(v):.0%}" for k, v in sorted(prompts_by_judge.items())
        )
        or "-",
    }


def shared_prefix_share(prompts: list[str]) -> float:
    """The share of the prompts' characters that is a prefix shared by all of them."""
    return len(os.path.commonprefix(prompts)) * len(prompts) / sum(len(p) for p in prompts)


COLUMNS = [
    ("task", "task", "{}"),
    ("samples", "samples", "{}"),
    ("wall s", "wall_s", "{:.1f}"),
    ("ideal s", "ideal_s", "{:.1f}"),
    ("ratio", "ratio", "{:.2f}"),
    ("floor ratio (wall / plain Inspect wall)", "floor_ratio", "{}"),
    ("chain (waves)/sample", "chain", "{:.2f}"),
    ("model req/sample", "model_req_per_sample", "{:.2f}"),
    ("grader req/sample", "grader_req_per_sample", "{:.2f}"),
    ("grader req/sample by judge", "per_judge", "{}"),
    ("duplicate grader calls", "duplicates", "{}"),
    ("grader calls not recorded as a verdict", "unrecorded", "{}"),
    ("server requests", "server_requests", "{}"),
    ("grader prompt tokens/call", "grader_prompt_tokens_per_call", "{:.0f}"),
    ("tokens/sample in / out", "tokens_per_sample", "{}"),
    ("shared prefix by judge", "prefix_share", "{}"),
    ("inspect process CPU s", "cpu_s", "{:.1f}"),
    ("CPU ms/request", "cpu_ms_per_request", "{:.1f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument(
        "--max-samples", type=int, default=None, help="samples in flight (default: 2 x connections)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print("| " + " | ".join(h for h, _, _ in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for task in args.tasks.split(","):
        size = DATASET_SIZES.get(task) or args.samples
        in_flight = args.max_samples or 2 * args.connections
        row = run_task(task, args.samples, args.connections, args.latency, size, in_flight)
        floor = run_task(
            f"plain Inspect ({task})",
            row["samples"],
            args.connections,
            args.latency,
            size,
            in_flight,
            plain=int(row["server_requests"]),
        )
        row["floor_ratio"] = f"{row['wall_s'] / floor['wall_s']:.2f}"
        floor["floor_ratio"] = "1.00"
        for r in (row, floor):
            print("| " + " | ".join(fmt.format(r[key]) for _, key, fmt in COLUMNS) + " |", flush=True)


if __name__ == "__main__":
    main()
