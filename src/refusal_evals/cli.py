"""``refusal-evals``: report, gate and demo.

Exit codes of ``gate``: 0 every check and rule passed; 1 at least one failed; 2 the policy is bad,
no log was found, or a log could not be read. ``report`` and ``demo`` exit 2 on such input errors.
A path of the wrong kind (``--junit`` a directory, ``--out`` a file), a file that cannot be read or
written, or one that is not UTF-8 text is an input error too: one line naming the path, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class PathError(Exception):
    """A path given on the command line is of the wrong kind or cannot be read or written."""


def _print_table(header: list[str], rows: list[list[str]], widths: dict[int, int] | None = None) -> None:
    widths = widths or {}
    cols = list(zip(*([header] + rows), strict=True)) if rows else [[h] for h in header]
    size = [min(max(len(str(x)) for x in col), widths.get(i, 60)) for i, col in enumerate(cols)]

    def line(values: list[str]) -> str:
        cells = []
        for i, v in enumerate(values):
            v = str(v)
            if len(v) > size[i]:
                v = v[: size[i] - 1] + "…"
            cells.append(v.ljust(size[i]))
        return "  ".join(cells).rstrip()

    print(line(header))
    print("  ".join("-" * s for s in size))
    for r in rows:
        print(line(r))


def cmd_report(args: argparse.Namespace) -> int:
    from refusal_evals.core.errors import UserError
    from refusal_evals.report import LogReadError, write_report
    from refusal_evals.report.tokens import read_prices

    try:
        prices = read_prices(args.prices) if args.prices else None
        result = write_report(args.logs, args.out, prices=prices)
    except (LogReadError, UserError) as ex:
        print(f"refusal-evals report: {ex}", file=sys.stderr)
        return EXIT_USAGE
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"report: {result.markdown}")
    print(f"        {result.html}")
    print(f"data:   {result.json}")
    for p in result.plots:
        print(f"plot:   {p}")
    return EXIT_OK


def cmd_gate(args: argparse.Namespace) -> int:
    from refusal_evals.gate import PolicyError, evaluate, load_policy, write_junit
    from refusal_evals.report import LogReadError, pool, read_logs

    try:
        policy = load_policy(args.policy)
    except PolicyError as ex:
        print(f"refusal-evals gate: {ex}", file=sys.stderr)
        return EXIT_USAGE
    except UnicodeDecodeError as ex:
        reason = f"not UTF-8 text ({ex.reason} at byte {ex.start}); save it as UTF-8"
        raise PathError(f"{args.policy}: {reason}") from None
    try:
        logs = read_logs(args.logs)
    except LogReadError as ex:
        print(f"refusal-evals gate: {ex}", file=sys.stderr)
        return EXIT_USAGE
    pooled = pool(logs)
    results = evaluate(policy, pooled)
    for w in pooled.warnings:
        print(f"warning: {w}", file=sys.stderr)
    _print_table(
        ["rule", "task", "model", "value", "limit", "verdict", "detail"],
        [[r.rule, r.task, r.model, r.value, r.limit, r.verdict, r.detail] for r in results],
        widths={0: 48, 1: 36, 2: 36, 6: 100},
    )
    failed = [r for r in results if not r.passed]
    verdict = "FAIL" if failed else "PASS"
    print(f"\ngate {verdict}: {len(failed)} of {len(results)} results failed ({len(logs)} log(s))")
    if args.junit:
        path = write_junit(results, args.junit)
        print(f"JUnit XML: {path}")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from refusal_evals.demo import DemoError, run_demo

    try:
        result = run_demo(args.out, tasks=args.task or None, limit=args.limit)
    except DemoError as ex:
        print(f"refusal-evals demo: {ex}", file=sys.stderr)
        return EXIT_USAGE
    for s in result.skipped:
        print(f"skipped: {s}", file=sys.stderr)
    if not result.logs:
        print("refusal-evals demo: no task ran", file=sys.stderr)
        return EXIT_USAGE
    print(f"scripted demo model (not an LLM): {len(result.logs)} log(s) in {result.log_dir}")
    print(f"report: {result.report.markdown}")
    print(f"        {result.report.html}")
    print(f"see the transcripts with: inspect view --log-dir {result.log_dir}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refusal-evals",
        description="Reports, CI gates and an offline demo for refusal-evals Inspect logs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("report", help="tables, plots, report.md and report.html from Inspect logs")
    rep.add_argument("logs", nargs="+", metavar="LOG_OR_DIR", help=".eval/.json logs or directories")
    rep.add_argument("--out", default="report", help="output directory (default: report)")
    rep.add_argument(
        "--prices",
        help="YAML file of US$ per million tokens per model, for a cost column "
        "(e.g. 'openai/gpt-4o: {input: 2.5, output: 10, cache_read: 1.25}'); no built-in prices",
    )
    rep.set_defaults(func=cmd_report)

    gate = sub.add_parser("gate", help="pass/fail a policy on Inspect logs (exit 0 pass, 1 fail, 2 error)")
    gate.add_argument("logs", nargs="+", metavar="LOG_OR_DIR", help=".eval/.json logs or directories")
    gate.add_argument("--policy", required=True, help="policy YAML file (see examples/gate-policy.yaml)")
    gate.add_argument("--junit", help="also write JUnit XML here (one testcase per rule)")
    gate.set_defaults(func=cmd_gate)

    demo = sub.add_parser("demo", help="run every task offline against a scripted demo model, then report")
    demo.add_argument("--out", default="demo", help="output directory (default: demo)")
    demo.add_argument("--task", action="append", help="only this task (repeatable; default: all)")
    demo.add_argument("--limit", type=int, help="at most this many samples per task")
    demo.set_defaults(func=cmd_demo)
    return parser


def check_paths(args: argparse.Namespace) -> None:
    """Output paths of the wrong kind fail before any log is read."""
    junit = getattr(args, "junit", None)
    if junit and Path(junit).is_dir():
        raise PathError(
            f"--junit {junit}: is a directory; give the XML file to write, e.g. {Path(junit, 'gate.xml')}"
        )
    out = getattr(args, "out", None)
    if out and Path(out).exists() and not Path(out).is_dir():
        raise PathError(f"--out {out}: is a file; give the directory to write into (created if missing)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_paths(args)
        return int(args.func(args))
    except PathError as ex:
        message = str(ex)
    except OSError as ex:  # a path of the wrong kind or without permission, met while reading or writing
        message = f"{ex.filename}: {ex.strerror}" if ex.filename else str(ex)
    except UnicodeDecodeError as ex:  # a file read as text that is not UTF-8 (its name is not known here)
        message = f"a file given is not UTF-8 text ({ex.reason} at byte {ex.start}); save it as UTF-8"
    print(f"refusal-evals {args.command}: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
