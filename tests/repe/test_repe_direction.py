"""Honesty direction: statements loader, fitting on synthetic states with a planted direction,
default layers, and reading + caching from a tiny random model (CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refusal_evals.repe.direction import (
    DirectionSettings,
    HonestyDirection,
    contrast_pairs,
    default_layers,
    first_components,
    fit_direction,
    split_pairs,
    truncation_points,
)
from refusal_evals.repe.statements import load_statements

STATEMENTS = """statement,label
The capital of France is Paris.,1
The capital of France is Lyon.,0
Water boils at 100 degrees Celsius at sea level.,1
Bees make honey.,1
Spiders make honey.,0
A triangle has three sides.,1
"A dozen is twelve, not ten.",1
The Sun orbits the Earth.,0
"""


def write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- statements
# (the file's validation: tests/repe/test_repe_statements.py)


def test_user_statements_csv(tmp_path: Path) -> None:
    s = load_statements(write(tmp_path, STATEMENTS))
    assert len(s.true) == 5 and len(s.false) == 3
    assert "A dozen is twelve, not ten." in s.true


# --------------------------------------------------------------------------- fitting (synthetic)


def planted(seed: int, n_pairs: int, n_layers: int, hidden: int, signal: list[float]):
    """Pairs whose honest - untruthful difference is signal[l] * u[l] + noise; u[l] unit vectors."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n_layers, hidden))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    base = rng.normal(size=(n_pairs, n_layers, hidden)) * 3  # shared by both members of a pair
    s = np.asarray(signal)[None, :, None]
    honest = base + s / 2 * u[None] + rng.normal(size=base.shape) * 0.3
    untruthful = base - s / 2 * u[None] + rng.normal(size=base.shape) * 0.3
    return honest, untruthful, u


def test_fit_recovers_planted_direction_sign_and_accuracy() -> None:
    signal = [0.0, 1.0, 4.0, -4.0]  # layer 0: nothing; layer 3: planted with the opposite sign
    h, t, u = planted(0, 400, 4, 64, signal)
    fit = fit_direction(h[:300], t[:300], h[300:], t[300:])
    assert fit.directions.shape == (4, 64) and fit.directions.dtype == np.float32
    assert np.allclose(np.linalg.norm(fit.directions, axis=1), 1, atol=1e-5)
    cos = np.einsum("lh,lh->l", fit.directions, u)
    # recovered up to noise, with the honest side positive: +u where honest = +u, -u where it is -u
    assert cos[2] > 0.99 and cos[3] < -0.99 and cos[1] > 0.9
    assert fit.accuracy[2] == 1.0 and fit.accuracy[3] == 1.0 and fit.accuracy[1] > 0.9
    assert 0.3 < fit.accuracy[0] < 0.7  # no signal: chance on held-out pairs
    assert fit.n_train_pairs == 300 and fit.n_test_pairs == 100
    # centres: the midpoint of the two classes along the direction
    mid = ((h[:300] + t[:300]) / 2).mean(axis=0)
    assert np.allclose(fit.centers, np.einsum("lh,lh->l", mid, fit.directions), atol=1e-4)


def test_sign_follows_the_labels() -> None:
    h, t, _ = planted(1, 50, 2, 16, [3.0, 3.0])
    a = first_components(h - t)
    b = first_components(t - h)
    assert np.allclose(a, -b, atol=1e-6)


def test_default_layers_pick_best_middle_window() -> None:
    acc = [1.0] * 4 + [0.6] * 4 + [0.7, 0.9, 0.95, 0.97, 0.96, 0.9, 0.7, 0.6] + [0.6] * 8 + [1.0] * 8
    # 32 layers: window of 8 searched inside layers 8-23; the 0.9+ block dominates
    chosen = default_layers(acc)
    assert len(chosen) == 8 and chosen[0] >= 8 and chosen[-1] <= 23
    assert {9, 10, 11, 12, 13} <= set(chosen)
    assert default_layers([0.5, 0.9]) == [1]  # fewer than 4 layers: any layer


def test_truncation_points_and_split() -> None:
    assert truncation_points(20, 4) == [1, 6, 10, 15]
    assert truncation_points(3, 4) == [1]
    from refusal_evals.repe.direction import ContrastPair

    pairs = [ContrastPair(s, (1, s), (2, s)) for s in range(10) for _ in range(3)]
    train, test = split_pairs(pairs, 0.2, seed=0, max_train_pairs=10)
    assert len(train) == 10 and len(test) == 6
    assert not {p.statement for p in train} & {p.statement for p in test}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    h, t, _ = planted(2, 40, 3, 8, [1.0, 2.0, 3.0])
    fit = fit_direction(h[:30], t[:30], h[30:], t[30:], info={"model": "synthetic"})
    path = fit.save(tmp_path / "d")
    back = HonestyDirection.load(path)
    assert np.array_equal(back.directions, fit.directions) and back.info["model"] == "synthetic"
    summary = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert summary["n_layers"] == 3 and len(summary["heldout_accuracy"]) == 3
    with pytest.raises(FileNotFoundError):
        HonestyDirection.load(tmp_path / "missing.npz")


# --------------------------------------------------------------------------- tiny model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    from fakes.tiny_hf import build_tiny_chat_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "m", num_layers=4, hidden_size=32)
    model = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    tok = AutoTokenizer.from_pretrained(path)
    return path, model, tok


def test_contrast_pairs_share_the_statement_tokens(tiny) -> None:
    _, _, tok = tiny
    pairs = contrast_pairs(tok, ["The capital of France is Paris and it is large."], 3)
    assert len(pairs) >= 2
    for p in pairs:
        k = len(p.honest) - len(contrast_pairs(tok, ["x"], 1)[0].honest) + 1
        assert p.honest[-k:] == p.untruthful[-k:]  # same truncated statement
        assert p.honest[:-k] != p.untruthful[:-k]  # different instruction
    assert "honest" in tok.decode(list(pairs[0].honest)) and "untruthful" in tok.decode(
        list(pairs[0].untruthful)
    )


def test_read_direction_shapes_and_cache(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from refusal_evals.repe import direction as d

    path, model, tok = tiny
    statements = write(tmp_path, STATEMENTS)
    settings = DirectionSettings(statements=str(statements), truncations=2, batch_size=4)
    calls = []
    real = d.read_direction
    monkeypatch.setattr(d, "read_direction", lambda *a, **k: calls.append(1) or real(*a, **k))

    fit, file, cached = d.load_or_read_direction(
        model, tok, str(path), settings, directory=tmp_path / "c", progress=False
    )
    assert not cached and file is not None and file.is_file() and file.with_suffix(".json").is_file()
    assert fit.directions.shape == (4, 32) and fit.accuracy.shape == (4,) and fit.centers.shape == (4,)
    assert fit.n_train_pairs > 0 and fit.n_test_pairs > 0
    assert fit.info["statements_sha256"] and fit.info["settings"]["truncations"] == 2
    assert fit.info["statements_duplicates_dropped"] == 0

    again, file2, cached2 = d.load_or_read_direction(
        model, tok, str(path), settings, directory=tmp_path / "c"
    )
    assert cached2 and file2 == file and np.array_equal(again.directions, fit.directions) and len(calls) == 1

    # other settings or another statements file: another key, read again
    other = DirectionSettings(statements=str(statements), truncations=3, batch_size=4)
    _, file3, cached3 = d.load_or_read_direction(
        model, tok, str(path), other, directory=tmp_path / "c", progress=False
    )
    assert not cached3 and file3 != file and len(calls) == 2
    # batch size does not change the key
    bigger = DirectionSettings(statements=str(statements), truncations=2, batch_size=16)
    assert d.load_or_read_direction(model, tok, str(path), bigger, directory=tmp_path / "c")[2]

    # the environment variable chooses the folder when none is given
    monkeypatch.setenv(d.CACHE_ENV, str(tmp_path / "env"))
    _, file4, _ = d.load_or_read_direction(model, tok, str(path), settings, progress=False)
    assert file4 is not None and file4.parent == tmp_path / "env"


def test_reading_is_independent_of_batching(tiny, tmp_path: Path) -> None:
    """Left padding with position ids from the mask: batch size does not change the states."""
    from refusal_evals.repe.direction import read_direction

    _, model, tok = tiny
    statements = write(tmp_path, STATEMENTS)
    a = read_direction(
        model, tok, DirectionSettings(statements=str(statements), batch_size=1), progress=False
    )
    b = read_direction(
        model, tok, DirectionSettings(statements=str(statements), batch_size=7), progress=False
    )
    assert np.allclose(a.directions, b.directions, atol=1e-4)
    assert np.allclose(a.centers, b.centers, atol=1e-4)


def test_registry_import_is_cheap() -> None:
    """The entry point imports no torch/transformers (it must load without the hf extra)."""
    code = (
        "import sys, refusal_evals._registry, refusal_evals.repe.direction, refusal_evals.repe.plots; "
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "sys.exit(f'imported {bad}' if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout


def test_command_line_reads_prints_and_saves(
    tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from refusal_evals.repe.direction import main

    path, _, _ = tiny
    statements = write(tmp_path, STATEMENTS)
    args = [str(path), "--device", "cpu", "--statements", str(statements), "--cache", str(tmp_path / "c")]
    assert main([*args, "--save", str(tmp_path / "copy.npz")]) == 0
    out = capsys.readouterr().out
    assert "saved to" in out and "held-out accuracy" in out and "default layer" in out
    assert HonestyDirection.load(tmp_path / "copy.npz").n_layers == 4
    assert main(args) == 0 and "loaded from" in capsys.readouterr().out
