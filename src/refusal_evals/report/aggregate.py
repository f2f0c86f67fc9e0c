"""Pool logs into comparable results: rates per model and group, recomputed from the samples.

Everything is derived from the logs, with no per-task code:

- a score is a *rate* when its metrics come from :func:`refusal_evals.stats.metrics.group_rates`
  (metric group ``group_rates``), a *mean* when they come from ``group_means`` (e.g. a harm score in
  [0, 1]); the metric's params give the grouping (``group_key``, default ``condition``; ``within``,
  e.g. ``attribute``) and the comparisons;
- rates are recomputed from every sample's per-epoch value (1/0; ``None`` = not applicable; NaN =
  unscored) and its cluster id (the metric's ``cluster`` metadata key, else the sample id) with
  :func:`refusal_evals.stats.rates.rate_values`, the function the ``group_rates`` metric itself
  uses, so several logs of one model pool and a single log's numbers equal its metrics; a log
  without samples falls back to its recorded metrics (pooled with other logs: only ``n`` and the
  estimate ``k / n`` are known);
- logs are pooled only when they measured the same thing (:mod:`refusal_evals.report.identity`):
  same task, experiment record (task version, settings, input-file contents, judge prompt versions:
  :mod:`refusal_evals.core.identity`), prompt and scenario versions in the scores, score names,
  generation config, model args and model-role settings; rows are per model and grader. Task
  arguments that only select samples (``condition=refusal``, ``variants=...``), ``--limit`` and
  ``--epochs`` never split. Anything else is shown apart, the differing settings named, with a
  warning. An unsuccessful log that a successful re-run of the same eval superseded is named so;
- scores without such a grouping (e.g. a judge-validation task's accuracy or kappa) are kept as
  they are in the log.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from refusal_evals.report.identity import (
    Identity,
    log_identity,
    merge_unrecorded,
    repeated_attempts,
    superseded_by,
)
from refusal_evals.report.read import LogRecord, ScoreRecord
from refusal_evals.stats.intervals import Obs
from refusal_evals.stats.rates import (
    DEFAULT_COMPARISONS,
    RATE_SUFFIXES,
    Comparison,
    Grouping,
    comparisons_of,
    mean_values,
    parse_pairs,
    rate_values,
)

RATE_GROUP = "group_rates"
MEAN_GROUP = "group_means"
KINDS = {RATE_GROUP: "rate", MEAN_GROUP: "mean"}
DEFAULT_GROUP_KEY = "condition"
TURN = re.compile(r"^(?P<base>.+)_turn(?P<turn>\d+)$")


@dataclass
class Counts:
    """Observations of one score in one group: a rate (0/1 values) or a mean (values in [0, 1])."""

    k: int = 0
    """observations with value 1 (rates)"""
    n: int = 0
    """scored observations"""
    unscored: int = 0
    """NaN: the judges could not decide (-1: unknown, a log without samples contributed)"""
    na: int = 0
    """None: not applicable (the denominator of a conditional rate)"""
    kind: str = "rate"
    obs: list[Obs] = field(default_factory=list)
    """(cluster id, value) of every scored observation (empty for a log without samples)"""

    def add(self, other: Counts) -> None:
        self.kind = other.kind
        self.k += other.k
        self.n += other.n
        self.na += other.na
        self.obs.extend(other.obs)
        unknown = self.unscored < 0 or other.unscored < 0
        self.unscored = -1 if unknown else self.unscored + other.unscored


@dataclass
class RateSpec(Grouping):
    """How one score is grouped (from its ``group_rates`` / ``group_means`` metric params)."""

    kind: str = "rate"
    metric_group: str = RATE_GROUP


def rate_spec(score: ScoreRecord) -> RateSpec | None:
    """The grouping of a ``group_rates`` or ``group_means`` score, or None for any other score."""
    for group, kind in KINDS.items():
        found = [m for m in score.metrics if m.group == group]
        if not found:
            continue
        params = found[0].params
        comps = params.get("comparisons")
        if comps is None:
            comps = DEFAULT_COMPARISONS if kind == "rate" else []
        return RateSpec(
            group_key=params.get("group_key") or DEFAULT_GROUP_KEY,
            within=params.get("within") or None,
            comparisons=parse_pairs(comps),
            across=parse_pairs(params.get("across") or []),
            cluster=params.get("cluster") or None,
            kind=kind,
            metric_group=group,
        )
    return None


def group_name(meta: dict[str, Any], spec: RateSpec) -> str:
    """The sample's group; a sample without the group's metadata (e.g. a log of another task
    re-scored with this scorer) is counted in a group that names what it lacks, never dropped."""
    missing = [k for k in (spec.within, spec.group_key) if k and k not in meta]
    if missing:
        return "(no " + " or ".join(f"'{k}'" for k in missing) + " metadata)"
    name = str(meta[spec.group_key])
    return f"{meta[spec.within]}/{name}" if spec.within else name


def counts_from_samples(log: LogRecord, score: str, spec: RateSpec) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for s in log.samples:
        g = group_name(s.metadata, spec)
        v = s.values.get(score, math.nan)
        c = out.setdefault(g, Counts(kind=spec.kind))
        if v is None:
            c.na += 1
        elif math.isnan(v):
            c.unscored += 1
        else:
            c.n += 1
            c.k += int(v == 1.0)
            # the cluster the metric used: its metadata key, else the sample (all its epochs)
            cluster = s.metadata.get(spec.cluster, s.id) if spec.cluster else s.id
            c.obs.append((cluster, v))
    return out


def _is_group_entry(name: str) -> bool:
    return name != "all" and not name.endswith(RATE_SUFFIXES) and "_vs_" not in name


def counts_from_metrics(score: ScoreRecord, spec: RateSpec) -> dict[str, Counts]:
    """Fallback for a log without samples: ``n`` and ``k = rate * n`` per group (no observations:
    the report reads the log's recorded values); unscored per group unknown."""
    by_name = {m.name: m.value for m in score.metrics if m.group == spec.metric_group}
    out: dict[str, Counts] = {}
    for name, value in by_name.items():
        n = by_name.get(f"{name}_n")
        if not _is_group_entry(name) or n is None:
            continue
        k = 0 if math.isnan(value) or spec.kind == "mean" else round(value * n)
        out[name] = Counts(k=k, n=int(n), unscored=-1, kind=spec.kind)
    return out


def total(counts: dict[str, Counts]) -> Counts:
    t = Counts()
    for c in counts.values():
        t.add(c)
    return t


def rate_entries(counts: dict[str, Counts], spec: RateSpec) -> dict[str, float]:
    """The same names and values as the ``group_rates`` / ``group_means`` metric, from observations
    (the one computation in :mod:`refusal_evals.stats.rates`)."""
    if spec.kind == "mean":
        return mean_values({g: [v for _, v in c.obs] for g, c in counts.items()})
    return rate_values({g: c.obs for g, c in counts.items()}, spec)


def comparisons(counts: dict[str, Counts], spec: RateSpec) -> list[Comparison]:
    """The comparisons whose two groups have scored observations (rates only)."""
    if spec.kind != "rate":
        return []
    return comparisons_of([g for g, c in counts.items() if c.n], spec)


def _pooled_from_metrics(counts: dict[str, Counts], spec: RateSpec) -> dict[str, float]:
    """Logs without samples pooled with other logs: only ``n`` and (rates) ``k / n`` are known."""
    out: dict[str, float] = {}
    for name, c in {**counts, "all": total(counts)}.items():
        out[name] = c.k / c.n if c.n and spec.kind == "rate" else math.nan
        out[f"{name}_n"] = float(c.n)
    return out


# --------------------------------------------------------------------------------------------
# comparable configurations


@dataclass
class Row:
    """One model (with its grader) in a configuration; its logs are pooled."""

    model: str
    grader: str | None
    logs: list[LogRecord] = field(default_factory=list)
    counts: dict[str, dict[str, Counts]] = field(default_factory=dict)
    """score name -> group -> counts (pooled over logs)"""
    from_metrics: bool = False
    """Some log had no samples: counts come from its metrics and unscored per group is unknown."""
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    """score name -> its ``group_rates`` / ``group_means`` values (filled by :func:`pooled_entries`)"""


@dataclass
class Config:
    """Logs of one task that measured the same thing (same identity: :mod:`.identity`)."""

    task: str
    task_version: str
    versions: dict[str, str]
    args: dict[str, Any]
    """The task arguments that change the experiment (settings), as the logs recorded them."""
    rate_scores: list[str]
    specs: dict[str, RateSpec]
    other_scores: list[str]
    rows: list[Row] = field(default_factory=list)
    index: int = 1
    of: int = 1
    differs: list[str] = field(default_factory=list)
    """What sets this configuration apart from the task's other configurations."""
    identity: Identity | None = None
    """Everything that changes what was measured, labelled (``-T pressure`` -> ``low``, ...), and the
    experiment record's fingerprint (None: logs of an older version, without one)."""

    @property
    def fingerprint(self) -> str | None:
        return self.identity.fingerprint if self.identity else None

    @property
    def task_short(self) -> str:
        return self.task.split("/")[-1]

    @property
    def slug(self) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.task_short)
        return base if self.of == 1 else f"{base}_{self.index}"

    @property
    def logs(self) -> list[LogRecord]:
        return [log for row in self.rows for log in row.logs]

    @property
    def headline(self) -> list[str]:
        names = set(self.rate_scores)
        return [s for s in self.rate_scores if not ((m := TURN.match(s)) and m["base"] in names)]

    @property
    def turn_scores(self) -> dict[str, dict[int, str]]:
        """base score -> turn -> score name, for scores that have per-turn versions."""
        names = set(self.rate_scores)
        out: dict[str, dict[int, str]] = defaultdict(dict)
        for s in self.rate_scores:
            m = TURN.match(s)
            if m and m["base"] in names:
                out[m["base"]][int(m["turn"])] = s
        return dict(out)

    def groups(self, score: str) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            for g in row.counts.get(score, {}):
                seen[g] = None
        return _ordered_groups(list(seen))

    def conditional(self, score: str) -> bool:
        """Some observation was not applicable (a conditional rate with its own denominator)."""
        return any(c.na for row in self.rows for c in row.counts.get(score, {}).values())


GROUP_ORDER = ["natural", "refusal", "rebuttal"]


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _ordered_groups(groups: list[str]) -> list[str]:
    """Conditions in their natural order (natural, refusal, rebuttal), numbers by value (``c-4``
    before ``c+0``), anything else alphabetically."""

    def key(g: str) -> tuple[str, int, str, float, str]:
        outer, _, inner = g.rpartition("/")
        known = GROUP_ORDER.index(inner) if inner in GROUP_ORDER else len(GROUP_ORDER)
        m = _NUMBER.search(inner)
        number = float(m.group()) if m else 0.0
        stem = _NUMBER.sub("#", inner)
        return (outer, known, stem, number, inner)

    return sorted(groups, key=key)


@dataclass
class Pooled:
    configs: list[Config]
    excluded: list[LogRecord]
    """Logs left out of the tables (status other than success)."""
    warnings: list[str]
    logs: list[LogRecord]
    superseded: dict[str, LogRecord] = field(default_factory=dict)
    """Path of an unsuccessful log -> the successful re-run of the same eval that replaced it."""


def pool(logs: list[LogRecord]) -> Pooled:
    """Group the successful logs by task and identity (:mod:`.identity`) and pool each group's logs
    per model and grader; the others are left out with a warning."""
    warnings: list[str] = []
    superseded = superseded_by(logs)
    usable: list[LogRecord] = []
    excluded: list[LogRecord] = []
    for log in logs:
        (usable if log.status == "success" and log.scores else excluded).append(log)
    for log in excluded:
        why = f": {log.error.splitlines()[0]}" if log.error else ""
        if log.path in superseded:
            why += f"; superseded by {superseded[log.path].name} (a successful re-run of the same eval)"
        warnings.append(
            f"{log.name} ({log.task}, {log.model}) has status '{log.status}'{why}; "
            "it is left out of the tables"
        )
    warnings.extend(repeated_attempts(usable))
    by_task: dict[str, list[LogRecord]] = defaultdict(list)
    for log in usable:
        by_task[log.task].append(log)
    configs: list[Config] = []
    for task, task_logs in by_task.items():
        configs.extend(_task_configs(task, task_logs, warnings))
    return Pooled(configs=configs, excluded=excluded, warnings=warnings, logs=logs, superseded=superseded)


def _task_configs(task: str, logs: list[LogRecord], warnings: list[str]) -> list[Config]:
    """One configuration per identity among one task's logs (older logs without an experiment
    record join the one recorded identity they match, if any)."""
    identities = {log.path: log_identity(log) for log in logs}
    groups: dict[Any, list[LogRecord]] = defaultdict(list)
    for log in logs:
        groups[identities[log.path].key].append(log)
    warnings.extend(f"{task}: {note}" for note in merge_unrecorded(groups, identities))
    configs = [_build_config(task, group, identities, warnings) for group in groups.values()]
    configs.sort(key=lambda c: min(log.created for log in c.logs))
    if len(configs) > 1:
        _describe_differences(configs)
        warnings.append(
            f"{task}: logs are not all comparable ("
            + " vs ".join(f"[{c.index}] " + ", ".join(c.differs) for c in configs)
            + "); they are shown apart, not pooled"
        )
    return configs


def _build_config(
    task: str, logs: list[LogRecord], identities: dict[str, Identity], warnings: list[str]
) -> Config:
    first = logs[0]
    identity = identities[first.path]
    specs: dict[str, RateSpec] = {}
    other: list[str] = []
    for s in first.scores:
        spec = rate_spec(s)
        if spec is None:
            other.append(s.name)
        else:
            specs[s.name] = spec
    config = Config(
        task=task,
        task_version=first.task_version,
        versions=dict(first.versions),
        args=dict(identity.settings),
        rate_scores=list(specs),
        specs=specs,
        other_scores=other,
        identity=identity,
    )
    rows: dict[tuple[str, str | None], Row] = {}
    for log in sorted(logs, key=lambda lg: lg.created):
        row = rows.setdefault((log.model, log.grader), Row(model=log.model, grader=log.grader))
        row.logs.append(log)
        for name, spec in specs.items():
            score = log.score(name)
            assert score is not None
            if log.samples:
                counts = counts_from_samples(log, name, spec)
            else:
                counts = counts_from_metrics(score, spec)
                row.from_metrics = True
            target = row.counts.setdefault(name, {})
            for g, c in counts.items():
                target.setdefault(g, Counts()).add(c)
    for row in rows.values():
        if row.from_metrics:
            warnings.append(
                f"{task} {row.model}: a log has no samples; its rates come from the log's metrics "
                "and unscored counts per group are unknown"
            )
    config.rows = sorted(rows.values(), key=lambda r: (r.model, r.grader or ""))
    return config


def _describe_differences(configs: list[Config]) -> None:
    """Name, for each configuration, the labelled values in which the task's configurations differ."""
    for i, c in enumerate(configs, start=1):
        c.index, c.of = i, len(configs)
    ids = [c.identity or Identity({}, {}, {}, None) for c in configs]
    labels = list(dict.fromkeys(label for ident in ids for label in ident.labels))
    differing = [lb for lb in labels if len({ident.labels.get(lb, "-") for ident in ids}) > 1]
    for c, ident in zip(configs, ids, strict=True):
        c.differs = [f"{lb}={ident.show(lb)}" for lb in differing] or [
            f"experiment fingerprint={(ident.fingerprint or 'none (older log)')[:12]}"
        ]


def counts_for(row: Row, score: str) -> dict[str, Counts]:
    return row.counts.get(score, {})


def pooled_entries(config: Config, row: Row, score: str) -> dict[str, float]:
    """The pooled row's values under the ``group_rates`` / ``group_means`` metric names: what tables,
    plots, the gate and ``results.json`` read. Computed once per row and score."""
    if score not in row.values:
        spec = config.specs[score]
        counts = counts_for(row, score)
        if not row.from_metrics:
            values = rate_entries(counts, spec)
        elif len(row.logs) == 1:  # the log's own metrics, as recorded
            recorded = row.logs[0].score(score)
            metrics = recorded.metrics if recorded else []
            values = {m.name: m.value for m in metrics if m.group == spec.metric_group}
        else:
            values = _pooled_from_metrics(counts, spec)
        row.values[score] = values
    return row.values[score]
