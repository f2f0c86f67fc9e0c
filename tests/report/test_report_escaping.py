"""Strings from logs (model name, task arguments, versions) are inert in report.md and report.html."""

from __future__ import annotations

from pathlib import Path

from report_logs import car_sales_log, rewrite

from refusal_evals.report import write_report

INJECTED = '<img src=x onerror="alert(1)">[click](javascript:alert(2))'


def test_injected_log_strings_are_escaped_in_markdown_and_html(tmp_path: Path) -> None:
    log = car_sales_log(tmp_path / "src")

    def inject(copy) -> None:  # noqa: ANN001
        copy.eval.model = f"mockllm/{INJECTED}"
        copy.eval.task_args["variants"] = INJECTED

    path = rewrite(log, tmp_path / "logs" / "injected.eval", inject)
    result = write_report([path], tmp_path / "report")
    md = result.markdown.read_text(encoding="utf-8")
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x" in md
    assert "](javascript:" not in md  # no Markdown link (as HTML text it is inert)
    for text in (md, html):
        assert "<img src=x" not in text
