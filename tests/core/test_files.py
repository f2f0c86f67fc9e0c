"""Hostile data files are refused in one message naming the file: alias bombs, deep nesting, files
over the size limit, text that is not UTF-8; legitimate anchors (real_estate.yaml) still load."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from refusal_evals.cli import main
from refusal_evals.core import files
from refusal_evals.core.files import MAX_ALIASES, DataFileError, read_yaml
from refusal_evals.roleplay.scenarios import load_scenario


def alias_bomb() -> str:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(20):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(DataFileError, match=rf"bomb.yaml: line \d+: more than {MAX_ALIASES} aliases"):
        read_yaml(path)
    assert time.perf_counter() - start < 2


def test_a_few_anchors_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", encoding="utf-8")
    assert read_yaml(path) == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}
    assert len(load_scenario("real_estate").variants) == 10  # uses anchors and merge keys


def test_deep_nesting_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 20000 + "]" * 20000 + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"deep.yaml: line 1: nested more than 64 levels deep"):
        read_yaml(path)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_text_that_is_not_utf8_names_the_file(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / f"{encoding}.yaml"
    path.write_text("name: caf\u00e9\n", encoding=encoding)
    with pytest.raises(DataFileError, match=rf"{encoding}.yaml: not UTF-8 text"):
        read_yaml(path)


def test_size_limit_is_stated_and_enforced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_BYTES", 1024 * 1024)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (1024 * 1024 + 10) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"big.yaml: 1,048,590 bytes; data files are limited to 1 MiB"):
        read_yaml(path)


def test_gate_exits_2_on_an_alias_bomb_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(alias_bomb() + "rules: []\n", encoding="utf-8")
    (tmp_path / "logs").mkdir()
    code = main(["gate", str(tmp_path / "logs"), "--policy", str(policy)])
    err = capsys.readouterr().err
    assert code == 2
    assert "aliases" in err and len(err) < 2000
