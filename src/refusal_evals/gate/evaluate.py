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
from refusal_evals.report.aggregate import Config, Pooled, Row, comparisons, counts_for, total
from refusal_evals.report.read import LogRecord
from refusal_evals.stats.intervals import fisher_p

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


def _rate_results(rule: Rule, config: Config, row: Row, score: str) -> list[Result]:
    counts = counts_for(row, score)
    groups = {**counts, "all": total(counts)}
    spec = config.specs[score]
    diffs: dict[str, tuple[float, float]] = {}
    for prefix, a, b, ca, cb in comparisons(counts, spec):
        diffs[f"{prefix}{a}_vs_{b}_diff"] = (ca.rate - cb.rate, math.nan)
        diffs[f"{prefix}{a}_vs_{b}_p"] = (fisher_p(ca.k, ca.n, cb.k, cb.n), math.nan)
    label = f"{rule.label}" if rule.metric == score else f"{rule.label} ({score})"
    out: list[Result] = []
    matched = [g for g in groups if fnmatchcase(g, rule.group)]
    matched += [d for d in diffs if fnmatchcase(d, rule.group)]
    if not matched:
        valid = ", ".join(list(groups) + list(diffs))
        return [
            Result(
                label,
                _config_label(config),
                row.model,
                "-",
                rule.limit_text,
                FAIL,
                f"no group '{rule.group}' in {score}; valid: {valid}",
            )
        ]
    for g in matched:
        name = label if len(matched) == 1 else f"{label} [{g}]"
        if g in diffs:
            if rule.compare != "estimate":
                out.append(
                    Result(
                        name,
                        _config_label(config),
                        row.model,
                        "-",
                        rule.limit_text,
                        FAIL,
                        f"{g} has no interval; use compare: estimate",
                    )
                )
                continue
            value = diffs[g][0]
            detail = g
        else:
            c = groups[g]
            value = c.value(rule.compare)
            lo, hi = c.ci
            detail = f"{g}: rate {c.rate:.3f} [{lo:.3f}, {hi:.3f}], n={c.n}" + (
                f", unscored {c.unscored}" if c.unscored > 0 else ""
            )
            if c.n == 0:
                detail += " (no scored observation)"
        text = "-" if math.isnan(value) else f"{value:.4f}"
        out.append(
            Result(
                name,
                _config_label(config),
                row.model,
                text,
                _limit(rule),
                PASS if _within(value, rule) else FAIL,
                detail,
            )
        )
    return out


def _limit(rule: Rule) -> str:
    what = "" if rule.compare == "estimate" else f"{rule.compare} "
    return what + rule.limit_text


def _metric_results(rule: Rule, config: Config, row: Row, score: str) -> list[Result]:
    """A score without group_rates: its metrics as recorded, per log."""
    out: list[Result] = []
    for log in row.logs:
        sc = log.score(score)
        if sc is None:
            continue
        names = {m.name: m.value for m in sc.metrics}
        matched = [n for n in names if fnmatchcase(n, rule.group) and not n.endswith(("_ci_low", "_ci_high"))]
        label = rule.label if rule.metric == score else f"{rule.label} ({score})"
        if not matched:
            out.append(
                Result(
                    label,
                    _config_label(config),
                    row.model,
                    "-",
                    _limit(rule),
                    FAIL,
                    f"{log.name}: no metric '{rule.group}' in score {score}; "
                    f"valid: {', '.join(names) or '(none)'}",
                )
            )
            continue
        for n in matched:
            key = n if rule.compare == "estimate" else f"{n}_{rule.compare}"
            name = label if len(matched) == 1 else f"{label} [{n}]"
            if key not in names:
                out.append(
                    Result(
                        name,
                        _config_label(config),
                        row.model,
                        "-",
                        _limit(rule),
                        FAIL,
                        f"{log.name}: {score} has no '{key}' (no interval recorded); use compare: estimate",
                    )
                )
                continue
            value = names[key]
            text = "-" if math.isnan(value) else f"{value:.4f}"
            out.append(
                Result(
                    name,
                    _config_label(config),
                    row.model,
                    text,
                    _limit(rule),
                    PASS if _within(value, rule) else FAIL,
                    f"{log.name}: {score}.{key} (n scored {sc.scored})",
                )
            )
    return out


def evaluate_rule(rule: Rule, pooled: Pooled) -> list[Result]:
    configs = [c for c in pooled.configs if _task_matches(rule, c)]
    if not configs:
        tasks = sorted({c.task for c in pooled.configs}) or ["(none)"]
        return [
            Result(
                rule.label,
                rule.task,
                rule.model or "*",
                "-",
                _limit(rule),
                FAIL,
                f"no successful log of task '{rule.task}'; tasks found: {', '.join(tasks)}",
            )
        ]
    out: list[Result] = []
    for config in configs:
        rows = [r for r in config.rows if rule.model is None or fnmatchcase(r.model, rule.model)]
        if not rows:
            models = ", ".join(r.model for r in config.rows)
            out.append(
                Result(
                    rule.label,
                    _config_label(config),
                    rule.model or "*",
                    "-",
                    _limit(rule),
                    FAIL,
                    f"no log of model '{rule.model}'; models found: {models}",
                )
            )
            continue
        scores = [s for s in config.rate_scores + config.other_scores if fnmatchcase(s, rule.metric)]
        if not scores:
            valid = ", ".join(config.rate_scores + config.other_scores)
            out.append(
                Result(
                    rule.label,
                    _config_label(config),
                    rule.model or "*",
                    "-",
                    _limit(rule),
                    FAIL,
                    f"no score '{rule.metric}' in {config.task}; valid: {valid}",
                )
            )
            continue
        for row in rows:
            for score in scores:
                if score in config.specs:
                    out.extend(_rate_results(rule, config, row, score))
                else:
                    out.extend(_metric_results(rule, config, row, score))
    return out


def _parse_created(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def evaluate_checks(policy: Policy, pooled: Pooled) -> list[Result]:
    checks = policy.checks
    logs: list[LogRecord] = pooled.logs
    out: list[Result] = []
    if checks.require_success:
        bad = [lg for lg in logs if lg.status != "success"]
        detail = "; ".join(
            f"{lg.name}: {lg.status}" + (f" ({lg.error.splitlines()[0][:120]})" if lg.error else "")
            for lg in bad
        )
        out.append(
            Result(
                "every log succeeded",
                "*",
                "*",
                f"{len(logs) - len(bad)}/{len(logs)}",
                "status == success",
                FAIL if bad else PASS,
                detail or f"{len(logs)} log(s)",
            )
        )
    if checks.max_unscored_fraction is not None:
        fractions: list[tuple[float, str]] = []
        for config in pooled.configs:
            for row in config.rows:
                for s in config.rate_scores:
                    t = total(counts_for(row, s))
                    if t.unscored >= 0 and t.n + t.unscored:
                        fractions.append(
                            (
                                t.unscored / (t.n + t.unscored),
                                f"{config.task} {row.model} {s}: {t.unscored} of {t.n + t.unscored}",
                            )
                        )
                for s in config.other_scores:
                    for log in row.logs:
                        sc = log.score(s)
                        if sc and sc.scored + sc.unscored:
                            fractions.append(
                                (
                                    sc.unscored / (sc.scored + sc.unscored),
                                    f"{log.name} {s}: {sc.unscored} of {sc.scored + sc.unscored}",
                                )
                            )
        limit = checks.max_unscored_fraction
        if fractions:
            frac, where = max(fractions, key=lambda x: x[0])
            out.append(
                Result(
                    "unscored fraction",
                    "*",
                    "*",
                    f"{frac:.4f}",
                    f"<= {limit:g}",
                    PASS if frac <= limit else FAIL,
                    f"highest: {where} unscored",
                )
            )
        else:
            out.append(
                Result(
                    "unscored fraction",
                    "*",
                    "*",
                    "-",
                    f"<= {limit:g}",
                    FAIL,
                    "no scored observation in any log",
                )
            )
    if checks.min_scored_per_group is not None:
        need = checks.min_scored_per_group
        lowest: tuple[int, str] | None = None
        considered = 0
        for config in pooled.configs:
            for s in config.rate_scores:
                if checks.min_scored_metrics is not None:
                    if not any(fnmatchcase(s, p) for p in checks.min_scored_metrics):
                        continue
                elif config.conditional(s):
                    continue
                for row in config.rows:
                    for g, c in counts_for(row, s).items():
                        considered += 1
                        if lowest is None or c.n < lowest[0]:
                            lowest = (c.n, f"{config.task} {row.model} {s}[{g}]")
        if lowest is None:
            out.append(
                Result(
                    "scored per group",
                    "*",
                    "*",
                    "-",
                    f">= {need}",
                    FAIL,
                    "no rate matched (check min_scored_metrics)",
                )
            )
        else:
            out.append(
                Result(
                    "scored per group",
                    "*",
                    "*",
                    str(lowest[0]),
                    f">= {need}",
                    PASS if lowest[0] >= need else FAIL,
                    f"smallest of {considered} groups: {lowest[1]}",
                )
            )
    if checks.newer_than is not None:
        since = checks.newer_than
        old = []
        oldest: datetime | None = None
        for lg in logs:
            created = _parse_created(lg.created)
            if created is None or created < since:
                old.append(f"{lg.name} ({lg.created})")
            if created is not None and (oldest is None or created < oldest):
                oldest = created
        out.append(
            Result(
                "logs are recent",
                "*",
                "*",
                oldest.isoformat() if oldest else "-",
                f">= {since.isoformat()}",
                FAIL if old else PASS,
                ("older: " + "; ".join(old)) if old else f"{len(logs)} log(s)",
            )
        )
    return out


def evaluate(policy: Policy, pooled: Pooled) -> list[Result]:
    results = evaluate_checks(policy, pooled)
    for rule in policy.rules:
        results.extend(evaluate_rule(rule, pooled))
    return results
