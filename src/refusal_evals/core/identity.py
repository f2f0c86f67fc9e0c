"""Experiment identity: which task arguments change what a log measures, and a fingerprint of it.

Logs may be pooled into one rate only when they measured the same thing. Which task argument
changes the measurement is decided here, per evaluation and per argument, explicitly (never by
looking at sample metadata), in :data:`ARGUMENTS`:

- a *selector* only chooses which samples run (``condition``, ``variants``, ``categories``, ...):
  every sample is built and scored the same way whatever else runs, so logs that differ only in
  selectors pool (as do ``--limit``, ``--sample-id`` and ``--epochs``, which are not task arguments);
- a *setting* changes the prompts or the measures (``turns``, ``cot``, ``pressure``, ...): logs that
  differ in a setting are different experiments;
- a *file* argument names an input file (``prompt_file``, ``dataset``): a setting compared by the
  file's contents (a hash), not by its path.

Every task records :func:`experiment_record` in its Task metadata under :data:`EXPERIMENT_KEY`: the
task and its version, the resolved value of every setting, a hash of every input file that shapes
the prompts or the measures (scenario, prompt, dataset and gold files, the judge prompt files), the
judge prompt versions, and a ``fingerprint`` (a hash of all of that). ``refusal-evals report`` and
``gate`` pool logs with the same fingerprint, model, model roles and generation config.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from refusal_evals.core.files import READ

EXPERIMENT_KEY = "experiment"
"""The Task metadata key (``log.eval.metadata``) of the experiment record."""

RECORD_FORMAT = 1
DIGEST = "sha256:"


@dataclass(frozen=True)
class TaskArguments:
    """How an evaluation's task arguments are classified (each argument in exactly one class)."""

    selectors: frozenset[str] = frozenset()
    """Arguments that only choose which samples run: they never split logs."""
    settings: frozenset[str] = frozenset()
    """Arguments that change the prompts or the measures: logs with other values are apart."""
    files: frozenset[str] = frozenset()
    """Settings whose value is the path of an input file: compared by the file's contents."""

    def classes(self, name: str) -> list[str]:
        """The classes ``name`` is in (``selector``, ``setting``, ``file``): exactly one when declared."""
        found = zip(("selector", "setting", "file"), (self.selectors, self.settings, self.files), strict=True)
        return [label for label, names in found if name in names]

    @property
    def splitting(self) -> frozenset[str]:
        """Every argument that splits (settings and file arguments)."""
        return self.settings | self.files


def _args(
    selectors: Iterable[str] = (), settings: Iterable[str] = (), files: Iterable[str] = ()
) -> TaskArguments:
    return TaskArguments(frozenset(selectors), frozenset(settings), frozenset(files))


ARGUMENTS: dict[str, TaskArguments] = {
    # every role-play scenario task (car_sales, real_estate, one per scenario file); `attribute`
    # picks variants by their metadata (real_estate); `user_temperature` is recorded as None when
    # follow_up=scripted (it is not used then)
    "roleplay": _args(
        selectors=("condition", "variants", "attribute"),
        settings=("turns", "cot", "follow_up", "user_temperature"),
    ),
    "insider_trading": _args(
        selectors=("condition", "variants"),
        settings=("turns", "cot", "message_format", "pressure"),
        files=("prompt_file",),
    ),
    # `columns`: which CSV columns are the prompt, category, ... (changes the prompts)
    "dishonest_refusal": _args(
        selectors=("categories",),
        settings=("follow_up", "bare_cant_is_inability", "columns"),
        files=("dataset",),
    ),
    # each coefficient's samples are steered and scored alike whichever other coefficients run
    "honesty_steering": _args(
        selectors=("coeffs", "categories"),
        settings=("follow_up", "bare_cant_is_inability", "columns"),
        files=("dataset",),
    ),
    "judge_validation": _args(selectors=("judges",)),
}
"""Evaluation (its folder under ``refusal_evals/``) -> how its tasks' arguments are classified."""


# --------------------------------------------------------------------------------------------
# file contents


@lru_cache(maxsize=256)
def _read(path: str, mtime_ns: int, size: int) -> tuple[str, str | None]:
    data = Path(path).read_bytes()
    version = None
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        try:
            loaded = yaml.safe_load(data)
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict) and loaded.get("version") is not None:
            version = str(loaded["version"])
    return DIGEST + hashlib.sha256(data).hexdigest(), version


def _file(path: Path) -> tuple[str, str | None]:
    """``(sha256 of the contents, top-level YAML ``version`` or None)``: from the read that loaded
    the file (:func:`refusal_evals.core.files.read_yaml`) when it was loaded so, else read once."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    return READ.get(key) or _read(*key)


def file_digest(path: str | Path) -> str:
    """The sha256 of a file's contents; of a folder: of the paths and contents of every file in it."""
    p = Path(path)
    if not p.is_dir():
        return _file(p)[0]
    files = sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    lines = [f"{f.relative_to(p).as_posix()} {_file(f)[0]}" for f in files]
    return DIGEST + hashlib.sha256("\n".join(lines).encode()).hexdigest()


def judge_files(directory: Path, *names: str) -> dict[str, Path]:
    """Judge name -> its prompt file (``<directory>/<name>.yaml``)."""
    return {name: directory / f"{name}.yaml" for name in names}


# --------------------------------------------------------------------------------------------
# the record


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def experiment_record(
    evaluation: str,
    task: str,
    version: str | int,
    settings: Mapping[str, Any],
    files: Mapping[str, str | Path | None],
    judges: Mapping[str, Path],
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The experiment record of one task (for its Task metadata, key :data:`EXPERIMENT_KEY`).

    ``settings``: the resolved value of every setting and file argument of the evaluation (exactly
    those of :data:`ARGUMENTS`); ``files``: every input file (or folder) that shapes the prompts or
    the measures, by role, whatever the selectors choose (``None``: not used; ``sha256:<hex>``: the
    hash of the bytes its loader read, so that the file is not read again); ``judges``: judge name ->
    its prompt file (hashed; its ``version`` recorded); ``values``: anything else that shapes the
    prompts and is not an argument or a file (e.g. a question taken from another file). A YAML file
    loaded through :func:`refusal_evals.core.files.read_yaml` is not read again either.
    """
    table = ARGUMENTS[evaluation]
    if set(settings) != table.splitting:
        raise ValueError(
            f"experiment_record({evaluation!r}): settings {sorted(settings)} differ from the declared "
            f"settings and file arguments {sorted(table.splitting)}"
        )
    hashed = {
        role: path if str(path).startswith(DIGEST) else file_digest(path)
        for role, path in files.items()
        if path is not None
    }
    versions: dict[str, str | None] = {}
    for name, path in judges.items():
        digest, versions[name] = _file(path)
        hashed[f"judge/{name}"] = digest
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "evaluation": evaluation,
        "task": task,
        "task_version": str(version),
        "selectors": sorted(table.selectors),
        "settings": {k: settings[k] for k in sorted(settings)},
        "file_arguments": sorted(table.files),
        "files": dict(sorted(hashed.items())),
        "judges": dict(sorted(versions.items())),
        "values": {k: v for k, v in sorted((values or {}).items())},
    }
    record["fingerprint"] = fingerprint(record)
    return record


def fingerprint(record: Mapping[str, Any]) -> str:
    """A hash of everything in the record that changes the measurement: a file argument counts by
    its contents (``files``), not its path."""
    file_args = set(record.get("file_arguments") or [])
    settings = {k: v for k, v in (record.get("settings") or {}).items() if k not in file_args}
    measured = {
        "evaluation": record.get("evaluation"),
        "task": record.get("task"),
        "task_version": record.get("task_version"),
        "settings": settings,
        "files": record.get("files") or {},
        "judges": record.get("judges") or {},
        "values": record.get("values") or {},
    }
    return hashlib.sha256(_canonical(measured).encode()).hexdigest()[:24]


def record_of(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The experiment record in a log's eval metadata, or None (a log of an older version)."""
    record = (metadata or {}).get(EXPERIMENT_KEY)
    if isinstance(record, dict) and isinstance(record.get("fingerprint"), str):
        return record
    return None
