"""Tables of a report (plain header + rows of strings, rendered to Markdown and HTML)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from refusal_evals.report.aggregate import (
    TURN,
    Config,
    Counts,
    Row,
    comparisons,
    counts_for,
    pooled_entries,
    total,
)
from refusal_evals.report.read import LogRecord
from refusal_evals.stats.planning import Components, paired_components, plan, unpaired_components
from refusal_evals.stats.rates import Comparison

NAN = math.nan


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


def cell(values: dict[str, float], group: str, c: Counts | None) -> str:
    """``rate [ci_low, ci_high] n=.. u=.. clusters=.. deff=..; obs [lo, hi]`` (u: unscored; na: not
    applicable; the first interval is clustered, ``obs`` the per-observation one)."""
    if c is None:
        return ""
    v = values.get
    text = f"{fmt(v(group, NAN))} [{fmt(v(f'{group}_ci_low', NAN))}, {fmt(v(f'{group}_ci_high', NAN))}]"
    text += f" n={c.n}" + (" u=?" if c.unscored < 0 else f" u={c.unscored}")
    if c.na:
        text += f" na={c.na}"
    if f"{group}_clusters" in values:
        text += f" clusters={fmt(v(f'{group}_clusters'), 0)} deff={fmt(v(f'{group}_deff', NAN), 2)}"
        text += f"; obs [{fmt(v(f'{group}_obs_ci_low', NAN))}, {fmt(v(f'{group}_obs_ci_high', NAN))}]"
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


NATIVE_PREFIXES = ("native_", "stated_vs_native_")
"""Measures on a reasoning model's native reasoning (role-play): not in the rates and per-turn tables
but in their own rows (:func:`native_table`), with how many observations had the reasoning compared."""


def is_native(score: str) -> bool:
    return score.startswith(NATIVE_PREFIXES)


def rates_table(config: Config) -> Table:
    """Model x group (x within) with every headline rate, its interval, n and unscored count (native
    measures: :func:`native_table`)."""
    group_key, within = _dims(config)
    scores = [s for s in config.headline if not is_native(s)]
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
                values = pooled_entries(config, row, s)
                cells.append(cell(values, g, total(counts) if g == "all" else counts.get(g)))
            table.rows.append(_row_prefix(config, row) + ([outer] if within else []) + [inner] + cells)
    table.note = rates_note(config)
    return table


def cluster_label(config: Config) -> str:
    """What the intervals cluster by (the metric's ``cluster`` key; else each sample)."""
    keys = sorted({sp.cluster or "sample" for sp in config.specs.values() if sp.kind == "rate"})
    return ", ".join(keys) or "sample"


def rates_note(config: Config) -> str:
    return (
        "Each cell: rate [95% interval clustered by "
        f"{cluster_label(config)}: Inspect's ci_wilson(cluster=...), Korn-Graubard effective sample "
        "size, t critical value with clusters - 1 df; at a rate of 0 or 1 the effective size cannot "
        "be estimated and every observation counts; '-' with fewer than 2 clusters] "
        "(for a mean: mean [95% Student-t interval]), n = scored observations (every epoch counts), "
        "u = unscored (the judges could not decide), na = not applicable (outside the denominator of "
        "a conditional rate), clusters = distinct prompts, deff = design effect n / n_eff (1: the "
        "epochs of a prompt behave like independent draws; large: they repeat each other), "
        "obs = Wilson interval counting every observation as independent (a statement about these "
        "exact prompts only, not about the scenario)."
    )


def _union_groups(config: Config, row: Row, scores: list[str]) -> list[str]:
    order = config.groups(scores[0]) if scores else []
    seen = {g for s in scores for g in counts_for(row, s)}
    extra = sorted(seen - set(order))
    return [g for g in order if g in seen] + extra


def turns_table(config: Config) -> Table | None:
    """Model x group x turn for scores measured at every follow-up turn."""
    turn_scores = {b: per for b, per in config.turn_scores.items() if not is_native(b)}
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
                    cell(
                        pooled_entries(config, row, turn_scores[b][t]),
                        g,
                        counts_for(row, turn_scores[b][t]).get(g),
                    )
                    if t in turn_scores[b]
                    else ""
                    for b in bases
                ]
                table.rows.append(
                    _row_prefix(config, row) + ([outer] if within else []) + [inner, str(t)] + cells
                )
    table.note = "Rate at each follow-up turn; the headline table gives the rate at any turn."
    return table


def _scope(score: str) -> tuple[str, str]:
    """``(measure, scope)``: ``native_inconsistent_turn2`` -> ``("native_inconsistent", "turn 2")``."""
    m = TURN.match(score)
    return (m["base"], f"turn {m['turn']}") if m else (score, "conversation")


def _available(c: Counts) -> tuple[int | None, str]:
    """Observations that had the reasoning compared (scored or unscored, not the not-applicable ones),
    and ``k of n`` for the table; None when unknown (a log without samples)."""
    if c.unscored < 0:
        return None, f"{c.n} scored (log without samples: the rest unknown)"
    had = c.n + c.unscored
    return had, f"{had} of {had + c.na}"


def native_table(config: Config) -> Table | None:
    """Model x group x native measure (per conversation, and per turn where measured per turn): how
    many conversations / turns had native reasoning, and the rate over those ("not available" when
    none had)."""
    natives = [s for s in config.rate_scores if is_native(s)]
    if not natives:
        return None
    group_key, within = _dims(config)
    header = _prefix_header(config) + ([within] if within else []) + [group_key, "measure", "scope"]
    table = Table(header=header + ["had native reasoning", "rate"])
    for row in config.rows:
        for g in _union_groups(config, row, natives) + ["all"]:
            outer, inner = _split(config, g) if g != "all" else ("", "all")
            for s in natives:
                counts = counts_for(row, s)
                c = total(counts) if g == "all" else counts.get(g)
                if c is None:
                    continue
                had, text = _available(c)
                rate = "not available" if had == 0 else cell(pooled_entries(config, row, s), g, c)
                prefix = _row_prefix(config, row) + ([outer] if within else [])
                table.rows.append(prefix + [inner, *_scope(s), text, rate])
    table.note = (
        "Measures on the model's native reasoning (its thinking, where the provider returns it). "
        "had native reasoning: the conversations (scope conversation) or turns (scope turn t) the "
        "measure applies to and whose native reasoning was readable, of all (the measure's n). "
        "Beyond readable thinking, stated_vs_native_inconsistent needs the requested reasoning in the "
        "reply and native_deceptive_report a bought trade and a report, so 'had' can be lower than "
        "the turns with thinking. Redacted or absent reasoning is not available, outside the "
        "denominator. Rate cells as in the rates table; 'not available' when none had it."
    )
    return table


def diff_cell(values: dict[str, float], comparison: Comparison) -> str:
    """``+0.300 [0.05, 0.52] (p=0.031, 12 pairs)``: the difference, its cluster-aware interval, the
    p-value and what it rests on."""
    v, name = values.get, comparison.name
    text = f"{v(f'{name}_diff', NAN):+.3f} [{fmt(v(f'{name}_diff_ci_low', NAN))}, "
    text += f"{fmt(v(f'{name}_diff_ci_high', NAN))}] (p={fmt_p(v(f'{name}_p', NAN))}"
    if f"{name}_pairs" in values:
        text += f", {fmt(v(f'{name}_pairs'), 0)} pairs"
    elif f"{name}_clusters" in values:
        text += f", Fisher, {fmt(v(f'{name}_clusters'), 0)} clusters"
    return text + ")"


DIFFS_NOTE = (
    "Difference of rates (first minus second) [95% interval: the two groups' clustered Wilson "
    "intervals combined by MOVER (Newcombe 1998 method 10, Zou & Donner 2004), with the correlation "
    "of per-variant rates for paired comparisons]. p: for paired comparisons (two conditions of the "
    "same variants, 'pairs' = variants present in both), an exact permutation test of the condition "
    "labels within variant (scipy permutation_test, 2^pairs relabellings; beyond 16 pairs 65,536 "
    "drawn with a fixed seed); for unpaired ones (different variants), Fisher's exact test, which "
    "treats observations as independent: read its interval first."
)


def diffs_table(config: Config) -> Table | None:
    """Differences of rates between groups (e.g. refusal minus rebuttal) with intervals and p."""
    scores = config.headline
    _, within = _dims(config)
    rows: list[list[str]] = []
    for row in config.rows:
        keys: dict[tuple[str, str, str], dict[str, str]] = {}
        for s in scores:
            values = pooled_entries(config, row, s)
            for comparison in comparisons(counts_for(row, s), config.specs[s]):
                key = (comparison.prefix.rstrip("/"), comparison.a, comparison.b)
                keys.setdefault(key, {})[s] = diff_cell(values, comparison)
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
    return Table(header=header, rows=rows, note=DIFFS_NOTE)


def _comparison_label(a: str, b: str) -> str:
    """``refusal - rebuttal``; an ``across`` comparison ``protected/refusal`` vs ``control`` reads
    ``protected - control (refusal)``."""
    if "/" in a:
        outer, group = a.rsplit("/", 1)
        return f"{outer} - {b} ({group})"
    return f"{a} - {b}"


DELTA = 0.1
"""A difference every planning table asks about, beside the observed one."""


def _components(counts: dict[str, Counts], comparison: Comparison) -> Components:
    a, b = counts[comparison.group_a].obs, counts[comparison.group_b].obs
    return paired_components(a, b) if comparison.paired else unpaired_components(a, b)


def _need(n: int | None) -> str:
    return "-" if n is None else str(n)


def planning_rows(config: Config, row: Row, score: str) -> list[list[str]]:
    """One row per comparison of ``score`` and difference to detect (the observed one and 0.1)."""
    out = []
    values = pooled_entries(config, row, score)
    for comparison in comparisons(counts_for(row, score), config.specs[score]):
        comp = _components(counts_for(row, score), comparison)
        observed = abs(values.get(f"{comparison.name}_diff", NAN))
        deltas = sorted({DELTA} | ({round(observed, 3)} if observed >= 0.01 else set()))
        for delta in deltas:
            p = plan(comp, delta)
            if p.epochs_help is False:
                epochs = f"none: only more variants (>= {p.variants_min})"
            elif p.epochs_help is None:
                epochs = f"- ({p.note})"
            else:
                epochs = _need(p.epochs_now)
            out.append(
                [
                    score,
                    (f"{comparison.prefix.rstrip('/')}: " if comparison.prefix else "")
                    + _comparison_label(comparison.a, comparison.b),
                    f"{comp.clusters} x {fmt(comp.epochs, 1)}",
                    fmt(comp.icc, 2),
                    f"{delta:.3f}" + (" (observed)" if delta == round(observed, 3) else ""),
                    _need(p.variants_now),
                    epochs,
                    _need(p.variants_min),
                ]
            )
    return out


PLANNING_NOTE = (
    "Planning (Miller 2024, 'Adding Error Bars to Evals'): what it takes to detect a difference "
    "delta with 80% power at alpha = 0.05 (two-sided), from this run's variance between variants "
    "and within a variant. 'variants x epochs': what the comparison rests on now. 'variant share': "
    "the intra-cluster correlation, the share of one draw's variance that belongs to the variant; "
    "near 1, every epoch repeats the last and only more variants narrow the interval. 'variants "
    "(these epochs)': variants needed at the current epochs; 'epochs (these variants)': epochs per "
    "variant needed with the current variants ('none' when no number of epochs is enough); "
    "'variants (any epochs)': the floor that even unlimited epochs cannot lower."
)


def planning_table(config: Config) -> Table | None:
    """Per model, headline rate and comparison: variants and epochs needed for 80% power."""
    rows = []
    for row in config.rows:
        if row.from_metrics:
            continue
        for s in config.headline:
            rows += [_row_prefix(config, row) + r for r in planning_rows(config, row, s)]
    if not rows:
        return None
    header = _prefix_header(config) + [
        "score",
        "comparison",
        "variants x epochs",
        "variant share",
        "delta",
        "variants (these epochs)",
        "epochs (these variants)",
        "variants (any epochs)",
    ]
    return Table(header=header, rows=rows, note=PLANNING_NOTE)


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
        "user (simulated party)",
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
                log.model_roles.get("user") or "-",
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


def tokens_table(rows: list[dict[str, Any]], priced: bool) -> Table:
    header = [
        "task",
        "model under test",
        "role",
        "model",
        "samples",
        "calls/sample",
        "input/sample",
        "cache read/sample",
        "cache write/sample",
        "output/sample",
        "input total",
        "output total",
    ]
    if priced:
        header += ["cost/sample $", "cost total $"]
    table = Table(header=header)
    for r in rows:
        n = r["samples"]
        calls = "-" if r["calls"] is None else f"{r['calls'] / n:.2f}" if n else "-"
        cells = [r["task"], r["model"], r["role"], r["role_model"], str(n), calls]
        cells += [_tokens_per_sample(r[k], n) for k in ("input", "cache_read", "cache_write", "output")]
        cells += [f"{r['input'] + r['cache_read'] + r['cache_write']:,}", f"{r['output']:,}"]
        if priced:
            cost = r["cost"]
            cells += [
                "no price" if cost is None else f"{cost / n:.5f}" if n else "-",
                "no price" if cost is None else f"{cost:.4f}",
            ]
        table.rows.append(cells)
    table.note = (
        "Tokens as the providers reported them, per sample (every epoch counted) and in total over the "
        "logs of a row. input: charged at the full rate; cache read / cache write: prompt-cache tokens "
        "(Inspect's cache_prompt); input total includes both. model: usage under no model role (the "
        "model under test); grader: <judge> splits the grader by judge (judge spans); generations "
        "served from Inspect's --cache are not counted."
        + (" Cost at the --prices given (cache prices default to the input price)." if priced else "")
    )
    return table


def _tokens_per_sample(n: int, samples: int) -> str:
    return f"{n / samples:,.0f}" if samples else "-"
