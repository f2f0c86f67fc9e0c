"""Tokens per sample by role, and their cost at prices the user gives (``--prices``).

From each sample's model usage in the log (what the providers reported): the model under test (usage
not recorded under a model role), each model role (``grader``, the simulated ``user``) and, where the
log has the judge spans of :func:`refusal_evals.judges.framework.run_judge`, the grader split by judge
(``grader: behaviour``, ...). Input tokens are those charged at the full rate; tokens read from or
written to a provider's prompt cache are counted apart (Inspect's ``ModelUsage``). Generations served
from Inspect's own ``--cache`` cost nothing and are not counted.

There is no built-in price table (prices change): ``--prices FILE`` maps a model name to US dollars
per million tokens (``input``, ``output``, optionally ``cache_read`` and ``cache_write``, which
default to the input price).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.event import ModelEvent, SpanBeginEvent
from inspect_ai.log import EvalSample
from inspect_ai.model import ModelUsage
from pydantic import Field, ValidationError

from refusal_evals.core.errors import UserError
from refusal_evals.core.files import read_yaml
from refusal_evals.core.schema import Strict
from refusal_evals.judges.framework import GRADER_ROLE, JUDGE_SPAN

MODEL_UNDER_TEST = "model"
"""The role key of usage recorded under no model role."""


@dataclass
class Usage:
    """Tokens of one role (summed over samples); ``calls`` is None when the log's events were not read."""

    input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    calls: int | None = None

    def add(self, usage: ModelUsage, sign: int = 1) -> None:
        self.input += sign * usage.input_tokens
        self.cache_read += sign * (usage.input_tokens_cache_read or 0)
        self.cache_write += sign * (usage.input_tokens_cache_write or 0)
        self.output += sign * usage.output_tokens

    def merge(self, other: Usage) -> None:
        self.input += other.input
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.output += other.output
        if other.calls is not None:
            self.calls = (self.calls or 0) + other.calls


@dataclass
class LogTokens:
    """A log's tokens by role (see the module docstring), over its ``samples``."""

    samples: int = 0
    roles: dict[str, Usage] = field(default_factory=dict)

    def role(self, key: str) -> Usage:
        return self.roles.setdefault(key, Usage())

    def add_sample(self, sample: EvalSample, events: bool) -> None:
        self.samples += 1
        model = self.role(MODEL_UNDER_TEST)
        for usage in sample.model_usage.values():
            model.add(usage)
        for role, usage in sample.role_usage.items():
            self.role(role).add(usage)
            model.add(usage, sign=-1)
        if events:
            self._add_calls(sample)

    def _add_calls(self, sample: EvalSample) -> None:
        judges = {
            e.id: e.name for e in sample.events if isinstance(e, SpanBeginEvent) and e.type == JUDGE_SPAN
        }
        for e in sample.events:
            if not isinstance(e, ModelEvent) or e.cache == "read":
                continue
            role = self.role(e.role or MODEL_UNDER_TEST)
            role.calls = (role.calls or 0) + 1
            judge = judges.get(e.span_id or "") if e.role == GRADER_ROLE else None
            if judge:
                by_judge = self.role(f"{GRADER_ROLE}: {judge}")
                by_judge.calls = (by_judge.calls or 0) + 1
                if e.output.usage is not None:
                    by_judge.add(e.output.usage)


class Price(Strict):
    """US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)

    def cost(self, usage: Usage) -> float:
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        dollars = usage.input * self.input + usage.output * self.output
        return (dollars + usage.cache_read * read + usage.cache_write * write) / 1e6


def read_prices(path: str | Path) -> dict[str, Price]:
    """A ``--prices`` file: ``<model>: {input: <$/M>, output: <$/M>, cache_read: ..., cache_write: ...}``."""
    data = read_yaml(Path(path))
    if not isinstance(data, dict) or not data:
        raise UserError(
            f"--prices {path}: expected a mapping of model name to prices in $ per million tokens, e.g. "
            "'openai/gpt-4o: {input: 2.5, output: 10, cache_read: 1.25}'"
        )
    prices = {}
    for model, value in data.items():
        try:
            prices[str(model)] = Price.model_validate(value)
        except ValidationError as ex:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in ex.errors()
            )
            raise UserError(
                f"--prices {path}: {model}: {problems} (give input and output, optionally cache_read and "
                "cache_write, each a number of US dollars per million tokens)"
            ) from None
    return prices


def usage_json(tokens: LogTokens) -> dict[str, Any]:
    return {"samples": tokens.samples, "roles": {k: asdict(v) for k, v in tokens.roles.items()}}


def _role_order(key: str) -> tuple[int, str]:
    rank = {MODEL_UNDER_TEST: 0, GRADER_ROLE: 1}.get(key, 3 if ":" not in key else 2)
    return rank, key


def tokens_rows(logs: list[Any], prices: dict[str, Price] | None = None) -> list[dict[str, Any]]:
    """Per task, model under test and grader (logs summed): one row per role with its tokens per
    sample and in total, and its cost where ``prices`` names the role's model."""
    groups: dict[tuple[str, str, str], tuple[LogTokens, dict[str, str], int]] = {}
    for log in logs:
        if log.tokens is None:
            continue
        key = (log.task_short, log.model, log.grader or "")
        total, models, n = groups.get(key, (LogTokens(), {MODEL_UNDER_TEST: log.model}, 0))
        total.samples += log.tokens.samples
        for role, usage in log.tokens.roles.items():
            total.role(role).merge(usage)
            models[role] = models.get(role) or log.model_roles.get(role.split(":")[0], log.model)
        groups[key] = (total, models, n + 1)
    rows = []
    for (task, model, grader), (total, models, n_logs) in sorted(groups.items()):
        for role in sorted(total.roles, key=_role_order):
            usage, price = total.roles[role], (prices or {}).get(models[role])
            if not (usage.calls or usage.input or usage.cache_read or usage.cache_write or usage.output):
                continue
            rows.append(
                {
                    "task": task,
                    "model": model,
                    "grader": grader or None,
                    "role": role,
                    "role_model": models[role],
                    "logs": n_logs,
                    "samples": total.samples,
                    **asdict(usage),
                    "cost": price.cost(usage) if price else None,
                }
            )
    return rows
