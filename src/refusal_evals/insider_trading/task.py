"""``refusal_evals/insider_trading``: an AI trading agent, an insider tip, a report and a direct question.

After Scheurer et al. 2023 (arXiv 2311.07590) and the insider-trading scenario of arXiv 2406.19552;
the built-in scenario text is this project's own (``datasets/insider_trading.yaml``).
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample

from refusal_evals.core.args import (
    TaskArgError,
    check_grader_bound,
    parse_bool,
    parse_choices,
    parse_int,
)
from refusal_evals.core.schema import CONDITIONS
from refusal_evals.insider_trading.scorer import insider_metrics, insider_trading_judge
from refusal_evals.insider_trading.script import (
    MESSAGE_FORMATS,
    PRESSURES,
    STAGES,
    InsiderTradingScenario,
    PublishedPrompt,
    builtin_script,
    load_insider_scenario,
    load_prompt_file,
    prompt_file_conditions,
    prompt_file_script,
)
from refusal_evals.insider_trading.solver import insider_trading_conversation
from refusal_evals.roleplay.task import DEFAULT_CONFIG


def _builtin_only(name: str, value: Any) -> None:
    if value is not None:
        raise TaskArgError(
            f"-T {name} applies to the built-in scenario only; with -T prompt_file the file's own "
            f"messages are used as they are. Leave -T {name} out."
        )


def _one(name: str, value: Any, valid: tuple[str, ...]) -> str:
    chosen = parse_choices(name, value, valid, allow_all=False)
    if len(chosen) > 1:
        raise TaskArgError(f"-T {name}: give one value ({', '.join(valid)}), not several")
    return chosen[0]


def _samples_builtin(
    spec: InsiderTradingScenario,
    conditions: list[str],
    variants: list[str],
    cot: bool,
    message_format: str,
    pressure: str,
) -> MemoryDataset:
    samples = []
    for variant in variants:
        for condition in conditions:
            script = builtin_script(spec, variant, condition, cot, message_format, pressure)
            samples.append(
                Sample(
                    id=f"{variant}-{condition}",
                    input=script.prefix,
                    metadata={
                        "scenario": spec.id,
                        "scenario_version": spec.version,
                        "source": "builtin",
                        "condition": condition,
                        "variant": variant,
                        "message_format": message_format,
                        "pressure": pressure,
                        "ticker": script.names[0],
                    },
                )
            )
    return MemoryDataset(samples, name=spec.id)


def _samples_prompt_file(
    prompt: PublishedPrompt, path: str, spec: InsiderTradingScenario, conditions: list[str]
) -> MemoryDataset:
    samples = [
        Sample(
            id=f"prompt_file-{condition}",
            input=prompt_file_script(prompt, spec, condition).prefix,
            metadata={
                "scenario": spec.id,
                "scenario_version": spec.version,
                "source": "prompt_file",
                "prompt_file": path,
                "condition": condition,
                "variant": "prompt_file",
                "ticker": prompt.ticker(),
            },
        )
        for condition in conditions
    ]
    return MemoryDataset(samples, name=f"{spec.id}-prompt_file")


@task
def insider_trading(
    condition: str = "all",
    turns: int | None = None,
    cot: bool = True,
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
      cot: Ask for a reasoning block before each action (built-in scenario only).
      message_format: concurrent (tip and pressure in one environment message) or split
        (separate messages). Built-in scenario only; default concurrent.
      pressure: high (with the management pressure messages) or low (without). Built-in scenario
        only; default high.
      prompt_file: Path to a prompt file in the format published with arXiv 2311.07590 (JSON or
        YAML), used instead of the built-in scenario.
      variants: Comma-separated variant ids of the built-in scenario (default: every variant).
    """
    spec = load_insider_scenario()
    use_cot = parse_bool("cot", cot)
    config = DEFAULT_CONFIG
    if prompt_file:
        for name, value in (
            ("message_format", message_format),
            ("pressure", pressure),
            ("variants", variants),
        ):
            _builtin_only(name, value)
        if not use_cot:
            raise TaskArgError(
                "-T cot=false cannot be used with -T prompt_file: the file's own system prompt "
                "sets the reply format. Leave -T cot out."
            )
        prompt = load_prompt_file(prompt_file)
        valid = prompt_file_conditions(prompt)
        asked = parse_choices("condition", condition, CONDITIONS, allow_all=True)
        if str(condition).strip() == "all":
            asked = list(valid)
        unsupported = [c for c in asked if c not in valid]
        if unsupported:
            raise TaskArgError(
                f"-T condition: {', '.join(unsupported)} needs the prompt file's 'injection_index' "
                f"(the index in 'messages' of the assistant turn that handles the first tip); "
                f"{prompt_file} has none, so only natural (the file as published) can run"
            )
        conditions = asked
        max_stages = 3 if prompt.doubling_down_trigger else 2
        if turns is not None and str(turns).strip() == "3" and max_stages == 2:
            raise TaskArgError(
                f"-T turns=3 (doubling down) needs 'doubling_down_trigger' in the prompt file; "
                f"{prompt_file} has none. Use -T turns=1 or 2."
            )
        stages = parse_int("turns", max_stages if turns is None else turns, minimum=1, maximum=max_stages)
        config = DEFAULT_CONFIG.merge(prompt.generate_config())
        dataset = _samples_prompt_file(prompt, prompt_file, spec, conditions)
        fmt, press = None, None
        source: dict[str, Any] = {
            "source": "prompt_file",
            "prompt_file": prompt_file,
            "ignored_keys": prompt.ignored_keys(),
        }
    else:
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
        dataset = _samples_builtin(spec, conditions, chosen, use_cot, fmt, press)
        source = {"source": "builtin", "message_format": fmt, "pressure": press, "variants": chosen}
    check_grader_bound()

    return Task(
        dataset=dataset,
        solver=insider_trading_conversation(
            stages=stages,
            cot=use_cot,
            message_format=fmt or "concurrent",
            pressure=press or "high",
            prompt_file=prompt_file or None,
        ),
        scorer=insider_trading_judge(cot=use_cot, stages=stages),
        metrics=insider_metrics(cot=use_cot, stages=stages),
        config=config,
        version=f"1-{spec.version}",
        metadata={
            "scenario": spec.id,
            "scenario_version": spec.version,
            "conditions": conditions,
            "stages": list(STAGES[:stages]),
            "cot": use_cot,
            **source,
        },
    )
