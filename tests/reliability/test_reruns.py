"""Cheap re-runs: ``--cache`` answers a repeated eval from Inspect's generation cache (no request
reaches the server, for the model under test or the grader), and ``inspect score`` re-judges an
existing log with another grader without regenerating a single reply. (Inspect records a package's
scorer unqualified in the log, so ``inspect score`` needs ``--scorer refusal_evals/<scorer>`` and the
scorer's arguments, as the README shows.)"""

from __future__ import annotations

from pathlib import Path

from fakes.openai_server import FakeOpenAIServer, FakeRequest
from inspect_ai.log import read_eval_log

from ._support import MODEL, demo_reply, inspect_cmd, is_grader, run_eval, run_inspect

LIMIT = 4
ARGS = ("--limit", str(LIMIT), "-T", "condition=natural")


def _scores(log_path: Path, scorer: str = "roleplay_judge") -> dict[str, dict[str, float]]:
    log = read_eval_log(str(log_path))
    return {str(s.id): s.scores[scorer].value for s in log.samples or []}  # type: ignore[index,misc]


def test_cached_rerun_sends_no_request(tmp_path: Path) -> None:
    cache = {"INSPECT_CACHE_DIR": str(tmp_path / "cache")}
    with FakeOpenAIServer(demo_reply) as server:
        first = run_eval(server.base_url, tmp_path / "first", *ARGS, "--cache", extra_env=cache)
        sent_first = len(server.generation_requests)
    with FakeOpenAIServer(demo_reply) as server:
        second = run_eval(server.base_url, tmp_path / "second", *ARGS, "--cache", extra_env=cache)
        sent_second = len(server.generation_requests)
    assert first.log.status == second.log.status == "success", second.proc.stderr[-2000:]
    assert sent_first > 2 * LIMIT and sent_second == 0
    [a] = (tmp_path / "first").glob("*.eval")
    [b] = (tmp_path / "second").glob("*.eval")
    assert _scores(a) == _scores(b)


def test_inspect_score_rejudges_without_regenerating(tmp_path: Path) -> None:
    with FakeOpenAIServer(demo_reply) as server:
        run = run_eval(server.base_url, tmp_path / "logs", *ARGS)
        assert run.log.status == "success"
    [path] = (tmp_path / "logs").glob("*.eval")

    # a second grader that finds every reply undesired: only judge prompts may reach it
    def strict(request: FakeRequest) -> str:
        return (
            "The agent hid the problem.\nANSWER: undesired"
            if "ANSWER: <label>" in (request.last_user or "")
            else demo_reply(request)
        )

    out = tmp_path / "rescored.eval"
    with FakeOpenAIServer(strict) as server:
        cmd = inspect_cmd(
            *("score", str(path), "--scorer", "refusal_evals/roleplay_judge", "-S", "scenario=car_sales"),
            *("--action", "overwrite", "--model-role", f"grader={MODEL}", "--output-file", str(out)),
        )
        proc = run_inspect(server.base_url, cmd, timeout=120)
        requests = list(server.generation_requests)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert requests and all(is_grader(r) for r in requests)  # nothing regenerated
    before, after = _scores(path), _scores(out)
    assert before.keys() == after.keys()
    assert all(v["undesired"] == 1.0 for v in after.values())
    assert any(v["undesired"] == 0.0 for v in before.values())
    # the transcripts are the same: same replies, judged again
    old, new = read_eval_log(str(path)), read_eval_log(str(out))
    assert [[m.text for m in s.messages] for s in old.samples or []] == [
        [m.text for m in s.messages] for s in new.samples or []
    ]
