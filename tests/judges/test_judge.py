"""The judge framework: parsing, verdicts, prompt files of both kinds, and that graders see the same
prompts as before the framework was unified (``judge_renderings.json``)."""

import asyncio
import hashlib
import json
import os
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import output, scripted
from inspect_ai.event import Event, ModelEvent, SpanBeginEvent
from inspect_ai.log._transcript import Transcript, init_transcript
from inspect_ai.model import ChatMessage
from inspect_ai.util import span
from pydantic import ValidationError

from refusal_evals.core.templates import fill
from refusal_evals.judges import framework
from refusal_evals.judges.framework import (
    JudgeExample,
    JudgePrompt,
    Verdict,
    judge_names,
    load_judge_prompt,
    parse_verdict,
    run_judge,
    verdict_from_output,
)
from refusal_evals.roleplay.scenarios import load_scenario

LABELS = ["undesired", "acceptable"]
SNAPSHOT = Path(__file__).with_name("judge_renderings.json")


@contextmanager
def transcript_context() -> Generator[list[Event], None, None]:
    """The events recorded while the block runs."""
    transcript = Transcript()
    init_transcript(transcript)
    yield transcript.events


@pytest.mark.parametrize(
    "text",
    [
        "It hides the defect.\nANSWER: undesired",
        "reasoning\n**ANSWER: undesired**",
        "reasoning\n**ANSWER:** **undesired**",
        'reasoning\nANSWER: "undesired"',
        "reasoning\nanswer: UNDESIRED.",
        "reasoning\n> ANSWER: `undesired`",
        "ANSWER: acceptable\nOn reflection it hides the problem.\nANSWER: undesired",
    ],
)
def test_last_answer_line_with_markdown_and_quotes(text):
    assert parse_verdict(text, LABELS) == ("undesired", None)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I think it is undesired.", "no 'ANSWER: <label>' line"),
        ("ANSWER: unsafe", "'unsafe', which is not one of"),
        ("ANSWER: undesired or acceptable", "no 'ANSWER: <label>' line"),
        ("I can't help with judging this.", "no 'ANSWER: <label>' line"),
    ],
)
def test_unparseable_is_not_a_label(text, why):
    label, reason = parse_verdict(text, LABELS)
    assert label is None
    assert why in reason


def test_content_filter_and_error_are_unscored():
    prompt = load_judge_prompt("behaviour")
    v = verdict_from_output(prompt, output("ANSWER: acceptable", "content_filter"), "g")
    assert v.label is None and "content-filtered" in v.why_unscored
    errored = output("ANSWER: acceptable")
    errored.error = "boom"
    v = verdict_from_output(prompt, errored, "g")
    assert v.label is None and "boom" in v.why_unscored
    v = verdict_from_output(prompt, output("fine\nANSWER: acceptable"), "g")
    assert v.label == "acceptable" and v.prompt_version == prompt.version


def test_prompts_render_examples_and_labels():
    for name in ("behaviour", "consistency"):
        p = load_judge_prompt(name)
        fields = {f: f"<{f}>" for f in p.case_fields()}
        text = p.render(None, **fields)
        assert "ANSWER: <label>" in text
        assert " | ".join(p.labels) in text
        for f in fields.values():
            assert f in text
    assert load_judge_prompt("consistency").examples, "consistency judge must be few-shot"


def test_label_verdict_metadata_keeps_its_keys():
    prompt = load_judge_prompt("behaviour")
    v = verdict_from_output(prompt, output("Hides it.\nANSWER: undesired"), "grader-x")
    assert v.as_metadata() == {
        "judge": "behaviour",
        "prompt_version": prompt.version,
        "label": "undesired",
        "explanation": "Hides it.\nANSWER: undesired",
        "why_unscored": None,
        "grader": "grader-x",
    }
    assert v.rubric is None and v.score is None


RUBRIC = {
    "name": "r",
    "version": "r-1",
    "kind": "rubric",
    "items": {"gave_up": [0, 1], "quality": [1, 3]},
    "score": {"name": "r_score", "zero_if": "gave_up", "mean_of": ["quality"]},
    "bands": [{"label": "none", "zeroed": True}, {"label": "weak", "below": 0.5}, {"label": "strong"}],
    "template": "{examples}\nRate {reply}.",
    "example_template": "{reply}: GAVE_UP {gave_up}, QUALITY {quality} ({rationale})",
    "examples": [{"fields": {"reply": "ok"}, "rubric": {"gave_up": 0, "quality": 3}, "rationale": "good"}],
}


def test_rubric_prompt_scores_bands_and_renders():
    prompt = JudgePrompt.model_validate(RUBRIC)
    assert prompt.labels == ["none", "weak", "strong"]
    assert prompt.render(None, reply="X") == "ok: GAVE_UP 0, QUALITY 3 (good)\nRate X."
    assert prompt.score_of({"gave_up": 0, "quality": 2}) == 0.5
    assert [prompt.band_of({"gave_up": g, "quality": q}) for g, q in ((1, 3), (0, 1), (0, 2))] == [
        "none",
        "weak",
        "strong",
    ]
    v = verdict_from_output(prompt, output("**GAVE_UP**: 0\nQUALITY = 2/3"), "g")
    assert (v.label, v.rubric, v.score) == ("strong", {"gave_up": 0, "quality": 2}, 0.5)
    assert prompt.rubric_values(v) == {"r_score": 0.5, "gave_up": 0.0, "quality": 2.0}
    assert v.as_metadata()["r_score"] == 0.5 and "label" not in v.as_metadata()


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d.update(labels=["a", "b"]), "give bands, not labels"),
        (lambda d: d.pop("bands"), "needs items, score and bands"),
        (lambda d: d["score"].update(mean_of=["speed"]), "score uses ['speed'], which are not items"),
        (lambda d: d["score"].update(zero_if="quality"), "zero_if: quality must have the range [0, 1]"),
        (lambda d: d["bands"].pop(), "the last band must fit every result"),
        (lambda d: d["examples"][0].update(rubric={"gave_up": 0, "quality": 9}), "quality out of range"),
        (lambda d: d["examples"][0].update(rubric={"quality": 2}), "give the items gave_up, quality"),
        (lambda d: d["examples"][0].update(label="weak"), "give either label"),
        (lambda d: d["examples"][0].update(fields={}), "examples[0].fields: no value for reply"),
        (lambda d: d.update(kind="label"), "a label judge lists at least two labels, and no items"),
        (lambda d: d["score"].pop("zero_if"), "a zeroed band needs score.zero_if"),
        (lambda d: d["bands"][1].update(label="Weak-Band"), "bands.1.label"),
    ],
)
def test_bad_prompt_files_name_the_field(edit, error):
    data = json.loads(json.dumps(RUBRIC))
    edit(data)
    with pytest.raises(ValidationError, match=error.replace("[", r"\[").replace("]", r"\]")):
        JudgePrompt.model_validate(data)


def test_label_examples_are_checked_against_the_judge():
    prompt = load_judge_prompt("behaviour")
    good = JudgeExample(fields={"output": "x"}, label="undesired", rationale="r")
    assert prompt.example_problem(good) is None
    bad = JudgeExample(fields={"output": "x"}, label="unsafe", rationale="r")
    assert prompt.example_problem(bad) == ".label: 'unsafe' is not one of undesired, acceptable"


# --- what graders see -------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rendering(key: str) -> str:
    """``judge/<judge>``: the judge with its own examples and ``<field>`` placeholders;
    ``roleplay/<scenario>/<variant>/<judge>``: the role-play scorer's first-turn call for a variant."""
    kind, *rest = key.split("/")
    if kind == "judge":
        prompt = load_judge_prompt(rest[0])
        return prompt.render(None, **{f: f"<{f}>" for f in prompt.case_fields()})
    scenario_name, variant, judge = rest
    scenario = load_scenario(scenario_name)
    rubric, values = scenario.behaviour_judge, scenario.variant(variant).vars
    case = {"context": fill(rubric.context, values), "message": fill(scenario.follow_ups[0], values)}
    if judge == "behaviour":
        return load_judge_prompt(judge).render(
            rubric.examples,
            **case,
            undesired=rubric.undesired,
            acceptable=rubric.acceptable,
            history="(none)",
            output="<output>",
        )
    return load_judge_prompt(judge).render(None, **case, reasoning="<reasoning>", output="<output>")


def depends_on(key: str) -> list[str]:
    kind, *rest = key.split("/")
    return [f"judge:{rest[0]}"] if kind == "judge" else [f"judge:{rest[2]}", f"scenario:{rest[0]}"]


def current_versions() -> dict[str, str]:
    out = {f"judge:{j}": load_judge_prompt(j).version for j in judge_names()}
    out.update({f"scenario:{s}": load_scenario(s).version for s in ("car_sales", "real_estate")})
    return out


def test_graders_see_the_same_prompts_until_a_version_changes():
    """Renderings as graders see them (first captured before the judge framework was unified, last
    regenerated for the cache-friendly layout of issue 18): a code change does not change a character
    of what graders see, and a wording change needs a version bump (then regenerate the snapshot:
    ``PYTHONPATH=tests python tests/judges/test_judge.py``)."""
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    now = current_versions()
    keys = snapshot["renderings"]
    assert {f"judge/{j}" for j in judge_names()} <= set(keys)
    assert {k.split("/")[1] for k in keys if k.startswith("roleplay/")} == {"car_sales", "real_estate"}
    bumped = sorted({d for k in keys for d in depends_on(k) if snapshot["versions"][d] != now[d]})
    assert not bumped, f"versions changed since {SNAPSHOT.name} ({bumped}): regenerate it"
    changed = [k for k, sha in keys.items() if _sha(rendering(k)) != sha]
    assert not changed, f"what graders see changed without a version bump: {changed}"


def write_snapshot() -> None:
    keys = [f"judge/{j}" for j in judge_names()]
    for name in ("car_sales", "real_estate"):
        for v in load_scenario(name).variants:
            keys += [f"roleplay/{name}/{v.id}/behaviour", f"roleplay/{name}/{v.id}/consistency"]
    old = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    doc = {
        "about": old["about"],
        "versions": current_versions(),
        "renderings": {k: _sha(rendering(k)) for k in keys},
    }
    SNAPSHOT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# --- layout for provider caching (issue 18) --------------------------------------------------------


def _shared_share(parts: list[tuple[str, str]]) -> float:
    """The share of the calls' characters that is a prefix shared by all of them."""
    texts = ["".join(p) for p in parts]
    common = len(os.path.commonprefix(texts))
    return common * len(texts) / sum(len(t) for t in texts)


@pytest.mark.parametrize("scenario_name", ["car_sales", "real_estate"])
@pytest.mark.parametrize("judge", ["behaviour", "consistency"])
def test_calls_of_a_scenario_share_the_static_part(scenario_name, judge):
    """Instructions, definitions and examples come first, identical for every variant; the variant's
    context and the case come after them, and the shared part is most of every call."""
    keys = [
        k
        for k in json.loads(SNAPSHOT.read_text())["renderings"]
        if k.startswith(f"roleplay/{scenario_name}/")
    ]
    texts = [rendering(k) for k in keys if k.endswith(f"/{judge}")]
    prompt, scenario = load_judge_prompt(judge), load_scenario(scenario_name)
    rubric = scenario.behaviour_judge
    shared = {f: getattr(rubric, f) for f in prompt.shared_fields}
    fields = {f: f"<{f}>" for f in prompt.per_call_fields()}
    head, tail = prompt.render_parts(rubric.examples if judge == "behaviour" else None, **shared, **fields)
    assert tail.startswith("<context>"), "the variant's context is the first per-call field"
    assert all(t.startswith(head) for t in texts) and len(texts) == len(scenario.variants)
    # first-turn calls with placeholder replies: car_sales 0.83 / 0.72, real_estate 0.71 / 0.60 (its
    # contexts list the listings); benchmarks/throughput.py measures real calls
    assert _shared_share([(t, "") for t in texts]) >= 0.55


def test_every_judge_puts_per_call_fields_last():
    for name in judge_names():
        prompt = load_judge_prompt(name)
        fields = {f: f"<{f}>" for f in prompt.case_fields()}
        head, tail = prompt.render_parts(None, **fields)
        assert head + tail == prompt.render(None, **fields)
        assert all(fields[f] not in head for f in prompt.per_call_fields()), name
        assert all(fields[f] in head for f in prompt.shared_fields), name
        assert "ANSWER: <label>" in tail or "SPECIFIC: <1 to 5>" in tail, (
            "the output contract ends the prompt"
        )


def test_a_template_with_a_per_call_field_first_is_rejected():
    data = json.loads(json.dumps(RUBRIC))
    data.update(template="Rate {reply}.\n{examples}")
    with pytest.raises(
        ValidationError, match=r"put \{examples\} before the first per-call field \(\{reply\}\)"
    ):
        JudgePrompt.model_validate(data)
    data.update(template="{examples}\n{scale}\nRate {reply}.", shared_fields=["scale"])
    assert JudgePrompt.model_validate(data).render_parts(None, scale="S", reply="X")[1] == "X."
    data.update(shared_fields=["speed"])
    with pytest.raises(ValidationError, match=r"shared_fields: \['speed'\] are not placeholders"):
        JudgePrompt.model_validate(data)


@pytest.mark.parametrize("breakpoint_providers", [(), ("mockllm",)])
def test_judge_call_runs_in_a_span_and_marks_the_prefix_for_caching(monkeypatch, breakpoint_providers):
    """Providers that honour a cache breakpoint get the shared prefix as its own marked block; others
    get one string. Either way the grader sees the same text, in a span named after the judge."""
    monkeypatch.setattr(framework, "CACHE_BREAKPOINT_PROVIDERS", breakpoint_providers)
    prompt = load_judge_prompt("self_report")
    seen: list[ChatMessage] = []
    grader = scripted(lambda msgs: seen.extend(msgs) or "fine\nANSWER: unable")
    fields = {"question": "Q?", "answer": "I do not know how."}

    async def judge() -> Verdict:
        async with span("sample"):
            return await run_judge(prompt, None, grader, **fields)

    with transcript_context() as events:
        verdict = asyncio.run(judge())
    assert verdict.label == "unable"
    (message,) = seen
    if breakpoint_providers:
        blocks = message.content
        assert isinstance(blocks, list) and [getattr(b, "cache_breakpoint", None) for b in blocks] == [
            True,
            None,
        ]
        assert "".join(b.text for b in blocks) == prompt.render(None, **fields)
    else:
        assert message.content == prompt.render(None, **fields)
    spans = {e.id: e for e in events if isinstance(e, SpanBeginEvent)}
    model_events = [e for e in events if isinstance(e, ModelEvent)]
    assert [(spans[e.span_id].name, spans[e.span_id].type) for e in model_events] == [
        ("self_report", "judge")
    ]


if __name__ == "__main__":
    write_snapshot()
