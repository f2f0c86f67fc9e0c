"""Tables of a report (plain header + rows of strings, rendered to Markdown and HTML)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from refusal_evals.report.aggregate import Config, Counts, Row, comparisons, counts_for, total
from refusal_evals.report.read import LogRecord


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str | None = None


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}f}"


def fmt_value(x: float) -> str:
    """A metric as recorded: whole numbers without decimals, others to 4 decimals."""
    if math.isnan(x):
        return "NaN"
    return str(int(x)) if float(x).is_integer() else f"{x:.4f}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def cell(c: Counts | None) -> str:
    """``rate [ci_low, ci_high] n=.. u=..`` (u: unscored; na: not applicable)."""
    if c is None:
        return ""
    lo, hi = c.ci
    text = f"{fmt(c.rate)} [{fmt(lo)}, {fmt(hi)}] n={c.n}"
    text += " u=?" if c.unscored < 0 else f" u={c.unscored}"
    if c.na:
        text += f" na={c.na}"
    return text


def score_label(config: Config, score: str) -> str:
    spec = config.specs.get(score)
    return f"{score} (mean)" if spec is not None and spec.kind == "mean" else score


def _graders_vary(config: Config) -> bool:
    return len({r.grader for r in config.rows}) > 1


def _split(config: Config, group: str) -> tuple[str, str]:
    """``(within value, group value)`` for ``within/group`` names."""
    if "/" in group:
        outer, _, inner = group.rpartition("/")
        return outer, inner
    return "", group


def _dims(config: Config) -> tuple[str, str | None]:
    specs = list(config.specs.values())
    if not specs:
        return "group", None
    return specs[0].group_key, specs[0].within


def _row_prefix(config: Config, row: Row) -> list[str]:
    out = [row.model]
    if _graders_vary(config):
        out.append(row.grader or "-")
    return out


def _prefix_header(config: Config) -> list[str]:
    return ["model"] + (["grader"] if _graders_vary(config) else [])


def rates_table(config: Config) -> Table:
    """Model x group (x within) with every headline rate, its interval, n and unscored count."""
    group_key, within = _dims(config)
    scores = config.headline
    header = (
        _prefix_header(config)
        + ([within] if within else [])
        + [group_key]
        + [score_label(config, s) for s in scores]
    )
    table = Table(header=header)
    for row in config.rows:
        groups = _union_groups(config, row, scores)
        for g in groups + ["all"]:
            outer, inner = _split(config, g) if g != "all" else ("", "all")
            cells = []
            for s in scores:
                counts = counts_for(row, s)
                cells.append(cell(total(counts) if g == "all" else counts.get(g)))
            table.rows.append(_row_prefix(config, row) + ([outer] if within else []) + [inner] + cells)
    table.note = (
        "Each cell: rate [95% Wilson interval] (for a mean: mean [95% Student-t interval]), "
        "n = scored observations (every epoch counts), u = unscored (the judges could not decide), "
        "na = not applicable (outside the denominator of a conditional rate)."
    )
    return table


def _union_groups(config: Config, row: Row, scores: list[str]) -> list[str]:
    order = config.groups(scores[0]) if scores else []
    seen = {g for s in scores for g in counts_for(row, s)}
    extra = sorted(seen - set(order))
    return [g for g in order if g in seen] + extra


def turns_table(config: Config) -> Table | None:
    """Model x group x turn for scores measured at every follow-up turn."""
    turn_scores = config.turn_scores
    if not turn_scores:
        return None
    group_key, within = _dims(config)
    bases = list(turn_scores)
    turns = sorted({t for per in turn_scores.values() for t in per})
    header = _prefix_header(config) + ([within] if within else []) + [group_key, "turn"] + bases
    table = Table(header=header)
    for row in config.rows:
        for g in _union_groups(config, row, [turn_scores[b][t] for b in bases for t in turns]):
            outer, inner = _split(config, g)
            for t in turns:
                cells = [
                    cell(counts_for(row, turn_scores[b][t]).get(g)) if t in turn_scores[b] else ""
                    for b in bases
                ]
                table.rows.append(
                    _row_prefix(config, row) + ([outer] if within else []) + [inner, str(t)] + cells
                )
    table.note = "Rate at each follow-up turn; the headline table gives the rate at any turn."
    return table


def diffs_table(config: Config) -> Table | None:
    """Differences of rates between groups (e.g. refusal minus rebuttal) with Fisher p-values."""
    scores = config.headline
    _, within = _dims(config)
    rows: list[list[str]] = []
    for row in config.rows:
        keys: dict[tuple[str, str, str], dict[str, str]] = {}
        for s in scores:
            spec = config.specs[s]
            for prefix, a, b, ca, cb in comparisons(counts_for(row, s), spec):
                d = ca.rate - cb.rate
                p = _fisher(ca, cb)
                keys.setdefault((prefix.rstrip("/"), a, b), {})[s] = f"{d:+.3f} (p={fmt_p(p)})"
        for (outer, a, b), by_score in keys.items():
            rows.append(
                _row_prefix(config, row)
                + ([outer] if within else [])
                + [_comparison_label(a, b)]
                + [by_score.get(s, "") for s in scores]
            )
    if not rows:
        return None
    header = _prefix_header(config) + ([within] if within else []) + ["comparison"] + scores
    return Table(
        header=header,
        rows=rows,
        note="Difference of rates (first minus second) and two-sided Fisher exact p-value.",
    )


def _comparison_label(a: str, b: str) -> str:
    """``refusal - rebuttal``; an ``across`` comparison ``protected/refusal`` vs ``control`` reads
    ``protected - control (refusal)``."""
    if "/" in a:
        outer, group = a.rsplit("/", 1)
        return f"{outer} - {b} ({group})"
    return f"{a} - {b}"


def _fisher(a: Counts, b: Counts) -> float:
    from refusal_evals.stats.intervals import fisher_p

    return fisher_p(a.k, a.n, b.k, b.n)


def _args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items()) or "-"


def _gen_text(cfg: dict[str, Any]) -> str:
    keep = ("temperature", "max_tokens", "top_p", "seed", "reasoning_effort")
    return ", ".join(f"{k}={cfg[k]}" for k in keep if k in cfg) or "-"


def provenance_table(logs: list[LogRecord]) -> Table:
    header = [
        "log",
        "model",
        "grader",
        "created",
        "status",
        "samples x epochs",
        "task version",
        "versions",
        "task args",
        "generation",
        "package",
    ]
    table = Table(header=header)
    for log in logs:
        pkg = log.packages.get("refusal-evals") or log.packages.get("refusal_evals") or "-"
        rev = f" @{log.revision}" if log.revision else ""
        n_ids = len({s.id for s in log.samples}) if log.samples else 0
        table.rows.append(
            [
                log.name,
                log.model,
                log.grader or "-",
                log.created,
                log.status,
                f"{n_ids} x {log.epochs}",
                log.task_version,
                "; ".join(f"{k}={v}" for k, v in log.versions.items()) or "-",
                _args_text(log.task_args),
                _gen_text(log.generate_config),
                f"{pkg}{rev}",
            ]
        )
    return table


def _labels(log: LogRecord, name: str) -> dict[str, float]:
    """Metric label -> value for one score of one log (the metric's name; its key if not unique)."""
    sc = log.score(name)
    if sc is None:
        return {}
    names = [m.name for m in sc.metrics]
    return {(m.name if names.count(m.name) == 1 else m.key): m.value for m in sc.metrics}


def other_scores_tables(config: Config) -> list[tuple[str, Table]]:
    """Scores without a group_rates grouping, metric by metric as in the logs (one column per log)."""
    out = []
    logs = config.logs
    for name in config.other_scores:
        cols = [f"{log.model} ({log.date}, {log.name[-12:]})" if len(logs) > 1 else log.model for log in logs]
        values = [_labels(log, name) for log in logs]
        metric_names = list(dict.fromkeys(k for v in values for k in v))
        if not metric_names:
            continue
        table = Table(header=["metric"] + cols)
        for mname in metric_names:
            table.rows.append([mname] + [fmt_value(v[mname]) if mname in v else "" for v in values])
        scored = "; ".join(
            f"{sc.scored} scored, {sc.unscored} unscored" for log in logs if (sc := log.score(name))
        )
        table.note = f"As recorded in the log ({scored})."
        out.append((name, table))
    return out


def _judge_metrics(log: LogRecord) -> dict[str, dict[str, float]]:
    """Per judge, its agreement metrics (``<judge>_kappa`` ...) of a judge-validation log; {} otherwise."""
    values = _labels(log, "agreement")
    judges = sorted(k[: -len("_kappa")] for k in values if k.endswith("_kappa"))
    return {
        j: {k[len(j) + 1 :]: v for k, v in values.items() if k.startswith(f"{j}_")}
        for j in judges
        if f"{j}_n" in values
    }


def is_judge_validation(config: Config) -> bool:
    return any(_judge_metrics(log) for log in config.logs)


def judge_validation_tables(config: Config) -> list[tuple[str, Table]]:
    """A judge-validation config: one summary table (grader x judge) and a confusion matrix per judge."""
    summary = Table(
        header=["grader", "judge", "n", "unparseable", "accuracy", "kappa", "recall per gold label"]
    )
    matrices: list[tuple[str, Table]] = []
    for log in config.logs:
        grader = log.grader or log.model
        for judge, m in _judge_metrics(log).items():
            labels = [k[len("gold_n_") :] for k in m if k.startswith("gold_n_")]
            recall = ", ".join(
                f"{lbl} {fmt(m.get(f'recall_{lbl}'), 2)} (n={fmt_value(m[f'gold_n_{lbl}'])})"
                for lbl in labels
            )
            summary.rows.append(
                [
                    grader,
                    judge,
                    fmt_value(m["n"]),
                    fmt(m.get("unparseable")),
                    fmt(m.get("accuracy")),
                    fmt(m.get("kappa")),
                    recall,
                ]
            )
            cm = Table(header=["gold \\ predicted"] + labels)
            for g in labels:
                cm.rows.append([g] + [fmt_value(m.get(f"cm_{g}_{p}", math.nan)) for p in labels])
            cm.note = f"{fmt_value(m.get('scored_n', math.nan))} of {fmt_value(m['n'])} replies parsed."
            matrices.append((f"{judge}, grader {grader}", cm))
    summary.note = (
        "Accuracy and Cohen's kappa over the parsed replies; unparseable over all cases. "
        "Recommended before trusting a grader on a judge: kappa >= 0.8 and unparseable <= 0.02."
    )
    return [("summary", summary)] + matrices
