"""Pool logs into comparable results: rates per model and group, recomputed from the samples.

Everything is derived from the logs, with no per-task code:

- a score is a *rate* when its metrics come from :func:`refusal_evals.stats.metrics.group_rates`
  (metric group ``group_rates``), a *mean* when they come from ``group_means`` (e.g. a harm score in
  [0, 1]); the metric's params give the grouping (``group_key``, default ``condition``; ``within``,
  e.g. ``attribute``) and the comparisons;
- rates are recomputed from every sample's per-epoch value (1/0; ``None`` = not applicable; NaN =
  unscored) with :func:`wilson_interval` and :func:`fisher_p`, so several logs of one model pool;
  a log without samples falls back to its metrics (``k = rate * n``);
- logs are pooled only when they are comparable: same task, task version, prompt and scenario
  versions, same set of rate scores and the same task arguments (arguments that only select samples,
  such as ``condition=refusal`` or ``variants=...``, do not split). Anything else is shown apart with
  a warning;
- scores without such a grouping (e.g. a judge-validation task's accuracy or kappa) are kept as
  they are in the log.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from refusal_evals.report.read import LogRecord, ScoreRecord
from refusal_evals.stats.intervals import fisher_p, mean_interval, wilson_interval
from refusal_evals.stats.metrics import DEFAULT_COMPARISONS

RATE_GROUP = "group_rates"
MEAN_GROUP = "group_means"
KINDS = {RATE_GROUP: "rate", MEAN_GROUP: "mean"}
DEFAULT_GROUP_KEY = "condition"
TURN = re.compile(r"^(?P<base>.+)_turn(?P<turn>\d+)$")
RATE_SUFFIXES = ("_ci_low", "_ci_high", "_n")
NAN3 = (math.nan, math.nan, math.nan)


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
    values: list[float] = field(default_factory=list)
    """every scored value (means)"""
    fixed: tuple[float, float, float] | None = None
    """(estimate, ci_low, ci_high) read from a log's metrics when it has no samples (means)"""

    def add(self, other: Counts) -> None:
        if other.fixed is not None or self.fixed is not None:
            # a mean read from metrics cannot be pooled with anything else
            empty = self.n == 0 and self.fixed is None
            self.fixed = other.fixed if empty else NAN3
        self.kind = other.kind
        self.k += other.k
        self.n += other.n
        self.na += other.na
        self.values.extend(other.values)
        unknown = self.unscored < 0 or other.unscored < 0
        self.unscored = -1 if unknown else self.unscored + other.unscored

    @property
    def rate(self) -> float:
        """The estimate: the rate k/n, or the mean."""
        if self.fixed is not None:
            return self.fixed[0]
        if self.kind == "mean":
            return sum(self.values) / len(self.values) if self.values else math.nan
        return self.k / self.n if self.n else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        """95% interval: Wilson for rates; Student-t clipped to [0, 1] for means (as group_means)."""
        if self.fixed is not None:
            return self.fixed[1], self.fixed[2]
        if self.kind == "mean":
            lo, hi = mean_interval(self.values)
            return (lo if math.isnan(lo) else max(0.0, lo), hi if math.isnan(hi) else min(1.0, hi))
        return wilson_interval(self.k, self.n)

    def value(self, compare: str = "estimate") -> float:
        if compare == "ci_low":
            return self.ci[0]
        if compare == "ci_high":
            return self.ci[1]
        return self.rate


@dataclass
class RateSpec:
    """How one score is grouped (from its ``group_rates`` / ``group_means`` metric params)."""

    group_key: str = DEFAULT_GROUP_KEY
    within: str | None = None
    comparisons: list[tuple[str, str]] = field(default_factory=list)
    across: list[tuple[str, str]] = field(default_factory=list)
    """Pairs of ``within`` values compared inside each group (e.g. protected vs control)."""
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
            comparisons=[tuple(c.split(":", 1)) for c in comps],  # type: ignore[misc]
            across=[tuple(c.split(":", 1)) for c in params.get("across") or []],  # type: ignore[misc]
            kind=kind,
            metric_group=group,
        )
    return None


def group_name(meta: dict[str, Any], spec: RateSpec) -> str | None:
    if spec.group_key not in meta:
        return None
    name = str(meta[spec.group_key])
    if spec.within:
        if spec.within not in meta:
            return None
        name = f"{meta[spec.within]}/{name}"
    return name


def counts_from_samples(log: LogRecord, score: str, spec: RateSpec) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for s in log.samples:
        g = group_name(s.metadata, spec)
        if g is None:
            continue
        v = s.values.get(score, math.nan)
        c = out.setdefault(g, Counts(kind=spec.kind))
        if v is None:
            c.na += 1
        elif math.isnan(v):
            c.unscored += 1
        else:
            c.n += 1
            c.k += int(v == 1.0)
            if spec.kind == "mean":
                c.values.append(v)
    return out


def counts_from_metrics(score: ScoreRecord, spec: RateSpec) -> dict[str, Counts]:
    """Fallback for a log without samples: ``k = rate * n`` per group (means: the recorded
    estimate and interval); unscored per group unknown."""
    by_name = {m.name: m.value for m in score.metrics if m.group == spec.metric_group}
    out: dict[str, Counts] = {}
    for name, value in by_name.items():
        if name == "all" or name.endswith(RATE_SUFFIXES) or "_vs_" in name:
            continue
        n = by_name.get(f"{name}_n")
        if n is None:
            continue
        if spec.kind == "mean":
            fixed = (value, by_name.get(f"{name}_ci_low", math.nan), by_name.get(f"{name}_ci_high", math.nan))
            out[name] = Counts(n=int(n), unscored=-1, kind="mean", fixed=fixed)
        else:
            k = 0 if math.isnan(value) else round(value * n)
            out[name] = Counts(k=k, n=int(n), unscored=-1)
    return out


def total(counts: dict[str, Counts]) -> Counts:
    t = Counts()
    for c in counts.values():
        t.add(c)
    return t


def rate_entries(counts: dict[str, Counts], spec: RateSpec) -> dict[str, float]:
    """The same names and values as the ``group_rates`` / ``group_means`` metric, from counts."""
    out: dict[str, float] = {}
    for name in sorted(counts):
        c = counts[name]
        lo, hi = c.ci
        out.update({name: c.rate, f"{name}_ci_low": lo, f"{name}_ci_high": hi, f"{name}_n": float(c.n)})
    t = total(counts)
    lo, hi = t.ci
    out.update({"all": t.rate, "all_ci_low": lo, "all_ci_high": hi, "all_n": float(t.n)})
    for prefix, a, b, ca, cb in comparisons(counts, spec):
        out[f"{prefix}{a}_vs_{b}_diff"] = ca.rate - cb.rate
        out[f"{prefix}{a}_vs_{b}_p"] = fisher_p(ca.k, ca.n, cb.k, cb.n)
    return out


def comparisons(counts: dict[str, Counts], spec: RateSpec) -> list[tuple[str, str, str, Counts, Counts]]:
    """``(within prefix, a, b, counts a, counts b)`` for each comparison whose groups are present
    (rates only: a Fisher test compares proportions)."""
    if spec.kind != "rate":
        return []
    prefixes = sorted({n.rsplit("/", 1)[0] + "/" for n in counts if "/" in n}) if spec.within else [""]
    # (prefix, a, b, group of a, group of b): conditions inside each `within` value; then `across`:
    # the same condition under two `within` values, named "<a>/<condition>" vs "<b>"
    pairs = [(pre, a, b, f"{pre}{a}", f"{pre}{b}") for pre in prefixes for a, b in spec.comparisons]
    groups = sorted({n.rsplit("/", 1)[1] for n in counts if "/" in n} if spec.across else [])
    pairs += [("", f"{a}/{g}", b, f"{a}/{g}", f"{b}/{g}") for g in groups for a, b in spec.across]
    return [
        (prefix, a, b, counts[ga], counts[gb])
        for prefix, a, b, ga, gb in pairs
        if ga in counts and gb in counts and counts[ga].n and counts[gb].n
    ]


def _close(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def check_against_log(
    log: LogRecord, score: ScoreRecord, counts: dict[str, Counts], spec: RateSpec
) -> list[str]:
    """Differences between the recomputed values and the log's own metrics."""
    mine = rate_entries(counts, spec)
    problems = []
    for m in score.metrics:
        if m.group != spec.metric_group:
            continue
        if m.name not in mine:
            problems.append(f"{m.name}: in the log ({m.value:.4g}) but not recomputed from its samples")
        elif not _close(m.value, mine[m.name]):
            problems.append(f"{m.name}: log {m.value:.6g}, recomputed {mine[m.name]:.6g}")
    return problems


# --------------------------------------------------------------------------------------------
# comparable configurations


def _arg_values(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    return None


def selection_args(logs: list[LogRecord]) -> set[str]:
    """Task arguments that only select samples: each value is ``all`` or is found among the sample
    metadata values or ids of that task's logs (e.g. ``condition=refusal``, ``variants=a,b``,
    ``attribute=protected``). They never split logs into separate tables."""
    seen: set[str] = set()
    for log in logs:
        for s in log.samples:
            seen.add(s.id)
            seen.update(str(v) for v in s.metadata.values() if isinstance(v, str))
    names: set[str] = set()
    for log in logs:
        for name, value in log.task_args.items():
            vals = _arg_values(value)
            if vals is None:
                continue
            if all(v == "all" or v in seen for v in vals):
                names.add(name)
    return names


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    return v


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


@dataclass
class Config:
    """Logs of one task that can be pooled: same task version, prompt versions, arguments."""

    task: str
    task_version: str
    versions: dict[str, str]
    args: dict[str, Any]
    rate_scores: list[str]
    specs: dict[str, RateSpec]
    other_scores: list[str]
    rows: list[Row] = field(default_factory=list)
    index: int = 1
    of: int = 1
    differs: list[str] = field(default_factory=list)
    """What sets this configuration apart from the task's other configurations."""

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


def pool(logs: list[LogRecord]) -> Pooled:
    warnings: list[str] = []
    usable: list[LogRecord] = []
    excluded: list[LogRecord] = []
    for log in logs:
        if log.status != "success" or not log.scores:
            excluded.append(log)
            why = f": {log.error.splitlines()[0]}" if log.error else ""
            warnings.append(
                f"{log.name} ({log.task}, {log.model}) has status '{log.status}'{why}; "
                "it is left out of the tables"
            )
        else:
            usable.append(log)

    by_task: dict[str, list[LogRecord]] = defaultdict(list)
    for log in usable:
        by_task[log.task].append(log)

    configs: list[Config] = []
    for task, task_logs in by_task.items():
        selection = selection_args(task_logs)
        groups: dict[Any, list[LogRecord]] = defaultdict(list)
        for log in task_logs:
            groups[_config_key(log, selection)].append(log)
        task_configs = [
            _build_config(task, group_logs, selection, warnings) for group_logs in groups.values()
        ]
        task_configs.sort(key=lambda c: min(log.created for log in c.logs))
        if len(task_configs) > 1:
            _describe_differences(task_configs)
            warnings.append(
                f"{task}: logs are not all comparable ("
                + "; ".join(f"[{c.index}] " + ", ".join(c.differs) for c in task_configs)
                + "); they are shown apart, not pooled"
            )
        configs.extend(task_configs)
    return Pooled(configs=configs, excluded=excluded, warnings=warnings, logs=logs)


def _config_key(log: LogRecord, selection: set[str]) -> Any:
    args = {k: v for k, v in log.task_args.items() if k not in selection}
    return (
        log.task_version,
        _freeze(log.versions),
        _freeze(args),
        tuple(sorted(s.name for s in log.scores)),
    )


def _build_config(task: str, logs: list[LogRecord], selection: set[str], warnings: list[str]) -> Config:
    first = logs[0]
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
        args={k: v for k, v in first.task_args.items() if k not in selection},
        rate_scores=list(specs),
        specs=specs,
        other_scores=other,
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
                for problem in check_against_log(log, score, counts, spec):
                    warnings.append(
                        f"{log.name} {name}: recomputed value differs from the log's metric: {problem}"
                    )
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
    for i, c in enumerate(configs, start=1):
        c.index, c.of = i, len(configs)
    fields: list[tuple[str, Any]] = [
        ("task version", lambda c: c.task_version),
        ("score names", lambda c: ",".join(sorted(c.rate_scores + c.other_scores))),
    ]
    keys = sorted({k for c in configs for k in c.versions})
    for k in keys:
        fields.append((k, lambda c, k=k: c.versions.get(k, "-")))
    arg_names = sorted({k for c in configs for k in c.args})
    for k in arg_names:
        fields.append((f"-T {k}", lambda c, k=k: c.args.get(k, "-")))
    for c in configs:
        c.differs = [f"{label}={get(c)}" for label, get in fields if len({str(get(o)) for o in configs}) > 1]


def counts_for(row: Row, score: str) -> dict[str, Counts]:
    return row.counts.get(score, {})


def overall(row: Row, score: str) -> Counts:
    return total(counts_for(row, score))


def pooled_entries(config: Config, row: Row, score: str) -> dict[str, float]:
    """The pooled row's values under the ``group_rates`` metric names (for gates and exports)."""
    return rate_entries(counts_for(row, score), config.specs[score])
