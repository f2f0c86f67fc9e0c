"""Read Inspect logs (``.eval`` and ``.json``) into light records for reports and gates.

Only what the report and the gate need is kept: the header (task, versions, models, dates, status,
results with every metric) and, per sample and epoch, its scalar metadata and each score's value.
Messages and events are not read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log

from refusal_evals.core.identity import record_of
from refusal_evals.report.tokens import LogTokens

SKIP_SAMPLE_FIELDS = {"events", "messages", "attachments", "store", "output"}
VERSION_KEYS = ("prompt_versions",)
"""Score-metadata keys holding a mapping of versions; every key ending in ``_version`` counts too."""


class LogReadError(Exception):
    """No log could be found, or a log could not be read."""


@dataclass
class MetricRecord:
    key: str
    """The key in ``EvalScore.metrics`` (e.g. ``refusal_evals/group_rates_refusal``)."""
    name: str
    """The metric's own name (e.g. ``refusal``, ``refusal_ci_low``, ``accuracy``)."""
    group: str | None
    """The metric function that produced it (e.g. ``group_rates``), for dict-valued metrics."""
    value: float
    params: dict[str, Any]


@dataclass
class ScoreRecord:
    name: str
    scorer: str
    reducer: str | None
    scored: int
    unscored: int
    metrics: list[MetricRecord]

    def metric(self, name: str) -> MetricRecord | None:
        return next((m for m in self.metrics if m.name == name or m.key == name), None)

    @property
    def groups(self) -> set[str]:
        return {m.group for m in self.metrics if m.group}


@dataclass
class SampleRecord:
    id: str
    epoch: int
    metadata: dict[str, Any]
    """Scalar sample metadata (strings, numbers, booleans)."""
    values: dict[str, float | None]
    """Per score name: 0/1 (or any number), ``None`` (not applicable) or NaN (unscored)."""
    error: str | None = None


@dataclass
class LogRecord:
    path: str
    task: str
    task_version: str
    model: str
    grader: str | None
    created: str
    status: str
    error: str | None
    epochs: int
    task_args: dict[str, Any]
    generate_config: dict[str, Any]
    packages: dict[str, str]
    revision: str | None
    versions: dict[str, str]
    """Flattened versions from score metadata, e.g. ``{"prompt.behaviour": "behaviour-1.0",
    "scenario_version": "1.0"}``."""
    scores: list[ScoreRecord]
    samples: list[SampleRecord] = field(default_factory=list)
    model_roles: dict[str, str] = field(default_factory=dict)
    role_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per model role: its generation config and model args (what besides the model's name changes
    the role's output)."""
    model_args: dict[str, Any] = field(default_factory=dict)
    experiment: dict[str, Any] | None = None
    """The experiment record the task wrote (:mod:`refusal_evals.core.identity`); None for logs of
    older versions (or of other packages' tasks)."""
    task_id: str = ""
    """Inspect's task id: shared by a run and its ``inspect eval-retry`` / eval-set re-runs."""
    tokens: LogTokens | None = None
    """Tokens by role (:mod:`refusal_evals.report.tokens`); calls and the split by judge only when
    the log was read with ``events=True``."""

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def task_short(self) -> str:
        return self.task.split("/")[-1]

    @property
    def date(self) -> str:
        return self.created[:10]

    def score(self, name: str) -> ScoreRecord | None:
        return next((s for s in self.scores if s.name == name), None)


def find_logs(paths: list[str | Path]) -> list[str]:
    """Every log file named or found (recursively) under the given files and directories.

    A file named explicitly is read whatever its name. Inspect's listing takes a ``.json`` file for a
    log only when its name starts with a timestamp: any other ``.json`` found under a directory is a
    log too when its header reads as one (a report's ``results.json`` or a log index does not)."""
    found: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            infos = list_eval_logs(str(path.resolve()), recursive=True, descending=False)
            listed = [info.name.removeprefix("file://") for info in infos]
            found.extend(listed)
            for other in sorted({str(f) for f in path.resolve().rglob("*.json")} - set(listed)):
                try:
                    read_eval_log(other, header_only=True)
                except Exception:  # noqa: BLE001 - not an Inspect log: left out
                    continue
                found.append(other)
        elif path.is_file():
            if path.suffix not in (".eval", ".json"):
                raise LogReadError(f"{path}: not an Inspect log (expected a .eval or .json file)")
            found.append(str(path.resolve()))
        else:
            raise LogReadError(f"{path}: no such file or directory")
    unique = list(dict.fromkeys(found))
    if not unique:
        shown = ", ".join(str(p) for p in paths)
        raise LogReadError(f"no Inspect logs (.eval or .json) found in {shown}")
    return unique


def _scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None


def _value_of(score_value: Any, name: str, scorer: str) -> float | None:
    """One score name's value from a sample's score (dict-valued or scalar)."""
    if isinstance(score_value, dict):
        if name not in score_value:
            return math.nan
        v = score_value[name]
    elif name == scorer:
        v = score_value
    else:
        return math.nan
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _flatten_versions(meta: dict[str, Any], into: dict[str, set[str]]) -> None:
    for key, v in meta.items():
        if key in VERSION_KEYS and isinstance(v, dict):
            for k, ver in v.items():
                into.setdefault(f"prompt.{k}", set()).add(str(ver))
        elif key in VERSION_KEYS and v is not None:
            into.setdefault(key, set()).add(str(v))
        elif key.endswith("_version") and _scalar(v) and v is not None:
            into.setdefault(key, set()).add(str(v))


def _header(log: EvalLog, path: str) -> LogRecord:
    spec = log.eval
    roles = {
        r: ", ".join(str(c.model) for c in cfg) if isinstance(cfg, list) else str(cfg.model)
        for r, cfg in (spec.model_roles or {}).items()
    }
    scores: list[ScoreRecord] = []
    if log.results is not None:
        for s in log.results.scores:
            scores.append(
                ScoreRecord(
                    name=s.name,
                    scorer=s.scorer,
                    reducer=s.reducer,
                    scored=s.scored_samples or 0,
                    unscored=s.unscored_samples or 0,
                    metrics=[
                        MetricRecord(
                            key=k,
                            name=m.name,
                            group=getattr(m, "group", None),
                            value=float(m.value) if m.value is not None else math.nan,
                            params=dict(m.params or {}),
                        )
                        for k, m in s.metrics.items()
                    ],
                )
            )
    plan_config = log.plan.config.model_dump(exclude_none=True) if log.plan else {}
    cli_config = spec.model_generate_config.model_dump(exclude_none=True)
    return LogRecord(
        path=path,
        task=spec.task,
        task_version=str(spec.task_version),
        model=spec.model,
        grader=roles.get("grader"),
        created=str(spec.created),
        status=log.status,
        error=(log.error.message if log.error else None),
        epochs=spec.config.epochs or 1,
        task_args=dict(spec.task_args or {}),
        generate_config={**plan_config, **cli_config},
        packages=dict(spec.packages or {}),
        revision=(spec.revision.commit if spec.revision else None),
        versions={},
        scores=scores,
        model_roles=roles,
        role_settings={r: _role_settings(cfg) for r, cfg in (spec.model_roles or {}).items()},
        model_args=dict(spec.model_args or {}),
        experiment=record_of(spec.metadata),
        task_id=spec.task_id or "",
    )


def _role_settings(cfg: Any) -> dict[str, Any]:
    """A role's generation config and model args (a role bound to several models: one per model)."""
    if isinstance(cfg, list):
        return {str(i): _role_settings(c) for i, c in enumerate(cfg)}
    return {"config": cfg.config.model_dump(exclude_none=True), "args": dict(cfg.args or {})}


def read_log(path: str, events: bool = False) -> LogRecord:
    """Read one log (header, results, the score values of every sample and epoch, tokens by role);
    ``events`` also reads the samples' events, for calls per role and the grader's split by judge."""
    try:
        log = read_eval_log(path, exclude_fields=SKIP_SAMPLE_FIELDS - ({"events"} if events else set()))
    except Exception as ex:  # noqa: BLE001 - any failure to parse is reported with the path
        raise LogReadError(f"{path}: cannot read this Inspect log: {type(ex).__name__}: {ex}") from None
    record = _header(log, path)
    versions: dict[str, set[str]] = {}
    record.tokens = LogTokens()
    for sample in log.samples or []:
        record.tokens.add_sample(sample, events)
        values: dict[str, float | None] = {}
        for sc in record.scores:
            score = (sample.scores or {}).get(sc.scorer)
            values[sc.name] = math.nan if score is None else _value_of(score.value, sc.name, sc.scorer)
        for score in (sample.scores or {}).values():
            _flatten_versions(score.metadata or {}, versions)
        record.samples.append(
            SampleRecord(
                id=str(sample.id),
                epoch=sample.epoch,
                metadata={k: v for k, v in (sample.metadata or {}).items() if _scalar(v)},
                values=values,
                error=(sample.error.message if sample.error else None),
            )
        )
    for k, v in (log.eval.metadata or {}).items():
        if k.endswith("_version") and _scalar(v) and v is not None:
            versions.setdefault(k, set()).add(str(v))
    record.versions = {k: ", ".join(sorted(v)) for k, v in sorted(versions.items())}
    return record


def read_logs(paths: list[str | Path], events: bool = False) -> list[LogRecord]:
    """Find and read every log under ``paths``; :class:`LogReadError` names the first bad one."""
    return [read_log(p, events) for p in find_logs(paths)]
