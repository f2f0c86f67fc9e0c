"""Fault matrix: the fake OpenAI server injects one fault per sample into real ``inspect eval`` runs.

Each car_sales variant (condition=natural, one sample per car) gets its own fault, so two Inspect
processes cover the whole matrix (the suite must stay fast on a 2-core box): one with a 4 s attempt
timeout (hung requests), one streaming without one (faults that persist: the openai client's own two
retries back off, and under an attempt timeout a persistent 500 would surface as the timeout rather
than as itself). A sample's prompts, its
model and its grader calls are told apart by the car named in them. For each fault the test checks
what the log recorded (scored / unscored with a reason / errored with a cause), that counts add up to
the number of samples, how many requests the server saw (retries), and that the API key was written
nowhere.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply, FakeRequest
from inspect_ai.log import read_eval_log

from ._support import (
    Run,
    assert_no_secret,
    demo_reply,
    inspect_cmd,
    is_grader,
    run_eval,
    run_in_parallel,
    run_inspect,
    tally,
)

JUDGED = ("undesired", "inconsistent_reasoning", "reason_based_deception")  # measures a grader decides


@dataclass
class Fault:
    car: str
    """Text that appears in this sample's prompts only."""
    sample: str
    reply: FakeReply
    grader: bool = False
    """Inject into the grader's calls (else the model under test's)."""
    times: int | None = 1
    """How many requests get the fault (None: every one)."""
    expect: str = "scored"
    """What the log must record: scored, unscored or errored."""
    cause: str = ""
    """A substring of the error message (errored samples)."""
    injected: int = 0

    def hits(self, request: FakeRequest) -> bool:
        return self.car in request.prompt_text and is_grader(request) == self.grader


@dataclass
class Plan:
    name: str
    faults: dict[str, Fault]
    args: tuple[str, ...]
    result: Run | None = None
    server: FakeOpenAIServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def limit(self) -> int:
        return len(self.faults) + 1  # plus one fault-free control sample

    def respond(self, request: FakeRequest) -> str | FakeReply:
        with self.lock:
            for fault in self.faults.values():
                if fault.hits(request) and (fault.times is None or fault.injected < fault.times):
                    fault.injected += 1
                    return fault.reply
        return demo_reply(request)


def plain_plan() -> Plan:
    faults = {
        "429_retry_after": Fault(
            "Civic",
            "civic-flood-natural",
            FakeReply(status=429, retry_after=0.01, error_code="rate_limit_exceeded"),
        ),
        "500_once": Fault("F-150", "f150-frame-natural", FakeReply(status=500)),
        "hung_past_attempt_timeout": Fault(
            "Camry", "camry-odometer-natural", FakeReply(content="late", delay_s=20)
        ),
        "malformed_json": Fault(
            "Rogue",
            "rogue-airbag-natural",
            FakeReply(raw_body='{"id": "x", "choices": ['),
            expect="errored",
            cause="JSONDecodeError",
        ),
        "content_filter": Fault(
            "Jetta",
            "jetta-transmission-natural",
            FakeReply(content="", finish_reason="content_filter"),
            times=None,
            expect="unscored",
        ),
        "empty_content": Fault(
            "Honda Accord", "accord-salvage-natural", FakeReply(content=""), times=None, expect="unscored"
        ),
        "grader_unparseable": Fault(
            "CX-5",
            "cx5-fire-natural",
            FakeReply(content="I would rather not say."),
            grader=True,
            times=None,
            expect="unscored",
        ),
        "grader_503_once": Fault("Outback", "outback-rust-natural", FakeReply(status=503), grader=True),
    }
    return Plan("plain", faults, ("--max-retries", "1", "--attempt-timeout", "4"))


def streaming_plan() -> Plan:
    faults = {
        "truncated_stream": Fault(
            "Civic",
            "civic-flood-natural",
            FakeReply(content="a reply that will be cut off", stream_cut_after=2),
        ),
        "grader_empty": Fault(
            "F-150", "f150-frame-natural", FakeReply(content=""), grader=True, times=None, expect="unscored"
        ),
        "500_every_attempt": Fault(
            "Rogue",
            "rogue-airbag-natural",
            FakeReply(status=500),
            times=None,
            expect="errored",
            cause="InternalServerError",
        ),
        "grader_500_every_attempt": Fault(
            "Camry",
            "camry-odometer-natural",
            FakeReply(status=500),
            grader=True,
            times=None,
            expect="errored",
            cause="InternalServerError",
        ),
    }
    return Plan("streaming", faults, ("-M", "streaming=true", "--max-retries", "1"))


def _run(plan: Plan, tmp: Path) -> None:
    with FakeOpenAIServer(plan.respond) as server:
        plan.server = server
        args = ("-T", "condition=natural", "--limit", str(plan.limit), "--max-connections", "10")
        plan.result = run_eval(
            server.base_url, tmp / plan.name, *args, "--no-fail-on-error", *plan.args, timeout=120
        )


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    tmp = tmp_path_factory.mktemp("faults")
    out = {p.name: p for p in (plain_plan(), streaming_plan())}
    run_in_parallel(lambda p: _run(p, tmp), out.values())
    return out


CARS = sorted({f.car for p in (plain_plan(), streaming_plan()) for f in p.faults.values()})
MATRIX = [(p.name, name) for p in (plain_plan(), streaming_plan()) for name in p.faults]


def outcome(sample) -> str:  # noqa: ANN001
    if sample.error is not None:
        return "errored"
    [score] = sample.scores.values()
    return (
        "unscored" if any(isinstance(v, float) and math.isnan(v) for v in score.value.values()) else "scored"
    )


def model_calls(sample) -> int:  # noqa: ANN001
    return sum(1 for e in sample.events if e.event == "model" and e.error is None and e.output.choices)


@pytest.mark.parametrize("plan", ["plain", "streaming"])
def test_every_sample_accounted_for(plans: dict[str, Plan], plan: str) -> None:
    p = plans[plan]
    log = p.result.log  # type: ignore[union-attr]
    counts = tally(log)
    assert sum(counts.values()) == p.limit == len(log.samples or []), counts
    assert len({s.id for s in log.samples or []}) == p.limit  # no duplicates
    for sample in log.samples or []:
        if outcome(sample) == "errored":
            assert sample.error.message, sample.id  # type: ignore[union-attr]
        elif outcome(sample) == "unscored":
            [score] = sample.scores.values()
            assert score.metadata["why_unscored_by_turn"], sample.id  # type: ignore[index]
    assert_no_secret(p.result.log_dir)  # type: ignore[union-attr]
    assert p.server is not None and p.server.api_keys and "Authorization" not in str(p.server.requests)


@pytest.mark.parametrize("plan,fault", MATRIX)
def test_fault(plans: dict[str, Plan], plan: str, fault: str) -> None:
    p = plans[plan]
    f = p.faults[fault]
    samples = {s.id: s for s in p.result.log.samples or []}  # type: ignore[union-attr]
    sample = samples[f.sample]
    assert f.injected >= 1, fault
    assert outcome(sample) == f.expect, (fault, sample.error, sample.scores)
    if f.expect == "errored":
        assert f.cause in sample.error.message, sample.error.message  # type: ignore[union-attr]
    if f.expect == "scored" and f.times == 1:
        # retried: the server saw every successful call plus exactly the one faulty request
        seen = [r for r in p.server.generation_requests if f.car in r.prompt_text]  # type: ignore[union-attr]
        assert len(seen) == model_calls(sample) + 1, (fault, len(seen), model_calls(sample))
    if f.grader and f.expect != "scored" and sample.error is None:
        # a grader fault never turns into a label: the judged measures are NaN, with the grader named as why
        [score] = sample.scores.values()
        assert all(math.isnan(score.value[k]) for k in JUDGED), score.value  # type: ignore[index]
        assert "grader" in " ".join(score.metadata["why_unscored_by_turn"])  # type: ignore[index]


def test_matrix_summary(plans: dict[str, Plan], capsys: pytest.CaptureFixture[str]) -> None:
    """Print the fault matrix (visible with ``pytest -s``)."""
    with capsys.disabled():
        print(
            "\nfault | sample outcome | injected | requests for the sample | successful model calls | cause"
        )
        for p in plans.values():
            samples = {s.id: s for s in p.result.log.samples or []}  # type: ignore[union-attr]
            for name, f in p.faults.items():
                s = samples[f.sample]
                seen = sum(1 for r in p.server.generation_requests if f.car in r.prompt_text)  # type: ignore[union-attr]
                cause = (s.error.message[:50] if s.error else "") or " ".join(
                    next(iter(s.scores.values())).metadata.get("why_unscored_by_turn", [])
                )[:80]
                print(f"{name} | {outcome(s)} | {f.injected} | {seen} | {model_calls(s)} | {cause}")
            print(f"[{p.name}] totals: {tally(p.result.log)} of {p.limit}")  # type: ignore[union-attr]


def test_eval_retry_reruns_only_the_errored_samples(plans: dict[str, Plan], tmp_path: Path) -> None:
    """Nothing is lost: ``inspect eval-retry`` on the faulty run, against a healthy server, re-runs the
    errored samples only and gives a log with every sample and no error."""
    log = plans["plain"].result.log  # type: ignore[union-attr]
    errored = {f.car for f in plans["plain"].faults.values() if f.expect == "errored"}
    assert errored and {s.id for s in log.samples or [] if s.error}
    with FakeOpenAIServer(demo_reply) as server:
        cmd = inspect_cmd("eval-retry", log.location, "--log-dir", str(tmp_path), "--max-connections", "10")
        proc = run_inspect(server.base_url, cmd, timeout=120)
        requests = list(server.generation_requests)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert requests and {car for r in requests for car in CARS if car in r.prompt_text} == errored
    [retried] = [read_eval_log(str(f)) for f in tmp_path.glob("*.eval")]
    assert retried.status == "success"
    assert sorted(s.id for s in retried.samples or []) == sorted(s.id for s in log.samples or [])
    assert not [s.id for s in retried.samples or [] if s.error]
