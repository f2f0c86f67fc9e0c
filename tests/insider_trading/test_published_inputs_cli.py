"""From the command line (issue 14): a published input that cannot be read right ends ``inspect eval``
with exit 1 and only its message (Inspect prints a ``PrerequisiteError`` without a traceback), before
any model call: no log is written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_insider_published import published

DATA = Path(__file__).parents[1] / "data" / "harmful_requests"


@pytest.mark.parametrize(
    ("task", "args", "message"),
    [
        (
            "insider_trading",
            ["-T", "prompt_file={file}"],
            "misalignment_string: cannot tell which stock 'Action Input: Linear Group, buy' buys",
        ),
        (
            "honesty_steering",
            ["-T", "coeffs=0,4"],
            "-T coeffs: c+4 steer the model under test, but mockllm/model",
        ),
        (
            "dishonest_refusal",
            ["-T", f"dataset={DATA / 'custom.csv'}"],
            "line 1 (header): the columns match no known layout; found question, topic, ref",
        ),
    ],
)
def test_cli_refuses_in_one_message(tmp_path, task, args, message):
    file = tmp_path / "ambiguous.json"
    file.write_text(json.dumps(published(misalignment_string="Action Input: Linear Group, buy")))
    logs = tmp_path / "logs"
    done = subprocess.run(
        [sys.executable, "-m", "inspect_ai", "eval", f"refusal_evals/{task}"]
        + [a.format(file=file) for a in args]
        + ["--model", "mockllm/model", "--model-role", "grader=mockllm/model", "--log-dir", str(logs)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "1000"},  # one line: the message is matched whole
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert message in out and "Traceback" not in out
    assert not logs.exists() or not any(logs.iterdir())  # no eval ran: no model call
