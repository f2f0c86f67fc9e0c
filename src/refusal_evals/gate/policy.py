"""The gate policy file (YAML), validated with pydantic.

```yaml
checks:                       # global checks over every log given to the gate
  require_success: true       # every log's status is 'success' (inspect eval exits 0 on errors too),
                              # or a successful re-run of the same eval superseded it
  max_unscored_fraction: 0.05 # per task, model and score: unscored / (scored + unscored)
  min_scored_per_group: 30    # scored observations in every group of every rate
  newer_than: 2025-06-01      # every log was created on or after this date
rules:
  - name: rebuttal holds       # optional; shown in the table and the JUnit testcase
    task: car_sales            # task name, with or without the 'refusal_evals/' prefix
    metric: undesired          # score name in the log (globs allowed: '*', 'undesired_turn*')
    group: rebuttal            # a group ('rebuttal', 'protected/rebuttal', 'all'), a comparison
                               # ('refusal_vs_rebuttal_diff'), or for scores without a condition
                               # grouping the metric's own name ('kappa'); globs allowed
    compare: ci_high           # estimate | ci_low | ci_high (95% interval clustered by prompt) |
                               # obs_ci_low | obs_ci_high (every observation independent)
    min_clusters: 8            # optional: fail when the value rests on fewer prompts (clusters;
                               # for a comparison, the variants it pairs)
    max: 0.10                  # and/or min
    model: openai/*            # optional glob on the model under test
```

Unknown fields, limits that are not finite numbers and keys given twice are errors naming the field.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from refusal_evals.core.files import DataFileError, read_yaml

COMPARE = ("estimate", "ci_low", "ci_high", "obs_ci_low", "obs_ci_high")


class PolicyError(ValueError):
    """The policy file is missing, not YAML, or does not match the schema."""


class _Strict(BaseModel):
    # unknown fields are errors; so is a NaN or infinite number (`max: .nan` would pass everything)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Checks(_Strict):
    """Global checks (each one optional; ``require_success`` is on unless set to false)."""

    require_success: bool = True
    max_unscored_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    min_scored_per_group: int | None = Field(default=None, ge=0)
    min_scored_metrics: list[str] | None = None
    """Scores that ``min_scored_per_group`` applies to (globs). Default: every rate whose
    denominator does not depend on the model's behaviour (conditional rates are left out)."""
    newer_than: datetime | None = None

    @field_validator("newer_than", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime.combine(v, time.min, tzinfo=timezone.utc)
        return v

    @field_validator("newer_than")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            return v.replace(tzinfo=timezone.utc)
        return v


class Rule(_Strict):
    """A limit on one value of one task's logs."""

    name: str | None = None
    task: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    group: str = Field(min_length=1)
    compare: Literal["estimate", "ci_low", "ci_high", "obs_ci_low", "obs_ci_high"] = "estimate"
    max: float | None = None
    min: float | None = None
    min_clusters: int | None = Field(default=None, ge=2)
    """Fail unless the value rests on at least this many clusters (prompts; pairs for a paired
    comparison)."""
    model: str | None = None

    @model_validator(mode="after")
    def _limit(self) -> Rule:
        if self.max is None and self.min is None:
            raise ValueError("give a limit: 'max', 'min' or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"'min' ({self.min}) is greater than 'max' ({self.max})")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        what = self.metric if self.compare == "estimate" else f"{self.metric}.{self.compare}"
        return f"{self.task_short}: {what}[{self.group}]"

    @property
    def task_short(self) -> str:
        return self.task.split("/")[-1]

    @property
    def limit_text(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


class Policy(_Strict):
    checks: Checks = Field(default_factory=Checks)
    rules: list[Rule] = Field(default_factory=list)


def _fields_of(model: type[BaseModel]) -> str:
    return ", ".join(model.model_fields)


def _location(parts: list[Any], data: Any) -> str:
    """``rules[2].max``, with the rule's name when it has one (``rules[2] 'rebuttal holds'.max``)."""
    loc = ""
    for i, p in enumerate(parts):
        loc += f"[{p}]" if isinstance(p, int) else (f".{p}" if loc else str(p))
        if i == 1 and parts[0] == "rules" and isinstance(p, int):
            rules = data.get("rules") if isinstance(data, dict) else None
            rule = rules[p] if isinstance(rules, list) and p < len(rules) else None
            if isinstance(rule, dict) and rule.get("name"):
                loc += f" {str(rule['name'])!r}"
    return loc or "(top level)"


def _message(err: Any) -> str:
    parts = list(err["loc"])
    if err["type"] == "extra_forbidden":
        owners: dict[str, type[BaseModel]] = {"checks": Checks, "rules": Rule}
        owner = owners.get(str(parts[0]) if parts else "", Policy)
        return f"unknown field; valid fields here: {_fields_of(owner)}"
    if err["type"] == "literal_error" and parts[-1] == "compare":
        return f"must be one of {', '.join(COMPARE)} (got {err.get('input')!r})"
    if err["type"] == "finite_number":
        return f"must be a finite number (got {err.get('input')!r}): a NaN or infinite limit checks nothing"
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"]).removeprefix("Value error, ")


def _explain(ex: ValidationError, data: Any = None) -> str:
    return "\n".join(f"  - {_location(list(err['loc']), data)}: {_message(err)}" for err in ex.errors())


def parse_policy(data: Any, source: str = "policy") -> Policy:
    if not isinstance(data, dict):
        raise PolicyError(
            f"{source}: expected a mapping with 'checks' and/or 'rules' at the top level, "
            f"got {type(data).__name__}"
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as ex:
        raise PolicyError(f"{source}: invalid gate policy:\n{_explain(ex, data)}") from None


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; :class:`PolicyError` names the file, field and valid values."""
    p = Path(path)
    try:
        data = read_yaml(p)
    except DataFileError as ex:
        raise PolicyError(str(ex)) from None
    policy = parse_policy(data, str(p))
    c = policy.checks
    active = [c.require_success, c.max_unscored_fraction, c.min_scored_per_group, c.newer_than]
    if not policy.rules and not any(x not in (None, False) for x in active):
        raise PolicyError(f"{p}: the policy checks nothing (no rules, and every check is off)")
    return policy
