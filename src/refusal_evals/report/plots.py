"""Figures (matplotlib, Agg, PNG): rates with 95% error bars (clustered by prompt, as in the tables;
none where fewer than two clusters leave the interval undefined), per-turn lines.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state), so reports can
be written from any thread without a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from refusal_evals.report.aggregate import Config, Row, counts_for, pooled_entries  # noqa: E402
from refusal_evals.report.tables import cluster_label, is_native  # noqa: E402

COLOURS = {"natural": "#8c8c8c", "refusal": "#e6862a", "rebuttal": "#2f6fb0"}
PALETTE = [
    "#2f6fb0",
    "#e6862a",
    "#3a9a5b",
    "#c4403c",
    "#8a63b3",
    "#8c564b",
    "#d177b8",
    "#7f7f7f",
    "#b5b52e",
    "#2eb5c4",
]
MAX_HUE = 5
"""With at most this many groups, bars are grouped by model (hue = group, as in the paper's
figures); with more (e.g. many categories), bars are grouped by group (hue = model)."""


def _colour(name: str, i: int) -> str:
    return COLOURS.get(name.rsplit("/", 1)[-1], PALETTE[i % len(PALETTE)])


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n == 1 else 2
    return math.ceil(n / cols), cols


Point = tuple[float, float, float]
"""(estimate, error below, error above); no error bar where the interval is undefined."""


def _point(config: Config, row: Row, score: str, group: str) -> Point | None:
    c = counts_for(row, score).get(group)
    if c is None or c.n == 0:
        return None
    values = pooled_entries(config, row, score)
    rate = values.get(group, math.nan)
    lo, hi = values.get(f"{group}_ci_low", math.nan), values.get(f"{group}_ci_high", math.nan)
    if math.isnan(lo) or math.isnan(hi):
        return rate, 0.0, 0.0
    return rate, max(0.0, rate - lo), max(0.0, hi - rate)


def _err(p: Point | None) -> Point:
    return (math.nan, 0.0, 0.0) if p is None else p


def _series(config: Config, score: str) -> tuple[list[str], list[str], dict[tuple[str, str], Point]]:
    """x labels, hue labels and the point for each (x, hue) pair."""
    groups = [g for g in config.groups(score) if g != "all"]
    outers = list(dict.fromkeys(g.rpartition("/")[0] for g in groups))
    inners = list(dict.fromkeys(g.rpartition("/")[2] for g in groups))
    models = [
        r.model + (f" (grader {r.grader})" if len(config.rows) > len({x.model for x in config.rows}) else "")
        for r in config.rows
    ]
    data: dict[tuple[str, str], Point] = {}
    xs: list[str] = []
    hues: list[str] = []
    if len(inners) <= MAX_HUE:
        hues = inners
        for row, label in zip(config.rows, models, strict=True):
            for outer in outers:
                x = f"{label}\n{outer}" if outer else label
                xs.append(x)
                for inner in inners:
                    p = _point(config, row, score, f"{outer}/{inner}" if outer else inner)
                    if p is not None:
                        data[(x, inner)] = p
    else:
        xs = groups
        for row, label in zip(config.rows, models, strict=True):
            hues.append(label)
            for g in groups:
                p = _point(config, row, score, g)
                if p is not None:
                    data[(g, label)] = p
    return xs, hues, data


def rates_figure(config: Config, path: Path, native: bool = False) -> Path | None:
    """Grouped bars with 95% error bars (clustered intervals): one panel per headline rate; the
    measures on native reasoning (``native=True``) get a figure of their own, as they get a table."""
    scores = [s for s in config.headline if is_native(s) == native]
    if native:  # no panel for a measure no turn had readable native reasoning for (the table says so)
        scores = [
            s for s in scores if any(not math.isnan(_err(p)[0]) for p in _series(config, s)[2].values())
        ]
    if not scores:
        return None
    nrows, ncols = _grid(len(scores))
    probe_x, probe_h, _ = _series(config, scores[0])
    width_per_x = max(1.2, 0.35 * len(probe_h) + 0.4)
    fig_w = min(22.0, max(5.5, ncols * max(3.6, 1.6 + width_per_x * len(probe_x))))
    fig = Figure(figsize=(fig_w, 3.6 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    legend_items: dict[str, Any] = {}
    for i, score in enumerate(scores):
        ax = axes[i // ncols][i % ncols]
        xs, hues, data = _series(config, score)
        bar_w = 0.8 / max(1, len(hues))
        for j, hue in enumerate(hues):
            pos, vals, lo, hi = [], [], [], []
            for xi, x in enumerate(xs):
                rate, el, eh = _err(data.get((x, hue)))
                if math.isnan(rate):
                    continue
                pos.append(xi - 0.4 + bar_w * (j + 0.5))
                vals.append(rate)
                lo.append(el)
                hi.append(eh)
            bars = ax.bar(
                pos,
                vals,
                bar_w * 0.92,
                color=_colour(hue, j),
                label=hue,
                yerr=[lo, hi],
                capsize=3,
                error_kw={"elinewidth": 1, "ecolor": "#333333"},
            )
            legend_items.setdefault(hue, bars)
            for xpos, v in zip(pos, vals, strict=True):
                ax.text(
                    xpos,
                    0.015,
                    f"{v:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    rotation=90 if bar_w < 0.2 else 0,
                    color="#111111",
                )
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels(
            xs, fontsize=8, rotation=0 if len(xs) <= 4 else 30, ha="center" if len(xs) <= 4 else "right"
        )
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"rate or mean (95% CI, clustered by {cluster_label(config)})", fontsize=8)
        cond = " (conditional)" if config.conditional(score) else ""
        mean = " (mean)" if config.specs[score].kind == "mean" else ""
        ax.set_title(score.replace("_", " ") + mean + cond, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    title = _title(config) + (" - native reasoning" if native else "")
    return _finish(fig, axes, len(scores), legend_items, 6, title, path)


def _finish(
    fig: Figure, axes: Any, panels: int, legend: dict[str, Any], columns: int, title: str, path: Path
) -> Path:
    """Hide unused panels, add the legend and title, write the PNG."""
    nrows, ncols = len(axes), len(axes[0])
    for k in range(panels, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="outside lower center",
        ncols=min(columns, max(1, len(legend))),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(title, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def turns_figure(config: Config, path: Path) -> Path | None:
    """Rate at each follow-up turn (lines with 95% error bars), one panel per measure (native
    measures: their own table, as in the per-turn table)."""
    turn_scores = {b: per for b, per in config.turn_scores.items() if not is_native(b)}
    if not turn_scores:
        return None
    bases = list(turn_scores)
    nrows, ncols = _grid(len(bases))
    fig = Figure(figsize=(5.2 * ncols, 3.4 * nrows + 0.7), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    handles: dict[str, Any] = {}
    for i, base in enumerate(bases):
        ax = axes[i // ncols][i % ncols]
        turns = sorted(turn_scores[base])
        groups = [g for g in config.groups(turn_scores[base][turns[0]]) if g != "all"]
        series = 0
        for row in config.rows:
            for g in groups:
                pts = [_err(_point(config, row, turn_scores[base][t], g)) for t in turns]
                if all(math.isnan(p[0]) for p in pts):
                    continue
                label = f"{row.model} {g}" if len(config.rows) > 1 else g
                offset = (series % 5 - 2) * 0.03
                line = ax.errorbar(
                    [t + offset for t in turns],
                    [p[0] for p in pts],
                    yerr=[[p[1] for p in pts], [p[2] for p in pts]],
                    marker="o",
                    capsize=3,
                    color=_colour(g, series) if len(config.rows) == 1 else PALETTE[series % len(PALETTE)],
                    label=label,
                    linewidth=1.4,
                )
                handles.setdefault(label, line)
                series += 1
        ax.set_xticks(turns)
        ax.set_xlabel("follow-up turn", fontsize=8)
        ax.set_ylabel(f"rate (95% CI, clustered by {cluster_label(config)})", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(base.replace("_", " ") + " by turn", fontsize=10)
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return _finish(fig, axes, len(bases), handles, 4, _title(config) + " - per turn", path)


def _title(config: Config) -> str:
    suffix = f" [{config.index} of {config.of}]" if config.of > 1 else ""
    return f"{config.task} (v{config.task_version}){suffix}"
