"""`refusal-evals` with paths of the wrong kind, undecodable files and logs with other names: one line
naming the path and exit 2 (never a traceback, never the gate's "fail" exit 1), and every log read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai.log import write_eval_log
from report_logs import judge_task, synthetic_log

from refusal_evals.cli import main

POLICY = "checks:\n  require_success: true\n"


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli_paths")
    synthetic_log(judge_task(), root / "logs")
    return root / "logs"


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_gate_junit_directory_exits_2_before_reading_logs(log_dir, policy, tmp_path, capsys) -> None:
    junit = tmp_path / "reports"
    junit.mkdir()
    code, out, err = run(capsys, "gate", log_dir, "--policy", policy, "--junit", junit)
    assert code == 2 and out == ""
    assert one_line(err) == (
        f"refusal-evals gate: --junit {junit}: is a directory; give the XML file to write, "
        f"e.g. {junit / 'gate.xml'}"
    )


def test_gate_junit_under_a_file_exits_2_naming_the_path(log_dir, policy, tmp_path, capsys) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    code, _, err = run(capsys, "gate", log_dir, "--policy", policy, "--junit", blocker / "gate.xml")
    assert code == 2 and one_line(err).startswith(f"refusal-evals gate: {blocker}")


@pytest.mark.parametrize("command", ["report", "demo"])
def test_out_existing_file_exits_2(log_dir, tmp_path, capsys, command: str) -> None:
    out_file = tmp_path / "report.txt"
    out_file.write_text("keep me")
    args = [command, log_dir, "--out", out_file] if command == "report" else [command, "--out", out_file]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert one_line(err) == (
        f"refusal-evals {command}: --out {out_file}: is a file; "
        "give the directory to write into (created if missing)"
    )
    assert out_file.read_text() == "keep me"


@pytest.mark.parametrize(
    "name, data",
    [
        ("latin1.yaml", POLICY.replace("checks:", "# café\nchecks:").encode("latin-1")),
        ("utf16.yaml", POLICY.encode("utf-16")),  # with its byte-order mark
        ("binary.yaml", bytes(range(256)) * 4),
    ],
    ids=["latin-1", "utf-16", "binary"],
)
def test_undecodable_policy_exits_2_naming_the_file(
    log_dir, tmp_path, capsys, name: str, data: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, "gate", log_dir, "--policy", path)
    assert code == 2 and out == ""
    line = one_line(err)
    assert line.startswith(f"refusal-evals gate: {path}: ") and "UTF-8" in line


@pytest.mark.parametrize("name", ["binary.eval", "binary.json", "utf16.json"])
@pytest.mark.parametrize("command", ["report", "gate"])
def test_undecodable_log_exits_2_naming_the_file(tmp_path, policy, capsys, name: str, command: str) -> None:
    path = tmp_path / name
    path.write_bytes('{"version": 2}'.encode("utf-16") if "utf16" in name else bytes(range(256)) * 4)
    extra = ["--policy", policy] if command == "gate" else ["--out", tmp_path / "out"]
    code, out, err = run(capsys, command, path, *extra)
    assert code == 2 and out == ""
    assert one_line(err).startswith(f"refusal-evals {command}: {path}: cannot read this Inspect log")


def renamed_json_log(log_dir: Path, target: Path) -> Path:
    """The log in ``log_dir`` written again as JSON under a name that is not a timestamp."""
    from inspect_ai.log import read_eval_log

    [source] = sorted(log_dir.glob("*.eval"))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(read_eval_log(str(source)), str(target), format="json")
    return target


def test_json_log_with_any_name_is_read(log_dir, policy, tmp_path, capsys) -> None:
    mine = renamed_json_log(log_dir, tmp_path / "runs" / "judge-run.json")
    (tmp_path / "runs" / "results.json").write_text(json.dumps({"not": "a log"}))  # not a log: left out
    code, out, err = run(capsys, "gate", mine, "--policy", policy)  # named explicitly
    assert code == 0 and "(1 log(s))" in out, err
    code, out, err = run(capsys, "gate", tmp_path / "runs", "--policy", policy)  # found in a directory
    assert code == 0 and "(1 log(s))" in out, err
    code, out, err = run(capsys, "report", tmp_path / "runs", "--out", tmp_path / "rep")
    assert code == 0, err
    data = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert str(mine) in json.dumps(data)


def test_entry_point_prints_one_line_and_exits_2(log_dir, policy, tmp_path) -> None:
    junit = tmp_path / "junit-dir"
    junit.mkdir()
    cmd = [sys.executable, "-m", "refusal_evals.cli", "gate", str(log_dir), "--policy", str(policy)]
    proc = subprocess.run(
        [*cmd, "--junit", str(junit)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_line(proc.stderr).startswith(f"refusal-evals gate: --junit {junit}: is a directory")
