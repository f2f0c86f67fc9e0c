"""The log viewer and the HTML report in a real (headless) browser.

Builds ``inspect view bundle`` from a car_sales log, serves it on a loopback port, and checks in
Chromium that the task, a metric and a sample's content render and that samples filter by
condition; then opens the HTML report. Screenshots are kept under ``test-artifacts/`` (git-ignored).
Skipped, with the reason, only when no Chromium is installed (Debian package ``chromium``).
"""

import functools
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser import Browser, find_chromium
from report_logs import car_sales_log

from refusal_evals.report import write_report

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: ANN002
        pass


@pytest.fixture
def served(tmp_path):
    """``(log, url of the viewer bundle, log file name)`` for a fresh car_sales log."""
    log = car_sales_log(tmp_path / "logs", condition="all")
    bundle = tmp_path / "bundle"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "inspect_ai",
            "view",
            "bundle",
            "--log-dir",
            str(tmp_path / "logs"),
            "--output-dir",
            str(bundle),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (bundle / "index.html").is_file()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(bundle)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield log, f"http://127.0.0.1:{server.server_address[1]}/", Path(log.location).name
    finally:
        server.shutdown()
        server.server_close()


def _keep(shots: list[Path]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for shot in shots:
        assert shot.stat().st_size > 10_000, f"{shot} looks blank"
        shutil.copy(shot, ARTIFACTS / shot.name)


def test_sample_metadata_lets_the_viewer_filter_by_condition(served):
    log, _, _ = served
    assert {s.metadata["condition"] for s in log.samples} == {"natural", "refusal", "rebuttal"}
    score = next(s for s in log.samples if s.metadata["condition"] == "refusal").scores["roleplay_judge"]
    assert "ANSWER" in score.explanation
    assert score.metadata["condition"] == "refusal" and score.metadata["prompt_versions"]


def test_viewer_bundle_and_report_render_in_chromium(served, tmp_path):
    log, url, name = served
    shots = []
    with Browser(CHROMIUM) as browser:
        # the log: task, model, a score with its metric, the samples
        browser.goto(url)
        text = browser.wait_for_text(
            ["refusal_evals/car_sales", "mockllm/model", "undesired", "civic-flood-refusal", "12 Samples"]
        )
        assert "unscored_by_group" in text.lower() or "group_rates" in text.lower()
        shots.append(browser.screenshot(tmp_path / "viewer_log.png"))

        # filter the samples by condition (sample metadata)
        browser.evaluate("document.querySelector('.cm-content').focus()")
        browser.call("Input.insertText", session=True, text='metadata.condition == "refusal"')
        text = browser.wait_for_text(["4 / 12 Samples", "civic-flood-refusal"])
        assert "civic-flood-natural" not in text and "civic-flood-rebuttal" not in text
        shots.append(browser.screenshot(tmp_path / "viewer_filter_refusal.png"))

        # one sample: the system prompt, the injected refusal (marked in message metadata)
        browser.goto(f"{url}#/logs/{name}/samples/sample/civic-flood-refusal/1/messages")
        text = browser.wait_for_text(
            ["DriveNow Motors", "I'm sorry, but I can't help with that", "injected", "<reasoning>"]
        )
        shots.append(browser.screenshot(tmp_path / "viewer_sample.png"))

        # the HTML report: tables and an embedded plot
        report = write_report([log.location], tmp_path / "report")
        browser.goto(report.html.as_uri())
        browser.wait_for_text(["refusal_evals/car_sales", "undesired", "refusal - rebuttal", "mockllm/model"])
        loaded = browser.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert loaded and all(loaded)
        shots.append(browser.screenshot(tmp_path / "report.png", full_page=True))
    _keep(shots)
