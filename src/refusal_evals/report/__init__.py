"""``refusal-evals report``: tables, plots, Markdown and HTML from Inspect logs of any task."""

from refusal_evals.report.aggregate import Config, Counts, Pooled, pool
from refusal_evals.report.read import LogReadError, LogRecord, find_logs, read_log, read_logs
from refusal_evals.report.render import ReportResult, write_report, write_report_from_logs

__all__ = [
    "Config",
    "Counts",
    "LogReadError",
    "LogRecord",
    "Pooled",
    "ReportResult",
    "find_logs",
    "pool",
    "read_log",
    "read_logs",
    "write_report",
    "write_report_from_logs",
]
