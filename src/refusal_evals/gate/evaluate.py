"""Evaluate a gate policy on logs: one result per check and per (rule, configuration, model) match.

Rates are the pooled, recomputed ones of the report (every log of one model and comparable
configuration together); metrics of scores without a ``group_rates`` grouping are read from each log
as recorded. A rule that matches nothing fails: a gate never passes for lack of data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

from refusal_evals.gate.policy import Policy, Rule
from refusal_evals.report.aggregate import (
    Config,
    Counts,
    Pooled,
    RateSpec,
    Row,
    comparisons,
    counts_for,
    pooled_entries,
    total,
)
from refusal_evals.report.read import LogRecord

PASS, FAIL = "pass", "FAIL"


@dataclass
class Result:
    rule: str
    task: str
    model: str
    value: str
    limit: str
    verdict: str
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == PASS


def _task_matches(rule: Rule, config: Config) -> bool:
    return rule.task in (config.task, config.task_short) or fnmatchcase(config.task, rule.task)


def _within(value: float, rule: Rule) -> bool:
    if math.isnan(value):
        return False
    if rule.max is not None and value > rule.max:
        return False
    return not (rule.min is not None and value < rule.min)


def _config_label(config: Config) -> str:
    return config.task + (f" [{config.index} of {config.of}]" if config.of > 1 else "")


def _limit(rule: Rule) -> str:
    what = "" if rule.compare == "estimate" else f"{rule.compare} "
    clusters = f" on >= {rule.min_clusters} clusters" if rule.min_clusters else ""
    return what + rule.limit_text + clusters


def _fail(rule: Rule, task: str, model: str, detail: str, name: str | None = None) -> Result:
    return Result(name or rule.label, task, model, "-", _limit(rule), FAIL, detail)


def _verdict(rule: Rule, value: float, clusters: float | None) -> tuple[str, str]:
    """(verdict, why it failed): a nan value or too few clusters never pass."""
    if rule.min_clusters is not None:
        if clusters is None or math.isnan(clusters):
            return FAIL, "no cluster count recorded for it, so min_clusters cannot be checked"
        if clusters < rule.min_clusters:
            return FAIL, f"rests on {clusters:g} clusters; the rule needs at least {rule.min_clusters}"
    if math.isnan(value):
        if clusters is not None and clusters < 2 and rule.compare.startswith("ci_"):
            return FAIL, f"undefined: a clustered interval needs at least 2 clusters (has {clusters:g})"
        return FAIL, "the value is NaN (undefined), which never passes"
    return (PASS, "") if _within(value, rule) else (FAIL, "")


def _key(name: str, compare: str) -> str:
    """The metric name holding ``compare`` of ``name`` (``refusal_ci_low``, ``x_vs_y_diff_ci_low``)."""
    return name if compare == "estimate" else f"{name}_{compare}"


def _targets(counts: dict[str, Counts], spec: RateSpec) -> dict[str, str]:
    """Every value a rule can name in a rate score -> the name its cluster count is recorded under."""
    out = {g: f"{g}_clusters" for g in [*counts, "all"]}
    for c in comparisons(counts, spec):
        out[f"{c.name}_diff"] = out[f"{c.name}_p"] = c.name + c.support
    return out


def _describe(values: dict[str, float], target: str, counts: Counts | None) -> str:
    def v(suffix: str, digits: int = 3) -> str:
        x = values.get(target + suffix, math.nan)
        return "-" if math.isnan(x) else f"{x:.{digits}f}"

    if target.endswith("_p"):
        return target
    if target.endswith("_diff"):
        p = values.get(target.removesuffix("_diff") + "_p", math.nan)
        return f"{target} {v('')} [{v('_ci_low')}, {v('_ci_high')}], p {p:.4g}"
    n = counts.n if counts is not None else 0
    text = f"{target}: rate {v('')} [{v('_ci_low')}, {v('_ci_high')}] clustered, n={n}"
    text += f", clusters {v('_clusters', 0)}, deff {v('_deff', 2)}"
    text += f"; obs [{v('_obs_ci_low')}, {v('_obs_ci_high')}]"
    if counts is not None and counts.unscored > 0:
        text += f", unscored {counts.unscored}"
    return text + (" (no scored observation)" if n == 0 else "")


def _rate_results(rule: Rule, config: Config, row: Row, score: str) -> list[Result]:
    counts = counts_for(row, score)
    values = pooled_entries(config, row, score)
    targets = _targets(counts, config.specs[score])
    label = f"{rule.label}" if rule.metric == score else f"{rule.label} ({score})"
    task = _config_label(config)
    matched = [t for t in targets if fnmatchcase(t, rule.group)]
    if not matched:
        return [
            _fail(
                rule,
                task,
                row.model,
                f"no group '{rule.group}' in {score}; valid: {', '.join(targets)}",
                label,
            )
        ]
    out: list[Result] = []
    for t in matched:
        name = label if len(matched) == 1 else f"{label} [{t}]"
        key = _key(t, rule.compare)
        if key not in values:
            why = "a p-value has no interval" if t.endswith("_p") else f"{t} has no {rule.compare}"
            out.append(_fail(rule, task, row.model, f"{why}; use compare: estimate or ci_low/ci_high", name))
            continue
        value = values[key]
        verdict, why = _verdict(rule, value, values.get(targets[t], math.nan))
        detail = _describe(values, t, total(counts) if t == "all" else counts.get(t))
        text = "-" if math.isnan(value) else f"{value:.4f}"
        out.append(
            Result(name, task, row.model, text, _limit(rule), verdict, detail + (f"; {why}" if why else ""))
        )
    return out


INTERVAL_SUFFIXES = ("_ci_low", "_ci_high", "_obs_ci_low", "_obs_ci_high", "_clusters", "_deff")


def _metric_results(rule: Rule, config: Config, row: Row, score: str) -> list[Result]:
    """A score without group_rates: its metrics as recorded, per log."""
    out: list[Result] = []
    label = rule.label if rule.metric == score else f"{rule.label} ({score})"
    task = _config_label(config)
    for log in row.logs:
        sc = log.score(score)
        if sc is None:
            continue
        names = {m.name: m.value for m in sc.metrics}
        matched = [n for n in names if fnmatchcase(n, rule.group) and not n.endswith(INTERVAL_SUFFIXES)]
        if not matched:
            valid = ", ".join(names) or "(none)"
            detail = f"{log.name}: no metric '{rule.group}' in score {score}; valid: {valid}"
            out.append(_fail(rule, task, row.model, detail, label))
            continue
        for n in matched:
            key = _key(n, rule.compare)
            name = label if len(matched) == 1 else f"{label} [{n}]"
            if key not in names:
                detail = f"{log.name}: {score} has no '{key}' (no interval recorded); use compare: estimate"
                out.append(_fail(rule, task, row.model, detail, name))
                continue
            value = names[key]
            verdict, why = _verdict(rule, value, names.get(f"{n}_clusters"))
            detail = f"{log.name}: {score}.{key} (n scored {sc.scored})" + (f"; {why}" if why else "")
            text = "-" if math.isnan(value) else f"{value:.4f}"
            out.append(Result(name, task, row.model, text, _limit(rule), verdict, detail))
    return out


def evaluate_rule(rule: Rule, pooled: Pooled) -> list[Result]:
    configs = [c for c in pooled.configs if _task_matches(rule, c)]
    if not configs:
        tasks = sorted({c.task for c in pooled.configs}) or ["(none)"]
        detail = f"no successful log of task '{rule.task}'; tasks found: {', '.join(tasks)}"
        return [_fail(rule, rule.task, rule.model or "*", detail)]
    out: list[Result] = []
    for config in configs:
        rows = [r for r in config.rows if rule.model is None or fnmatchcase(r.model, rule.model)]
        task = _config_label(config)
        if not rows:
            models = ", ".join(r.model for r in config.rows)
            out.append(
                _fail(
                    rule, task, rule.model or "*", f"no log of model '{rule.model}'; models found: {models}"
                )
            )
            continue
        scores = [s for s in config.rate_scores + config.other_scores if fnmatchcase(s, rule.metric)]
        if not scores:
            valid = ", ".join(config.rate_scores + config.other_scores)
            out.append(
                _fail(
                    rule,
                    task,
                    rule.model or "*",
                    f"no score '{rule.metric}' in {config.task}; valid: {valid}",
                )
            )
            continue
        for row in rows:
            for score in scores:
                results = _rate_results if score in config.specs else _metric_results
                out.extend(results(rule, config, row, score))
    return out


def _parse_created(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _check(name: str, value: str, limit: str, passed: bool, detail: str) -> Result:
    return Result(name, "*", "*", value, limit, PASS if passed else FAIL, detail)


def _error_line(log: LogRecord) -> str:
    return f"{log.name}: {log.status}" + (f" ({log.error.splitlines()[0][:120]})" if log.error else "")


def _success_check(pooled: Pooled) -> Result:
    """Every log succeeded, or was superseded by a successful re-run of the same eval."""
    logs = pooled.logs
    bad = [lg for lg in logs if lg.status != "success" and lg.path not in pooled.superseded]
    replaced = [lg for lg in logs if lg.status != "success" and lg.path in pooled.superseded]
    # the superseding log first: a long detail is cut short in the terminal table
    notes = [_error_line(lg) for lg in bad] + [
        f"{pooled.superseded[lg.path].name} superseded {lg.name} ({lg.status}): a successful re-run "
        "of the same eval"
        for lg in replaced
    ]
    value = f"{len(logs) - len(bad) - len(replaced)}/{len(logs)}"
    if replaced:
        value += f" +{len(replaced)} superseded"
    return _check(
        "every log succeeded", value, "status == success", not bad, "; ".join(notes) or f"{len(logs)} log(s)"
    )


def _unscored_fractions(pooled: Pooled) -> list[tuple[float, str]]:
    """(unscored fraction, where) per task, model and score."""
    fractions: list[tuple[float, str]] = []
    for config in pooled.configs:
        for row in config.rows:
            for s in config.rate_scores:
                t = total(counts_for(row, s))
                if t.unscored >= 0 and t.n + t.unscored:
                    where = f"{config.task} {row.model} {s}: {t.unscored} of {t.n + t.unscored}"
                    fractions.append((t.unscored / (t.n + t.unscored), where))
            for s in config.other_scores:
                for log in row.logs:
                    sc = log.score(s)
                    if sc and sc.scored + sc.unscored:
                        where = f"{log.name} {s}: {sc.unscored} of {sc.scored + sc.unscored}"
                        fractions.append((sc.unscored / (sc.scored + sc.unscored), where))
    return fractions


def _unscored_check(limit: float, pooled: Pooled) -> Result:
    fractions = _unscored_fractions(pooled)
    if not fractions:
        return _check("unscored fraction", "-", f"<= {limit:g}", False, "no scored observation in any log")
    frac, where = max(fractions, key=lambda x: x[0])
    return _check(
        "unscored fraction", f"{frac:.4f}", f"<= {limit:g}", frac <= limit, f"highest: {where} unscored"
    )


def _scored_per_group_check(need: int, metrics: list[str] | None, pooled: Pooled) -> Result:
    lowest: tuple[int, str] | None = None
    considered = 0
    for config in pooled.configs:
        for s in config.rate_scores:
            if metrics is not None:
                if not any(fnmatchcase(s, p) for p in metrics):
                    continue
            elif config.conditional(s):
                continue
            for row in config.rows:
                for g, c in counts_for(row, s).items():
                    considered += 1
                    if lowest is None or c.n < lowest[0]:
                        lowest = (c.n, f"{config.task} {row.model} {s}[{g}]")
    if lowest is None:
        return _check(
            "scored per group", "-", f">= {need}", False, "no rate matched (check min_scored_metrics)"
        )
    detail = f"smallest of {considered} groups: {lowest[1]}"
    return _check("scored per group", str(lowest[0]), f">= {need}", lowest[0] >= need, detail)


def _recent_check(since: datetime, logs: list[LogRecord]) -> Result:
    old = []
    oldest: datetime | None = None
    for lg in logs:
        created = _parse_created(lg.created)
        if created is None or created < since:
            old.append(f"{lg.name} ({lg.created})")
        if created is not None and (oldest is None or created < oldest):
            oldest = created
    detail = ("older: " + "; ".join(old)) if old else f"{len(logs)} log(s)"
    value = oldest.isoformat() if oldest else "-"
    return _check("logs are recent", value, f">= {since.isoformat()}", not old, detail)


def evaluate_checks(policy: Policy, pooled: Pooled) -> list[Result]:
    """The policy's global checks, in a fixed order: status, unscored, scored per group, dates."""
    checks = policy.checks
    out: list[Result] = []
    if checks.require_success:
        out.append(_success_check(pooled))
    if checks.max_unscored_fraction is not None:
        out.append(_unscored_check(checks.max_unscored_fraction, pooled))
    if checks.min_scored_per_group is not None:
        out.append(_scored_per_group_check(checks.min_scored_per_group, checks.min_scored_metrics, pooled))
    if checks.newer_than is not None:
        out.append(_recent_check(checks.newer_than, pooled.logs))
    return out


def evaluate(policy: Policy, pooled: Pooled) -> list[Result]:
    results = evaluate_checks(policy, pooled)
    for rule in policy.rules:
        results.extend(evaluate_rule(rule, pooled))
    return results
