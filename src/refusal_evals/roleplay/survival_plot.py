"""The survival curve of role-play logs, drawn by ``refusal-evals report`` (figure ``survival``).

For each model (one panel each) and condition (one line each; ``<attribute>/<condition>`` where the
task groups by an attribute): the share of conversations still without an undesired reply after t
follow-up turns, t = 0 (every conversation) to the last turn, with 95% intervals clustered by
variant (:func:`refusal_evals.stats.rates.rate_of`, the computation of every other rate in the
report; no interval with fewer than two variants). Each conversation's curve is computed from its
per-turn ``undesired`` values by :func:`refusal_evals.roleplay.survival.survival_curve`, the function
the scorer uses for ``survival_turn<t>``. Drawn for logs with ``follow_up=simulated`` (those with a
``survival`` score; scripted runs have the report's per-turn plot) and at least two turns. Unscored
points are left out of that turn's share (and counted in the report's tables).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from refusal_evals.report.task_figures import register_figure
from refusal_evals.roleplay.scenarios import SCENARIO_DIR
from refusal_evals.roleplay.survival import survival_curve
from refusal_evals.stats.intervals import Obs
from refusal_evals.stats.rates import Rate, rate_of

SUFFIX = "survival"
ALT = (
    "share of conversations still without an undesired reply after t follow-up turns, per condition "
    "(95% intervals clustered by variant)"
)
MEASURE = "undesired"
SURVIVAL = "survival"
CLUSTER = "variant"

Curves = dict[str, list[Rate]]
"""group -> its share at turns 1..T"""


def follow_up_turns(scores: Iterable[str]) -> int:
    """The number of follow-up turns of a log from its score names (``undesired_turn<t>``)."""
    turns = [int(s.removeprefix(f"{MEASURE}_turn")) for s in scores if s.startswith(f"{MEASURE}_turn")]
    return max(turns, default=1)


def sample_curve(values: dict[str, float | None], turns: int) -> list[float]:
    """One conversation's survival at turns 1..``turns`` from its score values."""
    keys = [f"{MEASURE}_turn{t}" for t in range(1, turns + 1)] if turns > 1 else [MEASURE]
    return survival_curve([values.get(k, math.nan) for k in keys])


def _group(meta: dict[str, Any], within: str | None) -> str | None:
    if "condition" not in meta or (within and within not in meta):
        return None
    return f"{meta[within]}/{meta['condition']}" if within else str(meta["condition"])


def survival_curves(logs: Iterable[Any], within: str | None = None) -> tuple[int, Curves]:
    """The number of turns and each group's survival curve over the samples of ``logs`` (pooled;
    report ``LogRecord``s, every epoch an observation, clustered by variant)."""
    logs = list(logs)
    turns = max((follow_up_turns(s.name for s in log.scores) for log in logs), default=1)
    obs: dict[str, list[list[Obs]]] = {}
    for log in logs:
        for sample in log.samples:
            group = _group(sample.metadata, within)
            if group is None:
                continue
            per_turn = obs.setdefault(group, [[] for _ in range(turns)])
            cluster = sample.metadata.get(CLUSTER, sample.id)
            for t, value in enumerate(sample_curve(sample.values, turns)):
                if not math.isnan(value):
                    per_turn[t].append((cluster, value))
    return turns, {g: [rate_of(o) for o in per_turn] for g, per_turn in sorted(obs.items())}


def _draw(ax: Any, turns: int, curves: Curves, colours: list[str]) -> None:
    xs = list(range(turns + 1))
    for i, (group, rates) in enumerate(curves.items()):
        ys = [1.0] + [r.estimate for r in rates]
        colour = colours[i % len(colours)]
        ax.step(xs, ys, where="post", color=colour, label=f"{group} (n={rates[0].n if rates else 0})")
        lo = [0.0] + [r.estimate - r.ci_low if not math.isnan(r.ci_low) else 0.0 for r in rates]
        hi = [0.0] + [r.ci_high - r.estimate if not math.isnan(r.ci_high) else 0.0 for r in rates]
        offset = (i - (len(curves) - 1) / 2) * 0.06
        ax.errorbar(
            [x + offset for x in xs], ys, yerr=[lo, hi], fmt="o", markersize=3, capsize=2, color=colour
        )
    ax.set_xticks(xs)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("follow-up turns", fontsize=8)
    ax.set_ylabel("share without an undesired reply", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def simulated(logs: Iterable[Any]) -> list[Any]:
    """The logs of ``follow_up=simulated`` runs (they have a ``survival`` score)."""
    return [log for log in logs if any(s.name == SURVIVAL for s in log.scores)]


def survival_figure(config: Any, path: Path) -> Path | None:
    """Draw the survival curves of a role-play configuration of the report (one panel per model and
    grader) into ``path``; None without simulated-party logs of at least two follow-up turns."""
    spec = getattr(config, "specs", {}).get(MEASURE)
    within = getattr(spec, "within", None)
    panels = [
        (f"{row.model}" + (f" (grader {row.grader})" if row.grader else ""), simulated(row.logs))
        for row in config.rows
    ]
    data = [(label, *survival_curves(logs, within)) for label, logs in panels]
    data = [(label, turns, curves) for label, turns, curves in data if turns > 1 and curves]
    if not data:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(data), figsize=(5.0 * len(data), 3.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, turns, curves) in zip(axes[0], data, strict=True):
        _draw(ax, turns, curves, colours)
        ax.set_title(label, fontsize=9)
    fig.suptitle(f"{config.task}: conversations without an undesired reply, by follow-up turn (95% CI)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def register_survival_figure(task: str) -> None:
    """Draw the survival figure in the report of every configuration of role-play task ``task``."""
    register_figure(task, SUFFIX, ALT)(survival_figure)


for _file in sorted(SCENARIO_DIR.glob("*.yaml")):  # every built-in scenario task
    register_survival_figure(_file.stem)
