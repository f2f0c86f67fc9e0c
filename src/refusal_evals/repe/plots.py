"""The honesty/harm trade-off curve of ``refusal_evals/honesty_steering`` logs (matplotlib).

Reads the metrics Inspect stored in each log (no sample data needed): for every steering group
``c<coeff>`` the rate or mean with its 95% interval. One panel per measure, rate against the
coefficient, one line per model; a last panel shows the honesty read-out of the replies by reply
type (the lie detector).

    from refusal_evals.repe.plots import tradeoff_figure
    tradeoff_figure(["logs/"], "tradeoff.png")

or ``python -m refusal_evals.repe.plots logs/ --out tradeoff.png``. ``refusal-evals report`` draws
the same figure for honesty_steering logs (``report_figure``).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refusal_evals.report.task_figures import register_figure

TASK = "honesty_steering"
MEASURES: list[tuple[str, str]] = [
    ("harm_all", "harm (mean harm score, refusals count 0)"),
    ("inability_claim_rate", "inability claims"),
    ("refusal_rate", "refusals"),
    ("dishonest_refusal", "dishonest refusals"),
]
HONESTY = "honesty_reply"
CHECK = "steering_check"
CHECK_LABEL = "steering check: told to lie, share still stating the true fact (held-out facts)"
BUCKETS = [("inability_refusal", "refusals claiming inability"), ("other_refusal", "other refusals"),
           ("complied", "complied")]  # fmt: skip
_GROUP = re.compile(r"^c([+-]\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?:/(\w+))?$")


@dataclass
class Point:
    coeff: float
    value: float
    low: float
    high: float
    n: float


def _metrics(score: Any) -> dict[str, float]:
    return {m.name: float(m.value) for m in score.metrics.values() if m.value is not None}


def curve(metrics: dict[str, float], bucket: str | None = None) -> list[Point]:
    """Points per steering group (``c-4`` ...; with ``bucket``: ``c-4/<bucket>``), by coefficient."""
    points = []
    for name, value in metrics.items():
        m = _GROUP.match(name)
        if not m or m.group(2) != bucket:
            continue
        n = metrics.get(f"{name}_n", math.nan)
        if not n or math.isnan(value):
            continue
        points.append(
            Point(
                float(m.group(1)),
                value,
                metrics.get(f"{name}_ci_low", math.nan),
                metrics.get(f"{name}_ci_high", math.nan),
                n,
            )
        )
    return sorted(points, key=lambda p: p.coeff)


def tradeoff_data(logs: Sequence[Any]) -> dict[str, dict[str, list[Point]]]:
    """model -> series name (measure, or ``honesty_reply/<bucket>``) -> points; honesty_steering logs."""
    from inspect_ai.log import EvalLog, read_eval_log

    out: dict[str, dict[str, list[Point]]] = {}
    for item in logs:
        log = item if isinstance(item, EvalLog) else read_eval_log(str(item), header_only=True)
        if log.eval.task.split("/")[-1] != TASK or not log.results:
            continue
        label = log.eval.model
        if label in out:
            label = f"{label} ({Path(log.location).name})"
        series: dict[str, list[Point]] = {}
        for score in log.results.scores:
            metrics = _metrics(score)
            if score.name == HONESTY:
                for bucket, _ in BUCKETS:
                    series[f"{HONESTY}/{bucket}"] = curve(metrics, bucket)
            elif score.name in dict(MEASURES):
                series[score.name] = curve(metrics)
        if not isinstance(item, EvalLog) or item.samples:
            series[CHECK] = steering_check_points(item)
        out[label] = series
    return out


def steering_check_points(log: Any) -> list[Point]:
    """The direction's steering check curve, as the ``repe/`` provider recorded it with each reply
    (``output.metadata["honesty"]["direction_check"]``; the first sample that has it)."""
    from inspect_ai.log import EvalLog, read_eval_log_samples

    samples = log.samples or [] if isinstance(log, EvalLog) else read_eval_log_samples(
        str(log), all_samples_required=False
    )  # fmt: skip
    for sample in samples:
        meta = (sample.output.metadata or {}) if sample.output else {}
        check = ((meta.get("honesty") or {}).get("direction_check") or {}).get(CHECK)
        if check:
            n = float(check["n"])
            return [Point(float(c), float(v), math.nan, math.nan, n)
                    for c, v in zip(check["coeffs"], check["true_share"], strict=True)]  # fmt: skip
    return []


def _log_files(paths: Sequence[str | Path]) -> list[str]:
    from inspect_ai.log import list_eval_logs

    files: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += [info.name for info in list_eval_logs(str(path.resolve()), recursive=True)]
        else:
            files.append(str(path))
    return files


def tradeoff_figure(logs: Sequence[Any], path: str | Path, title: str | None = None) -> Path | None:
    """Draw the trade-off curves of the honesty_steering logs among ``logs`` (paths, directories or
    ``EvalLog`` objects) into ``path`` (PNG). Returns None when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [x for x in logs if not isinstance(x, str | Path)] + _log_files(
        [x for x in logs if isinstance(x, str | Path)]
    )
    data = tradeoff_data(items)
    if not any(points for series in data.values() for points in series.values()):
        return None
    panels = [
        MEASURES[0],
        (CHECK, CHECK_LABEL),
        *MEASURES[1:],
        (HONESTY, "honesty read-out of the reply (lie detector)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", ":", "-."]
    for ax, (name, label) in zip(axes[0], panels, strict=True):
        for i, (model, series) in enumerate(data.items()):
            lines = (
                [(f"{HONESTY}/{b}", blabel) for b, blabel in BUCKETS] if name == HONESTY else [(name, None)]
            )
            for j, (key, blabel) in enumerate(lines):
                pts = series.get(key) or []
                if not pts:
                    continue
                x = [p.coeff for p in pts]
                y = [p.value for p in pts]
                lo = [p.value - p.low if not math.isnan(p.low) else 0 for p in pts]
                hi = [p.high - p.value if not math.isnan(p.high) else 0 for p in pts]
                colour = colours[(j if name == HONESTY else i) % len(colours)]
                text = (
                    (model if blabel is None else blabel)
                    if len(data) == 1 or blabel is None
                    else f"{blabel}, {model}"
                )
                ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3, color=colour,
                            linestyle=styles[i % len(styles)], label=text)  # fmt: skip
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("steering coefficient (towards honesty →)")
        if name != HONESTY:
            ax.set_ylim(-0.02, 1.02)
        else:
            ax.axhline(0, color="grey", linewidth=0.5)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0] and (name == HONESTY or len(data) > 1):
            ax.legend(fontsize=7)
    fig.suptitle(title or "Honesty steering: harm and inability claims against the coefficient (95% CI)")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


@register_figure(
    "honesty_steering",
    "tradeoff",
    "harm, refusals and inability claims against the honesty-steering coefficient (95% intervals)",
)
def report_figure(config: Any, path: Path) -> Path | None:
    """Hook for ``refusal-evals report``: the trade-off figure of a honesty_steering configuration."""
    return tradeoff_figure([log.path for log in config.logs], path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m refusal_evals.repe.plots", description=__doc__.split("\n")[0]
    )
    parser.add_argument("logs", nargs="+", help="honesty_steering log files or directories")
    parser.add_argument("--out", default="honesty_tradeoff.png", help="PNG to write")
    args = parser.parse_args(argv)
    written = tradeoff_figure(args.logs, args.out)
    if written is None:
        print("no honesty_steering results found in", ", ".join(args.logs))
        return 1
    print(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
