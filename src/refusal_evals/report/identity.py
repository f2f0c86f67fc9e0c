"""What a log measured, as labelled values (the key logs are pooled by), and which logs a re-run replaced.

A log's identity is its experiment record (:mod:`refusal_evals.core.identity`: task, version,
settings, input-file hashes, judge prompt versions), the prompt and scenario versions its scores
recorded, its score names, its generation config, the model args of the model under test and the
settings of its model roles. Logs of one task with the same identity pool (one row per model and
grader); logs with another identity are shown apart, the differing labels named
(``-T pressure=high`` vs ``-T pressure=low``). A log without a record (an older refusal-evals) is
compared through the same table of :data:`refusal_evals.core.identity.ARGUMENTS` applied to its
task arguments; its input files cannot be compared.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from refusal_evals.core.identity import ARGUMENTS, TaskArguments
from refusal_evals.report.read import LogRecord

PACKAGE = "refusal_evals"

RUNTIME_CONFIG = frozenset(
    {
        "max_retries",
        "timeout",
        "attempt_timeout",
        "stream_idle_timeout",
        "max_connections",
        "adaptive_connections",
        "batch",
        "cache",
        "cache_prompt",
    }
)
"""Generation-config fields that do not change what a model answers (as Inspect's own eval-set task
identity leaves them out)."""

PLACEMENT_ARGS = frozenset({"device", "device_map", "batch_size", "api_key", "base_url"})
"""Model args that say where or how fast a model runs, not what it answers."""


@dataclass
class Identity:
    labels: dict[str, str]
    """Label -> the value compared, e.g. ``-T pressure`` -> ``low``; ``file scenario`` -> a short hash
    of the contents (a file argument, ``-T prompt_file``: the hash of the file, not its path)."""
    shown: dict[str, str]
    """Label -> the value as headings show it, where it differs from the compared one (a file
    argument: its path and the hash of its contents)."""
    settings: dict[str, Any]
    """The task arguments that split (settings and file arguments), by name."""
    fingerprint: str | None
    """The record's fingerprint; None for a log without a record."""
    package_task: bool = True
    """A task of this package (others have no record and no table: every argument splits)."""

    def show(self, label: str) -> str:
        return self.shown.get(label, self.labels.get(label, "-"))

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.fingerprint, tuple(self.labels.items()))


def text(value: Any) -> str:
    """A value as a label shows it: strings as they are, None as ``-``, anything else as JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any) -> str:
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[7:19]
    return hashlib.sha256(text(value).encode()).hexdigest()[:12]


def task_arguments(task: str) -> TaskArguments | None:
    """The classification of a task's arguments: through the evaluation folder of its registered
    ``@task`` function (``refusal_evals/car_sales`` -> ``roleplay``); None for another package's task."""
    if not task.startswith(f"{PACKAGE}/"):
        return None
    from refusal_evals.core.registry import registered_tasks  # noqa: PLC0415  (imports every task)

    fn = registered_tasks().get(task)
    module = str(getattr(fn, "__module__", ""))
    parts = module.split(".")
    if fn is None or len(parts) < 2 or parts[0] != PACKAGE:
        return None
    return ARGUMENTS.get(parts[1])


def _settings(log: LogRecord, record: dict[str, Any] | None) -> dict[str, Any]:
    """From the record, else the table applied to the task arguments (every argument of a task the
    table does not know)."""
    if record is not None:
        return dict(record.get("settings") or {})
    table = task_arguments(log.task)
    if table is None:
        return dict(log.task_args)
    return {k: v for k, v in log.task_args.items() if k in table.splitting}


def _model_labels(log: LogRecord) -> dict[str, str]:
    labels = {f"--{k}": text(v) for k, v in sorted(log.generate_config.items()) if k not in RUNTIME_CONFIG}
    labels.update({f"-M {k}": text(v) for k, v in sorted(log.model_args.items()) if k not in PLACEMENT_ARGS})
    for role, settings in sorted(log.role_settings.items()):
        if role != "grader":  # the grader's model names the row; any other role's is part of the setup
            labels[f"--model-role {role}"] = log.model_roles.get(role, "-")
        for what, values in sorted(settings.items()):
            prefix = f"{role} --" if what == "config" else f"{role} -M "
            skip = RUNTIME_CONFIG if what == "config" else PLACEMENT_ARGS
            if isinstance(values, dict):
                labels.update({prefix + k: text(v) for k, v in sorted(values.items()) if k not in skip})
    return labels


def log_identity(log: LogRecord, use_record: bool = True) -> Identity:
    """Everything that changes what ``log`` measured, labelled for headings and warnings
    (``use_record=False``: as if the log had no experiment record, from its task arguments as given)."""
    record = log.experiment if use_record else None
    settings = _settings(log, record)
    labels = {
        "task version": log.task_version,
        "score names": ",".join(sorted(s.name for s in log.scores)),
        **log.versions,
        **{f"-T {k}": text(v) for k, v in sorted(settings.items())},
    }
    shown: dict[str, str] = {}
    if record is not None:
        files = dict(record.get("files") or {})
        for arg in record.get("file_arguments") or []:  # compared by contents, shown by path too
            digest = files.pop(arg, None)
            labels[f"-T {arg}"] = _short(digest) if digest else "-"
            if digest:
                shown[f"-T {arg}"] = f"{text(settings.get(arg))} (contents {_short(digest)})"
        labels.update({f"file {k}": _short(v) for k, v in sorted(files.items())})
        labels.update({f"judge {k}": text(v) for k, v in sorted((record.get("judges") or {}).items())})
        labels.update({f"value {k}": _short(v) for k, v in sorted((record.get("values") or {}).items())})
    labels.update(_model_labels(log))
    fingerprint = str(record["fingerprint"]) if record is not None else None
    package_task = log.task.startswith(f"{PACKAGE}/")
    return Identity(labels, shown, settings, fingerprint, package_task)


def merge_unrecorded(groups: dict[Any, list[LogRecord]], identities: dict[str, Identity]) -> list[str]:
    """Move each group of logs without a record into the one group of recorded logs that has the
    same identity when its record is set aside (the same task arguments as given, versions, config;
    in place); notes for the warnings."""
    notes: list[str] = []
    recorded = {key: logs for key, logs in groups.items() if key[0] is not None}
    as_given = {key: log_identity(logs[0], use_record=False).labels for key, logs in recorded.items()}
    for key in [k for k in groups if k[0] is None]:
        logs = groups[key]
        if not identities[logs[0].path].package_task:
            continue
        matches = [k for k in recorded if as_given[k] == identities[logs[0].path].labels]
        names = ", ".join(log.name for log in logs)
        if len(matches) == 1:
            recorded[matches[0]].extend(groups.pop(key))
            how = "pooled with the logs of the same settings"
        else:
            how = "shown apart" if not matches else "shown apart (several recorded experiments match)"
        notes.append(
            f"{names}: no experiment record (an older refusal-evals): compared by task version and the "
            "task arguments that change the experiment only (the table in refusal_evals/core/identity.py); "
            f"the contents of its input files and judge prompts could not be compared; {how}"
        )
    return notes


# --------------------------------------------------------------------------------------------
# re-runs


def _when(log: LogRecord) -> datetime | None:
    try:
        return datetime.fromisoformat(log.created)
    except ValueError:
        return None


def superseded_by(logs: list[LogRecord]) -> dict[str, LogRecord]:
    """Unsuccessful log path -> the later successful log of the same eval that replaced it.

    ``inspect eval-retry`` and an eval-set re-run run the same task again under its first run's
    ``task_id`` (Inspect's own link between the attempts of one eval; a new ``eval_id`` and
    ``created`` each time), seeded with the samples already done: the newest successful attempt
    holds everything the older ones hold.
    """
    out: dict[str, LogRecord] = {}
    for log in logs:
        if log.status == "success" or not log.task_id:
            continue
        when = _when(log)
        later = [
            other
            for other in logs
            if other.task_id == log.task_id
            and other.status == "success"
            and other.path != log.path
            and (when is None or (_when(other) or when) > when)
        ]
        if later:
            out[log.path] = max(later, key=lambda lg: lg.created)
    return out


def repeated_attempts(logs: list[LogRecord]) -> list[str]:
    """Warnings for successful logs of one eval (one ``task_id``), model and grader: a copy, or a
    re-scored log (``inspect score --output-file``) beside its original, holds the same samples,
    which would be counted twice."""
    by_eval: dict[tuple[str, str, str | None], list[LogRecord]] = {}
    for log in logs:
        if log.task_id:
            by_eval.setdefault((log.task_id, log.model, log.grader), []).append(log)
    return [
        f"{', '.join(lg.name for lg in same)} are attempts of one eval ({same[0].task}, {same[0].model}, "
        "the same task_id): their samples are counted once per log; keep only the one to report"
        for same in by_eval.values()
        if len(same) > 1
    ]
