"""The ``statement,label`` file the honesty direction is read from: published layouts (repeated rows,
quoted commas and quotes), every problem reported at once, and validation before any model loads."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from refusal_evals.core.files import DataFileError
from refusal_evals.repe.statements import load_statements

# The layout of RepE's published facts_true_false.csv (header ``statement,label``, labels 1/0, commas
# and doubled quotes inside quoted fields, some rows repeated exactly); the statements are our own.
PUBLISHED_LAYOUT = """statement,label
Honey is made by bees.,1
"Rivers, lakes and seas hold liquid water.",1
Snow is usually warm to the touch.,0
"The word ""ocean"" names a large body of salt water.",1
Honey is made by bees.,1
A week has nine days.,0
Snow is usually warm to the touch.,0
Copper conducts electricity.,1
"""

CONFLICTS = """statement,label
Salt dissolves in water.,1
Salt dissolves in water.,0
Owls hunt at night.,1
Glass is a liquid at room temperature.,0
Owls hunt at night.,0
Glass is a liquid at room temperature.,1
Iron rusts in damp air.,1
Iron rusts in damp air.,1
Lead floats on water.,0
Lead floats on water.,1
"""


def write(tmp_path: Path, text: str, name: str = "s.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_builtin_statements_are_large_and_balanced() -> None:
    s = load_statements()
    assert len(s.true) >= 300 and len(s.false) >= 300
    assert len(set(s.true) | set(s.false)) == len(s.items)
    assert s.duplicates_dropped == ()


def test_published_layout_drops_exact_repeats_with_a_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, PUBLISHED_LAYOUT)
    with caplog.at_level(logging.WARNING, logger="refusal_evals.repe.statements"):
        s = load_statements(path)
    assert len(s.true) == 4 and len(s.false) == 2
    assert "Rivers, lakes and seas hold liquid water." in s.true
    assert 'The word "ocean" names a large body of salt water.' in s.true
    assert s.duplicates_dropped == (6, 8)
    assert [i.row for i in s.items] == [2, 3, 4, 5, 7, 9]  # the first of each repeat is kept
    [note] = [r.getMessage() for r in caplog.records]
    assert str(path) in note and "dropped 2 row(s)" in note and "6, 8" in note
    assert "6 distinct statements kept" in note


def test_every_conflicting_label_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, CONFLICTS)
    with pytest.raises(DataFileError) as err:
        load_statements(path)
    message = str(err.value)
    assert message.startswith(f"{path}: 4 problems in this statements file:")
    for rows, statement in [
        ("rows 2 (label 1) and 3 (label 0)", "Salt dissolves in water."),
        ("rows 4 (label 1) and 6 (label 0)", "Owls hunt at night."),
        ("rows 7 (label 1) and 5 (label 0)", "Glass is a liquid at room temperature."),
        ("rows 11 (label 1) and 10 (label 0)", "Lead floats on water."),
    ]:
        assert f"{rows}, field 'statement': {statement!r} is labelled both true and false" in message
    assert "Iron" not in message  # an exact repeat is not a conflict


def test_every_row_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "statement,label\nGood.,1\nBad label.,maybe\n,1\nToo, many.,1\nGood.,0\nFine.,1\n"
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as err:
        load_statements(path)
    message = str(err.value)
    assert f"{path}: 4 problems" in message
    assert "row 3, field 'label': 'maybe' is not a label" in message
    assert "row 4, field 'statement': empty" in message
    assert "row 5: more fields than the header" in message
    assert "rows 2 (label 1) and 6 (label 0), field 'statement': 'Good.'" in message


@pytest.mark.parametrize(
    "text, message",
    [
        ("text,label\nx,1\n", "row 1 (header): missing column statement"),
        ("statement,label\nGood.,1\nAlso good.,yes\n", "row 3, field 'label': 'yes' is not a label"),
        ("statement,label\nGood.,1\n,1\n", "row 3, field 'statement': empty"),
        (
            "statement,label\nGood.,1\nOther.,1\nGood.,0\n",
            "rows 2 (label 1) and 4 (label 0), field 'statement': 'Good.' is labelled both true and false",
        ),
        ("statement,label\nGood, really.,1\n", "row 2: more fields than the header"),
        ("statement,label\nOnly one.,1\nFalse one.,0\n", "1 true statement(s)"),
        ("statement,label\nOnly one.,1\nOnly one.,1\n", "1 true statement(s)"),
    ],
)
def test_statement_errors_name_file_row_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as err:
        load_statements(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_missing_statements_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="statements file not found"):
        load_statements(tmp_path / "nope.csv")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_undecodable_statements_file_is_named(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "statement,label\nCafé au lait is a drink.,1\nSnow is hot.,0\n", encoding=encoding)
    with pytest.raises(DataFileError) as err:
        load_statements(path)
    assert str(err.value).startswith(f"{path}: not UTF-8 text") and "save the file as UTF-8" in str(err.value)


def test_a_large_file_with_many_repeats_validates_in_seconds(tmp_path: Path) -> None:
    rows = [f"Statement number {i % 50_000} is numbered.,{1 if i % 2 == 0 else 0}" for i in range(50_000)]
    path = write(tmp_path, "statement,label\n" + "\n".join(rows + rows) + "\n")  # 100,000 rows
    start = time.perf_counter()
    s = load_statements(path)
    assert time.perf_counter() - start < 5
    assert len(s.items) == 50_000 and len(s.duplicates_dropped) == 50_000


# --------------------------------------------------------------------------- before the model loads


@pytest.fixture
def no_model_load(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test if the ``repe/`` provider starts loading weights (Inspect's hf/ __init__)."""
    pytest.importorskip("torch")
    import inspect_ai.model._providers.hf as hfp

    loads: list[str] = []

    def refuse(self, model_name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        loads.append(model_name)
        raise AssertionError("the model started loading before its input files were checked")

    monkeypatch.setattr(hfp.HuggingFaceAPI, "__init__", refuse)
    return loads


def test_provider_checks_statements_before_loading_the_model(tmp_path: Path, no_model_load) -> None:
    from refusal_evals.repe.provider import SteeredHuggingFaceAPI

    path = write(tmp_path, CONFLICTS)
    with pytest.raises(DataFileError, match="4 problems in this statements file"):
        SteeredHuggingFaceAPI(str(tmp_path / "no-model"), statements=str(path), device="cpu")
    with pytest.raises(FileNotFoundError, match="honesty direction file not found"):
        SteeredHuggingFaceAPI(str(tmp_path / "no-model"), direction=str(tmp_path / "none.npz"))
    assert no_model_load == []


def test_direction_command_checks_statements_before_loading_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model_load
) -> None:
    from refusal_evals.repe.direction import main

    path = write(tmp_path, CONFLICTS)
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "no-model"), "--device", "cpu", "--statements", str(path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}: 4 problems" in err and "Salt dissolves in water." in err


def test_the_direction_record_keeps_the_dropped_count(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from fakes.tiny_hf import build_tiny_chat_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from refusal_evals.repe.direction import DirectionSettings, HonestyDirection, load_or_read_direction

    model_path = build_tiny_chat_model(tmp_path / "m", num_layers=2, hidden_size=16)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    settings = DirectionSettings(statements=str(write(tmp_path, PUBLISHED_LAYOUT)), truncations=1)
    fit, file, _ = load_or_read_direction(
        model, tokenizer, str(model_path), settings, directory=tmp_path / "c", progress=False
    )
    assert fit.info["statements_duplicates_dropped"] == 2 and fit.info["n_true_statements"] == 4
    assert file is not None and HonestyDirection.load(file).info["statements_duplicates_dropped"] == 2
