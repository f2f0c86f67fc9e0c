"""Helpers for the reliability suite: run ``inspect eval`` as a subprocess against a fake server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fakes.openai_server import FakeRequest
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

from refusal_evals.demo.model import is_judge_prompt, respond

T = TypeVar("T")

API_KEY = "sk-test-reliability-SECRET-0123456789"
MODEL = "openai/gpt-4o-mini"
ROOT = Path(__file__).resolve().parents[2]


def to_chat(request: FakeRequest) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for m in request.messages:
        if m["role"] == "system":
            out.append(ChatMessageSystem(content=m["content"]))
        elif m["role"] == "assistant":
            out.append(ChatMessageAssistant(content=m["content"]))
        else:
            out.append(ChatMessageUser(content=m["content"]))
    return out


def is_grader(request: FakeRequest) -> bool:
    return bool(request.last_user) and is_judge_prompt(request.last_user or "")


def demo_reply(request: FakeRequest) -> str:
    """The scripted demo model's answer (subject or grader, decided from the prompt)."""
    return respond(to_chat(request))


@dataclass
class Run:
    proc: subprocess.CompletedProcess[str]
    log_dir: Path

    @property
    def logs(self) -> list[EvalLog]:
        files = sorted(self.log_dir.glob("*.eval")) + sorted(self.log_dir.glob("*.json"))
        return [read_eval_log(str(f)) for f in files if f.name != "logs.json"]

    @property
    def log(self) -> EvalLog:
        logs = self.logs
        assert len(logs) == 1, (logs, self.proc.stdout[-2000:], self.proc.stderr[-4000:])
        return logs[0]


def env_for(base_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=base_url,
        ANTHROPIC_API_KEY=API_KEY,
        INSPECT_LOG_LEVEL="warning",
        INSPECT_DISPLAY="plain",
        HF_HUB_OFFLINE="1",
        NO_COLOR="1",
    )
    env.pop("INSPECT_EVAL_MODEL", None)
    return env


def inspect_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "inspect_ai", *args]


def run_eval(
    base_url: str,
    log_dir: Path,
    *args: str,
    task: str = "refusal_evals/car_sales",  # or several, space-separated: one process runs them all
    model: str = MODEL,
    grader: str | None = MODEL,
    timeout: float = 60,
    extra_env: dict[str, str] | None = None,
) -> Run:
    cmd = inspect_cmd("eval", *task.split(), "--model", model, "--log-dir", str(log_dir))
    cmd += ["--display", "plain"]
    if grader:
        cmd += ["--model-role", f"grader={grader}"]
    cmd += list(args)
    return Run(run_inspect(base_url, cmd, timeout, extra_env), log_dir)


def run_in_parallel(fn: Callable[[T], object], items: Iterable[T]) -> None:
    """Call ``fn`` on every item in its own thread (the inspect processes overlap) and wait for all;
    an exception in any of them is raised here."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        list(pool.map(fn, items))


def run_inspect(
    base_url: str, cmd: list[str], timeout: float = 60, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an ``inspect`` command line against the fake server at ``base_url`` (output captured)."""
    env = env_for(base_url)
    env.update(extra_env or {})
    return subprocess.run(
        cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def tally(log: EvalLog) -> dict[str, int]:
    """scored / unscored / errored sample counts (unscored: any score value NaN or reason set)."""
    import math

    scored = unscored = errored = 0
    for s in log.samples or []:
        if s.error is not None:
            errored += 1
            continue
        values = []
        for score in (s.scores or {}).values():
            v = score.value
            values += list(v.values()) if isinstance(v, dict) else [v]
        if not s.scores or any(isinstance(x, float) and math.isnan(x) for x in values):
            unscored += 1
        else:
            scored += 1
    return {"scored": scored, "unscored": unscored, "errored": errored}


def written_files(*dirs: Path) -> list[Path]:
    return [p for d in dirs for p in d.rglob("*") if p.is_file()]


def assert_no_secret(*dirs: Path, secret: str = API_KEY) -> None:
    import zipfile

    for path in written_files(*dirs):
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert b"Bearer " + secret.encode() not in data, path
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    assert secret.encode() not in z.read(name), f"{path}:{name}"
