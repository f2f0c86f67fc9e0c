"""Write a report: ``report.md``, a self-contained ``report.html`` (plots embedded), the PNG plots
and ``results.json`` (every pooled count, for scripts)."""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from refusal_evals.report.aggregate import (
    Config,
    Pooled,
    comparisons,
    counts_for,
    pool,
    pooled_entries,
    total,
)
from refusal_evals.report.plots import rates_figure, turns_figure
from refusal_evals.report.read import LogRecord, read_logs
from refusal_evals.report.tables import (
    Table,
    cluster_label,
    diffs_table,
    is_judge_validation,
    judge_validation_tables,
    native_table,
    other_scores_tables,
    planning_table,
    provenance_table,
    rates_table,
    tokens_table,
    turns_table,
)
from refusal_evals.report.task_figures import task_figures
from refusal_evals.report.tokens import Price, tokens_rows
from refusal_evals.stats.rates import DIFF_NAMES, RATE_NAMES

# a document is a list of blocks: ("h", level, text) | ("p", text) | ("warn", text) |
# ("list", [text]) | ("table", Table) | ("img", path, alt)
Block = tuple[Any, ...]


@dataclass
class ReportResult:
    out_dir: Path
    markdown: Path
    html: Path
    json: Path
    plots: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pooled: Pooled | None = None


def write_report(
    inputs: list[str | Path],
    out_dir: str | Path,
    title: str = "refusal-evals report",
    prices: dict[str, Price] | None = None,
) -> ReportResult:
    """Read every log under ``inputs`` and write the report into ``out_dir`` (with a cost column
    where ``prices`` names a model; see :mod:`refusal_evals.report.tokens`)."""
    logs = read_logs(inputs, events=True)
    return write_report_from_logs(logs, out_dir, title=title, inputs=[str(i) for i in inputs], prices=prices)


def write_report_from_logs(
    logs: list[LogRecord],
    out_dir: str | Path,
    title: str = "refusal-evals report",
    inputs: list[str] | None = None,
    prices: dict[str, Price] | None = None,
) -> ReportResult:
    out = Path(out_dir)
    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    pooled = pool(logs)
    plots: list[Path] = []
    blocks = _preamble(title, logs, inputs, pooled)
    rate_configs = [c for c in pooled.configs if c.rate_scores]
    judge_configs = [c for c in pooled.configs if not c.rate_scores and is_judge_validation(c)]
    other_configs = [c for c in pooled.configs if not c.rate_scores and not is_judge_validation(c)]
    contents = [_heading(c) for c in rate_configs + judge_configs + other_configs]
    if contents:
        blocks += [("h", 2, "Contents"), ("list", contents)]
    for config in rate_configs:
        blocks += _rate_section(config, plots_dir, plots)
    if judge_configs:
        blocks += _judge_section(judge_configs)
    if other_configs:
        blocks += _other_section(other_configs)
    tokens = tokens_rows([lg for lg in logs if lg.status == "success"], prices)
    if tokens:
        blocks += [("h", 2, "Tokens and cost"), ("table", tokens_table(tokens, prices is not None))]
    if pooled.excluded:
        blocks.append(("h", 2, "Logs left out"))
        blocks.append(("p", "These logs did not finish successfully; their samples are not in any table."))
        blocks.append(("table", provenance_table(pooled.excluded)))

    md_path = out / "report.md"
    md_path.write_text(to_markdown(blocks, out), encoding="utf-8")
    html_path = out / "report.html"
    html_path.write_text(to_html(blocks, title), encoding="utf-8")
    json_path = out / "results.json"
    data = {**to_json(pooled), "tokens": tokens}
    json_path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return ReportResult(out, md_path, html_path, json_path, plots, pooled.warnings, pooled)


def _preamble(title: str, logs: list[LogRecord], inputs: list[str] | None, pooled: Pooled) -> list[Block]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = f" in {', '.join(inputs)}" if inputs else ""
    blocks: list[Block] = [("h", 1, title), ("p", f"Generated {now} from {len(logs)} log(s){where}.")]
    if pooled.warnings:
        blocks.append(("h", 2, "Warnings"))
        blocks += [("warn", w) for w in pooled.warnings]
    return blocks


def _rate_section(config: Config, plots_dir: Path, plots: list[Path]) -> list[Block]:
    """A task with rates: rates, their plot, differences, planning, per turn, figures, logs."""
    blocks: list[Block] = [("h", 2, _heading(config)), *_summary(config)]
    blocks += [("h", 3, "Rates"), ("table", rates_table(config))]
    fig = rates_figure(config, plots_dir / f"{config.slug}_rates.png")
    if fig:
        plots.append(fig)
        blocks.append(
            ("img", fig, f"{config.task} rates with 95% intervals clustered by {cluster_label(config)}")
        )
    native = native_table(config)
    if native:
        blocks += [("h", 3, "Native reasoning (reasoning models)"), ("table", native)]
        fig = rates_figure(config, plots_dir / f"{config.slug}_native.png", native=True)
        if fig:
            plots.append(fig)
            blocks.append(("img", fig, f"{config.task} native-reasoning measures with 95% intervals"))
    diffs = diffs_table(config)
    if diffs:
        blocks += [("h", 3, "Differences between groups"), ("table", diffs)]
    planning = planning_table(config)
    if planning:
        blocks += [("h", 3, "Planning: epochs or variants?"), ("table", planning)]
    turns = turns_table(config)
    if turns:
        blocks += [("h", 3, "Per turn"), ("table", turns)]
        fig = turns_figure(config, plots_dir / f"{config.slug}_turns.png")
        if fig:
            plots.append(fig)
            blocks.append(("img", fig, f"{config.task} rates per follow-up turn"))
    for fig, alt in task_figures(config, plots_dir):  # task-specific figures (task_figures.py)
        plots.append(fig)
        blocks.append(("img", fig, alt))
    others = other_scores_tables(config)
    if others:
        blocks.append(("h", 3, "Other metrics"))
        for name, table in others:
            blocks += [("p", f"Score `{name}`:"), ("table", table)]
    blocks += [("h", 3, "Logs"), ("table", provenance_table(config.logs))]
    return blocks


def _judge_section(configs: list[Config]) -> list[Block]:
    blocks: list[Block] = [("h", 2, "Judge validation")]
    blocks.append(
        (
            "p",
            "Agreement of each grader with our gold labels, per judge "
            "(`refusal_evals/judge_validation`). Read a task's rates only through a grader "
            "that agrees well on the judges behind them.",
        )
    )
    for config in configs:
        blocks += [("h", 3, _heading(config)), *_summary(config)]
        for name, table in judge_validation_tables(config):
            if name != "summary":
                blocks.append(("p", f"Confusion matrix: {name}"))
            blocks.append(("table", table))
        blocks += [("p", "Logs:"), ("table", provenance_table(config.logs))]
    return blocks


def _other_section(configs: list[Config]) -> list[Block]:
    blocks: list[Block] = [("h", 2, "Tasks without a condition grouping")]
    blocks.append(
        ("p", "Scores of these tasks have no group_rates metric; their metrics are shown as recorded.")
    )
    for config in configs:
        blocks += [("h", 3, _heading(config)), *_summary(config)]
        for name, table in other_scores_tables(config):
            blocks += [("p", f"Score `{name}`:"), ("table", table)]
        blocks += [("p", "Logs:"), ("table", provenance_table(config.logs))]
    return blocks


def _heading(config: Config) -> str:
    text = f"{config.task} (task version {config.task_version})"
    if config.of > 1:
        text += f" [{config.index} of {config.of}: {', '.join(config.differs)}]"
    return text


def _summary(config: Config) -> list[Block]:
    logs = config.logs
    dates = sorted(log.created for log in logs)
    items = [
        "models: " + ", ".join(dict.fromkeys(r.model for r in config.rows)),
        "graders: " + ", ".join(dict.fromkeys(r.grader or "(none bound)" for r in config.rows)),
        "versions: " + ("; ".join(f"{k}={v}" for k, v in config.versions.items()) or "(none recorded)"),
        "task arguments: " + (", ".join(f"{k}={v}" for k, v in config.args.items()) or "(defaults)"),
        f"logs: {len(logs)}, created {dates[0][:19]}" + (f" to {dates[-1][:19]}" if len(dates) > 1 else ""),
    ]
    pooled_rows = [r for r in config.rows if len(r.logs) > 1]
    if pooled_rows:
        items.append("pooled: " + "; ".join(f"{r.model}: {len(r.logs)} logs" for r in pooled_rows))
    return [("list", items)]


# ---------------------------------------------------------------------------------------------
# markdown


def _md_text(text: object) -> str:
    """Text from logs (model names, task arguments, versions, messages) made inert in Markdown:
    no raw HTML (``<img onerror=...>``), no entity tricks and no links (``[x](javascript:...)``)."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace("](", "]\\(")


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in t.header) + " |",
        "|" + "|".join("---" for _ in t.header) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    if t.note:
        lines += ["", f"*{_md_text(t.note)}*"]
    return "\n".join(lines)


def to_markdown(blocks: list[Block], out_dir: Path) -> str:
    parts: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            parts.append("#" * b[1] + " " + _md_text(b[2]))
        elif kind == "p":
            parts.append(_md_text(b[1]))
        elif kind == "warn":
            parts.append(f"> **Warning:** {_md_text(b[1])}")
        elif kind == "list":
            parts.append("\n".join(f"- {_md_text(x)}" for x in b[1]))
        elif kind == "table":
            parts.append(_md_table(b[1]))
        elif kind == "img":
            parts.append(f"![{_md_text(b[2])}]({Path(b[1]).relative_to(out_dir).as_posix()})")
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# html

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1300px; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #2f6fb0; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
tr:nth-child(even) td { background: #fafafa; }
.note { font-style: italic; color: #555; font-size: 12px; }
.warn { background: #fff4d6; border-left: 4px solid #e6a700; padding: .5em .8em; margin: .4em 0; }
img { max-width: 100%; border: 1px solid #eee; margin: .8em 0; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def _inline(text: str) -> str:
    out = html.escape(text)
    # `code` spans
    parts = out.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in t.rows
    )
    note = f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def to_html(blocks: list[Block], title: str) -> str:
    parts: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            parts.append(f"<h{b[1]}>{html.escape(b[2])}</h{b[1]}>")
        elif kind == "p":
            parts.append(f"<p>{_inline(b[1])}</p>")
        elif kind == "warn":
            parts.append(f'<div class="warn"><b>Warning:</b> {_inline(b[1])}</div>')
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in b[1]) + "</ul>")
        elif kind == "table":
            parts.append(_html_table(b[1]))
        elif kind == "img":
            data = base64.b64encode(Path(b[1]).read_bytes()).decode("ascii")
            parts.append(f'<img alt="{html.escape(b[2])}" src="data:image/png;base64,{data}">')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


# ---------------------------------------------------------------------------------------------
# json


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


JSON_RATE_FIELDS = {("rate" if f == "estimate" else f): x for f, x in RATE_NAMES.items() if f != "n"}
"""results.json key -> metric name suffix (``k``, ``n`` and the unscored counts come from the counts)"""


def _rates_json(config: Config, row: Any, score: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One score of one row: per group its values and counts; per comparison its values."""
    counts = counts_for(row, score)
    values = pooled_entries(config, row, score)
    rates = {
        g: {
            **{k: _num(values.get(g + suffix, math.nan)) for k, suffix in JSON_RATE_FIELDS.items()},
            "k": x.k,
            "n": x.n,
            "unscored": x.unscored if x.unscored >= 0 else None,
            "not_applicable": x.na,
        }
        for g, x in {**counts, "all": total(counts)}.items()
    }
    diffs = {}
    for c in comparisons(counts, config.specs[score]):
        entry: dict[str, Any] = {
            k: _num(values.get(c.name + suffix, math.nan)) for k, suffix in DIFF_NAMES.items()
        }
        entry["method"] = "paired permutation" if c.paired else "unpaired, Fisher"
        entry[c.support.lstrip("_")] = _num(values.get(c.name + c.support, math.nan))
        diffs[c.name] = entry
    return rates, diffs


def to_json(pooled: Pooled) -> dict[str, Any]:
    configs = []
    for c in pooled.configs:
        rows = []
        for row in c.rows:
            per_score = {s: _rates_json(c, row, s) for s in c.rate_scores}
            rows.append(
                {
                    "model": row.model,
                    "grader": row.grader,
                    "logs": [lg.path for lg in row.logs],
                    "rates": {s: r for s, (r, _) in per_score.items()},
                    "differences": {s: d for s, (_, d) in per_score.items()},
                }
            )
        configs.append(
            {
                "task": c.task,
                "task_version": c.task_version,
                "versions": c.versions,
                "task_args": c.args,
                "differs": c.differs,
                "group_keys": {
                    s: {"group_key": sp.group_key, "within": sp.within, "cluster": sp.cluster}
                    for s, sp in c.specs.items()
                },
                "rows": rows,
                "other_scores": {
                    s: {lg.path: {m.name: _num(m.value) for m in _metrics_of(lg, s)} for lg in c.logs}
                    for s in c.other_scores
                },
            }
        )
    return {
        "warnings": pooled.warnings,
        "excluded_logs": [
            {"path": lg.path, "status": lg.status, "error": lg.error} for lg in pooled.excluded
        ],
        "configs": configs,
    }


def _metrics_of(log: LogRecord, score: str) -> list[Any]:
    sc = log.score(score)
    return sc.metrics if sc else []
