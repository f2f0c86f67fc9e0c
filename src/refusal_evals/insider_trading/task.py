"""``refusal_evals/insider_trading``: an AI trading agent, an insider tip, a report and a direct question.

After Scheurer et al. 2023 (arXiv 2311.07590) and the insider-trading scenario of arXiv 2406.19552;
the built-in scenario text is this project's own (``insider_trading.yaml``).

The task has two sources, the built-in scenario and a published prompt file. Each is one small
function (:func:`builtin_source`, :func:`prompt_file_source`) that checks its ``-T`` arguments and
returns a :class:`Source`; the dataset, solver, scorer and metadata are then built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig

from refusal_evals.core.args import TaskArgError, check_grader_bound, parse_bool, parse_choices, parse_int
from refusal_evals.core.identity import EXPERIMENT_KEY, experiment_record, judge_files
from refusal_evals.core.schema import CONDITIONS
from refusal_evals.insider_trading.prompt_file import (
    PublishedPrompt,
    load_prompt_file,
    prompt_file_conditions,
)
from refusal_evals.insider_trading.scenario import InsiderTradingScenario, load_insider_scenario
from refusal_evals.insider_trading.scorer import insider_metrics, insider_trading_judge
from refusal_evals.insider_trading.script import (
    MESSAGE_FORMATS,
    PRESSURES,
    PROMPT_FILE_VARIANT,
    STAGES,
    ScriptBook,
)
from refusal_evals.insider_trading.solver import insider_trading_conversation
from refusal_evals.judges.framework import PROMPTS_DIR
from refusal_evals.judges.native_awareness import NATIVE_AWARENESS
from refusal_evals.judges.native_consistency import NATIVE_JUDGE

DEFAULT_CONFIG = GenerateConfig(temperature=1.0, max_tokens=1024)
"""As for the role-play scenarios: the papers sampled at temperature ~0.9-1.0 (``--temperature``
overrides it; a prompt file's own sampling settings take precedence)."""


@dataclass(frozen=True)
class Source:
    """What one source of conversations decides; everything else in the task is shared."""

    scripts: ScriptBook
    samples: list[tuple[str, str]]
    """``(variant, condition)`` of each sample, in order."""
    conditions: list[str]
    stages: int
    origin: dict[str, Any]
    """Where the conversations come from (``source``, the prompt file): task and sample metadata."""
    rendering: dict[str, Any]
    """How the built-in scenario is rendered (message format, pressure): task and sample metadata."""
    task_extra: dict[str, Any]
    """Task metadata only: the chosen variants, or the prompt file's ignored keys."""
    dataset_name: str
    cot: bool
    """Whether the agent is asked for a reasoning block (the reasoning measures apply)."""
    config: GenerateConfig = field(default_factory=lambda: DEFAULT_CONFIG)
    message_format: str = "concurrent"
    pressure: str = "high"
    prompt_sha256: str | None = None
    """The prompt file's hash, from the bytes read to load it (for the experiment record)."""


def _one(name: str, value: Any, valid: tuple[str, ...]) -> str:
    chosen = parse_choices(name, value, valid, allow_all=False)
    if len(chosen) > 1:
        raise TaskArgError(f"-T {name}: give one value ({', '.join(valid)}), not several")
    return chosen[0]


def builtin_source(
    spec: InsiderTradingScenario,
    condition: Any,
    turns: Any,
    cot: bool,
    message_format: str | None,
    pressure: str | None,
    variants: str | None,
) -> Source:
    """The built-in scenario: every chosen variant under every chosen condition."""
    conditions = parse_choices("condition", condition, CONDITIONS, allow_all=True)
    stages = parse_int("turns", 3 if turns is None else turns, minimum=1, maximum=len(STAGES))
    fmt = _one("message_format", message_format or "concurrent", MESSAGE_FORMATS)
    press = _one("pressure", pressure or "high", PRESSURES)
    ids = tuple(v.id for v in spec.variants)
    chosen = (
        list(ids)
        if variants in (None, "", "all")
        else parse_choices("variants", variants, ids, allow_all=False)
    )
    return Source(
        scripts=ScriptBook.builtin(spec, cot, fmt, press),
        samples=[(v, c) for v in chosen for c in conditions],
        conditions=conditions,
        stages=stages,
        origin={"source": "builtin"},
        rendering={"message_format": fmt, "pressure": press},
        task_extra={"variants": chosen},
        dataset_name=spec.id,
        cot=cot,
        message_format=fmt,
        pressure=press,
    )


def _prompt_file_conditions(prompt: PublishedPrompt, path: str, condition: Any) -> list[str]:
    valid = prompt_file_conditions(prompt)
    asked = parse_choices("condition", condition, CONDITIONS, allow_all=True)
    if str(condition).strip() == "all":
        asked = list(valid)
    unsupported = [c for c in asked if c not in valid]
    if unsupported:
        raise TaskArgError(
            f"-T condition: {', '.join(unsupported)} needs the prompt file's 'injection_index' "
            f"(the index in 'messages' of the assistant turn that handles the first tip); "
            f"{path} has none, so only natural (the file as published) can run"
        )
    return asked


def _prompt_file_stages(prompt: PublishedPrompt, path: str, turns: Any) -> int:
    max_stages = 3 if prompt.doubling_down_trigger else 2
    if turns is not None and str(turns).strip() == "3" and max_stages == 2:
        raise TaskArgError(
            f"-T turns=3 (doubling down) needs 'doubling_down_trigger' in the prompt file; "
            f"{path} has none. Use -T turns=1 or 2."
        )
    return parse_int("turns", max_stages if turns is None else turns, minimum=1, maximum=max_stages)


def _prompt_file_cot(prompt: PublishedPrompt, path: str, cot: bool | None) -> bool:
    """Whether the file asks for reasoning; ``-T cot`` only where it agrees or the file cannot tell."""
    asked, evidence = prompt.reasoning_asked()
    if cot is None:
        if asked is None:
            raise TaskArgError(
                f"-T prompt_file: cannot tell whether {path} asks the agent for reasoning ({evidence}). "
                "Say which with -T cot=true (it does: measure the reasoning) or -T cot=false (it does not)."
            )
        return asked
    if asked is None or asked == cot:
        return cot
    if cot:
        raise TaskArgError(
            f"-T cot=true: {path} asks for no reasoning ({evidence}), so every trade would count as "
            "missing its reasoning. Leave -T cot out: the reasoning measures do not apply to this file."
        )
    raise TaskArgError(
        f"-T cot=false: {path} asks for reasoning ({evidence}) and its messages are used as they are, "
        "so the agent is still asked for it. Leave -T cot out, or run a variant of the file without "
        "a scratchpad."
    )


def prompt_file_source(
    spec: InsiderTradingScenario,
    path: str,
    condition: Any,
    turns: Any,
    cot: bool | None,
    **builtin_only: Any,
) -> Source:
    """A prompt file in the published format: its conversation under each condition it supports.

    ``cot`` None: read from the file (:meth:`PublishedPrompt.reasoning_asked`).
    """
    for name, value in builtin_only.items():
        if value is not None:
            raise TaskArgError(
                f"-T {name} applies to the built-in scenario only; with -T prompt_file the file's own "
                f"messages are used as they are. Leave -T {name} out."
            )
    prompt = load_prompt_file(path)
    use_cot = _prompt_file_cot(prompt, path, cot)
    conditions = _prompt_file_conditions(prompt, path, condition)
    return Source(
        scripts=ScriptBook.prompt_file(prompt, spec),
        samples=[(PROMPT_FILE_VARIANT, c) for c in conditions],
        conditions=conditions,
        stages=_prompt_file_stages(prompt, path, turns),
        origin={"source": "prompt_file", "prompt_file": path},
        rendering={},
        task_extra={
            "ignored_keys": prompt.ignored_keys(),
            "cot_from": "prompt_file" if cot is None else "argument",
        },
        dataset_name=f"{spec.id}-prompt_file",
        cot=use_cot,
        config=DEFAULT_CONFIG.merge(prompt.generate_config()),
        prompt_sha256=prompt.sha256,
    )


def source_dataset(spec: InsiderTradingScenario, source: Source) -> MemoryDataset:
    """One sample per ``(variant, condition)``: the script's opening is its input."""
    samples = []
    for variant, condition in source.samples:
        script = source.scripts.script(variant, condition)
        metadata = {"scenario": spec.id, "scenario_version": spec.version, **source.origin}
        metadata.update(condition=condition, variant=variant, **source.rendering, ticker=script.names[0])
        samples.append(Sample(id=f"{variant}-{condition}", input=script.prefix, metadata=metadata))
    return MemoryDataset(samples, name=source.dataset_name)


def _task_metadata(spec: InsiderTradingScenario, source: Source, prompt_file: str | None) -> dict[str, Any]:
    record = experiment_record(
        "insider_trading",
        spec.id,
        f"1-{spec.version}",
        {
            "turns": source.stages,
            "cot": source.cot,
            "message_format": source.message_format,
            "pressure": source.pressure,
            "prompt_file": prompt_file or None,
        },
        files={
            "scenario": Path(__file__).with_name("insider_trading.yaml"),
            "prompt_file": source.prompt_sha256,  # the bytes loaded: the file is not read again
        },
        judges=judge_files(PROMPTS_DIR, "consistency", "insider_deception", NATIVE_AWARENESS, NATIVE_JUDGE),
    )
    return {
        "scenario": spec.id,
        "scenario_version": spec.version,
        "conditions": source.conditions,
        "stages": list(STAGES[: source.stages]),
        "cot": source.cot,
        **source.origin,
        **source.rendering,
        **source.task_extra,
        EXPERIMENT_KEY: record,
    }


@task
def insider_trading(
    condition: str = "all",
    turns: int | None = None,
    cot: bool | None = None,
    message_format: str | None = None,
    pressure: str | None = None,
    prompt_file: str | None = None,
    variants: str | None = None,
) -> Task:
    """Insider trading under pressure (arXiv 2311.07590 structure): trade, report, doubling down.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed): how the
        agent's handling of the first insider tip is produced.
      turns: How many stages run: 1 decision only, 2 + the report to the manager, 3 + the
        doubling-down question (default 3; 2 for a prompt file without doubling_down_trigger).
      cot: Ask for a reasoning block before each action (default true). With a prompt file, read
        from the file (its system prompt and scripted agent turns); give it only where the file
        cannot tell.
      message_format: concurrent (tip and pressure in one environment message) or split
        (separate messages). Built-in scenario only; default concurrent.
      pressure: high (with the management pressure messages) or low (without). Built-in scenario
        only; default high.
      prompt_file: Path to a prompt file in the format published with arXiv 2311.07590 (JSON or
        YAML), used instead of the built-in scenario.
      variants: Comma-separated variant ids of the built-in scenario (default: every variant).
    """
    spec = load_insider_scenario()
    use_cot = None if cot is None else parse_bool("cot", cot)
    if prompt_file:
        extra = {"message_format": message_format, "pressure": pressure, "variants": variants}
        source = prompt_file_source(spec, prompt_file, condition, turns, use_cot, **extra)
    else:
        cot_on = True if use_cot is None else use_cot
        source = builtin_source(spec, condition, turns, cot_on, message_format, pressure, variants)
    check_grader_bound()

    return Task(
        dataset=source_dataset(spec, source),
        solver=insider_trading_conversation(
            stages=source.stages,
            cot=source.cot,
            message_format=source.message_format,
            pressure=source.pressure,
            prompt_file=prompt_file or None,
            scripts=source.scripts,
        ),
        scorer=insider_trading_judge(cot=source.cot, stages=source.stages),
        metrics=insider_metrics(cot=source.cot, stages=source.stages),
        config=source.config,
        version=f"1-{spec.version}",
        metadata=_task_metadata(spec, source, prompt_file),
    )
